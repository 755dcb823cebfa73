import { test } from "node:test";
import assert from "node:assert/strict";
import { splitIntoLanes, sumSummaries, type ChaosSummary } from "./lanes.js";

test("splitIntoLanes: contiguous blocks covering every seed once, longer blocks first", () => {
  const table: Array<[number, number, number, Array<[number, number]>]> = [
    [
      5000,
      10,
      3,
      [
        [5000, 4],
        [5004, 3],
        [5007, 3],
      ],
    ],
    [
      0,
      9,
      3,
      [
        [0, 3],
        [3, 3],
        [6, 3],
      ],
    ],
    [
      7,
      2,
      4,
      [
        [7, 1],
        [8, 1],
      ],
    ],
    [1, 1, 1, [[1, 1]]],
    [1, 0, 2, []],
  ];
  for (const [seed0, schedules, lanes, want] of table) {
    const got = splitIntoLanes(seed0, schedules, lanes);
    assert.deepEqual(
      got.map((b) => [b.seed, b.schedules]),
      want,
      `${seed0}/${schedules}/${lanes}`,
    );
    const seeds = got.flatMap((b) => Array.from({ length: b.schedules }, (_, i) => b.seed + i));
    assert.deepEqual(
      seeds,
      Array.from({ length: schedules }, (_, i) => seed0 + i),
    );
  }
});

test("splitIntoLanes refuses a lane count below 1", () => {
  assert.throws(() => splitIntoLanes(0, 5, 0), /lanes must be an integer ≥ 1, got 0/);
  assert.throws(() => splitIntoLanes(0, 5, 1.5), /lanes must be an integer/);
});

const part = (over: Partial<ChaosSummary>): ChaosSummary => ({
  schedules: 0,
  nodes: 10,
  seeds: [],
  faultsInjected: 0,
  violations: 0,
  failedSeeds: [],
  ...over,
});

test("sumSummaries adds the counts and sorts the seeds", () => {
  const s = sumSummaries([
    part({ schedules: 2, seeds: [12, 13], faultsInjected: 9, violations: 1, failedSeeds: [13] }),
    part({ schedules: 2, seeds: [10, 11], faultsInjected: 7 }),
  ]);
  assert.deepEqual(s, {
    schedules: 4,
    nodes: 10,
    seeds: [10, 11, 12, 13],
    faultsInjected: 16,
    violations: 1,
    failedSeeds: [13],
  });
});

test("sumSummaries refuses lanes with different node counts", () => {
  assert.throws(
    () => sumSummaries([part({ nodes: 10 }), part({ nodes: 6 })]),
    /different node counts: 10, 6/,
  );
});
