import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDuration, parsePolicySpec, policyDefaults } from "./policy.js";

describe("UpdatePolicy spec", () => {
  it("an empty spec decodes to the schema's defaults (pause off, UTC, no groups), each field present", () => {
    const want = {
      paused: false,
      maxConcurrent: undefined,
      maxConcurrentPerZone: undefined,
      schedule: undefined,
      timeZone: "UTC",
      failureBudget: undefined,
      groups: [],
      targetVersion: undefined,
    };
    assert.deepEqual(policyDefaults(), want);
    assert.deepEqual(parsePolicySpec({}), { policy: want });
    // A fresh object each time: one decode cannot change the next one's groups.
    assert.notEqual(policyDefaults().groups, policyDefaults().groups);
  });

  it("decodes every field", () => {
    const r = parsePolicySpec({
      paused: true,
      maxConcurrent: "25%",
      maxConcurrentPerZone: 1,
      schedule: "* * 2-4 * * *",
      timeZone: "Europe/Berlin",
      failureBudget: { maxFailures: 2, window: "1h30m" },
      targetVersion: "1.20.0",
    });
    assert.deepEqual(r, {
      policy: {
        paused: true,
        maxConcurrent: { kind: "percent", percent: 25 },
        maxConcurrentPerZone: 1,
        schedule: "* * 2-4 * * *",
        timeZone: "Europe/Berlin",
        failureBudget: { maxFailures: 2, windowMs: 5_400_000 },
        targetVersion: "1.20.0",
        groups: [],
      },
    });
    assert.deepEqual(parsePolicySpec(undefined), {
      policy: {
        paused: false,
        maxConcurrent: undefined,
        maxConcurrentPerZone: undefined,
        schedule: undefined,
        timeZone: "UTC",
        failureBudget: undefined,
        targetVersion: undefined,
        groups: [],
      },
    });
  });

  const bad: [unknown, RegExp][] = [
    [{ paused: "yes" }, /^spec.paused/],
    [{ maxConcurrent: "0%" }, /^spec.maxConcurrent/],
    [{ maxConcurrent: -1 }, /^spec.maxConcurrent/],
    [{ maxConcurrentPerZone: 0 }, /^spec.maxConcurrentPerZone/],
    [{ timeZone: "Nowhere/Atlantis" }, /^spec.timeZone/],
    [{ failureBudget: { maxFailures: 1, window: "soon" } }, /^spec.failureBudget.window/],
    [{ failureBudget: { window: "1h" } }, /^spec.failureBudget.maxFailures/],
    [{ pause: true }, /^spec.pause: unknown field/],
    [{ targetVersion: "latest" }, /^spec.targetVersion/],
    [
      {
        groups: [
          { name: "a", matchLabels: {} },
          { name: "a", matchLabels: {} },
        ],
      },
      /^spec.groups\[1\].name: "a" is used twice/,
    ],
    [{ groups: [{ name: "a", matchLabels: { x: 1 } }] }, /^spec.groups\[0\].matchLabels/],
    [{ groups: [{ name: "a", matchLabels: {}, soak: "soon" }] }, /^spec.groups\[0\].soak/],
  ];
  for (const [spec, want] of bad)
    it(`rejects ${JSON.stringify(spec)}`, () => {
      const r = parsePolicySpec(spec);
      assert.ok("error" in r);
      assert.match(r.error, want);
    });

  it("durations", () => {
    assert.equal(parseDuration("1h"), 3_600_000);
    assert.equal(parseDuration("1d2m"), 86_400_000 + 120_000);
    assert.equal(parseDuration("h"), undefined);
  });
});
