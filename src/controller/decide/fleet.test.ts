import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { brs } from "../../../test/kit/shadows.js";
import type { RawPolicy } from "../../model/policy.js";
import { decideFleet, explainDecision, type FleetInput, type PolicyRead } from "./fleet.js";
import { parseSchedule } from "./schedule.js";

const NOW = new Date("2026-01-10T12:00:00.000Z");
const ALWAYS = parseSchedule("* * * * * * *", NOW);
const policy = (spec: Record<string, unknown>): RawPolicy => ({ metadata: { name: "default" }, spec });
const input = (read: PolicyRead, over: Partial<FleetInput> = {}): FleetInput => ({
  shadows: [brs("a"), brs("b"), brs("c"), brs("d")],
  nodes: [],
  now: NOW,
  schedule: ALWAYS,
  round: null,
  maxConcurrent: 1,
  policy: read,
  ...over,
});

describe("decideFleet: gate, policy over env, holds", () => {
  const table: [string, PolicyRead, { max: unknown; hold: string | undefined; unreadable: boolean }][] = [
    [
      "no policy: the environment's limit, no hold",
      undefined,
      { max: 1, hold: undefined, unreadable: false },
    ],
    [
      "the policy's limit overrides the environment's",
      policy({ maxConcurrent: 3 }),
      { max: 3, hold: undefined, unreadable: false },
    ],
    [
      "a policy without a limit keeps the environment's",
      policy({}),
      { max: 1, hold: undefined, unreadable: false },
    ],
    ["paused: a fleet hold", policy({ paused: true }), { max: 1, hold: "paused", unreadable: false }],
    [
      "unreadable: held as invalid, limit from env",
      { unreadable: "default" },
      { max: 1, hold: "invalid", unreadable: true },
    ],
  ];
  for (const [name, read, want] of table) {
    it(name, () => {
      const d = decideFleet(input(read));
      assert.deepEqual(d.maxConcurrent, want.max);
      assert.equal(d.hold?.rule, want.hold);
      assert.equal(d.unreadable, want.unreadable);
      assert.equal(d.gate.updatesAllowed, true);
    });
  }

  it("a policy hold comes first in every node's explanation", () => {
    const d = decideFleet(input(policy({ paused: true })));
    const why = explainDecision([brs("a")], d, { now: NOW });
    assert.equal(why[0]?.reason.kind, "policy-hold");
  });

  it("without a hold, nodes beyond the limit wait for a slot", () => {
    const d = decideFleet(input(undefined));
    const why = explainDecision(
      [brs("a", { spec: "StagedAndPerformedUpdate", state: "StagedAndPerformedUpdate" }), brs("b")],
      d,
      {
        now: NOW,
      },
    );
    assert.deepEqual(
      why.map((w) => w.reason.kind),
      ["in-progress", "concurrency-full"],
    );
  });
});
