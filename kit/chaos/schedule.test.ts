import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CLASSIC_FAULT_KINDS,
  CONTROL_PLANE_FAULT_KINDS,
  FAULT_KINDS,
  generateSchedule,
  parseKinds,
} from "./schedule.js";

describe("generateSchedule", () => {
  it("is a function of the seed: same seed, same schedule; another seed, another one", () => {
    const a = generateSchedule(1234, { nodes: 6 });
    assert.deepEqual(a, generateSchedule(1234, { nodes: 6 }));
    assert.notDeepEqual(a, generateSchedule(1235, { nodes: 6 }));
    assert.equal(a.seed, 1234);
  });

  it("draws faults in the window, sorted, on existing nodes, within the count bounds", () => {
    for (let seed = 0; seed < 200; seed++) {
      const s = generateSchedule(seed, { nodes: 5, faultWindowMs: 10_000, minFaults: 2, maxFaults: 6 });
      assert.ok(s.faults.length >= 2 && s.faults.length <= 6, `seed ${seed}: ${s.faults.length} faults`);
      let prev = 0;
      for (const { atMs, fault } of s.faults) {
        assert.ok(atMs >= prev && atMs <= 10_000);
        prev = atMs;
        if ("node" in fault) assert.ok(fault.node >= 0 && fault.node < 5);
      }
      assert.equal(s.zones.length, 5);
      assert.ok(s.maxConcurrent >= 1 && s.maxConcurrent <= 3);
      assert.ok(s.workload.minAvailable >= 1 && s.workload.minAvailable < s.workload.pods);
    }
  });

  it("draws every kind of fault over many seeds, and only the kinds asked for", () => {
    const seen = new Set<string>();
    for (let seed = 0; seed < 100; seed++)
      for (const f of generateSchedule(seed, { nodes: 4 }).faults) seen.add(f.fault.kind);
    assert.deepEqual([...seen].sort(), [...FAULT_KINDS].sort());
    for (let seed = 0; seed < 20; seed++) {
      const s = generateSchedule(seed, { nodes: 4, kinds: ["kill-agent"] });
      assert.ok(s.faults.every((f) => f.fault.kind === "kill-agent"));
    }
  });

  it("refuses bad options", () => {
    assert.throws(() => generateSchedule(1, { nodes: 1 }), RangeError);
    assert.throws(() => generateSchedule(1, { nodes: 3, kinds: [] }), RangeError);
    assert.throws(() => generateSchedule(1, { nodes: 3, kinds: ["nope" as "kill-agent"] }), RangeError);
  });

  it("draws cut-agent-connections; the control-plane vocabulary replays the schedules recorded before it (CI seeds)", () => {
    const kinds = (seed: number, opts: Parameters<typeof generateSchedule>[1]): string[] =>
      generateSchedule(seed, opts).faults.map((f) => `${f.fault.kind}@${f.atMs}`);
    // CI's seed 4035 (test/e2e/chaos.test.ts) cuts the agents' connections twice.
    assert.deepEqual(kinds(4035, { nodes: 6, faultWindowMs: 12_000 }), [
      "cut-agent-connections@917",
      "notready-in-drain@4007",
      "cut-agent-connections@7483",
    ]);
    // Seeds 11 and 22 as drawn before the kind existed (CI runs them with CONTROL_PLANE_FAULT_KINDS).
    const before = { nodes: 6, faultWindowMs: 12_000, kinds: CONTROL_PLANE_FAULT_KINDS };
    assert.deepEqual(kinds(11, before), [
      "notready-in-drain@1524",
      "restart-kube-apiserver@3481",
      "hang-call@6033",
    ]);
    assert.deepEqual(kinds(22, before), [
      "kill-agent@153",
      "restart-etcd@1134",
      "kill-agent@2486",
      "cut-connections@5832",
      "cut-connections@8276",
    ]);
    assert.ok(!CONTROL_PLANE_FAULT_KINDS.includes("cut-agent-connections"));
    assert.ok(FAULT_KINDS.includes("cut-agent-connections"));
  });

  it("parses --kinds: all, classic (the first ten, for seeds recorded before) or a list; unknown kinds are an error", () => {
    assert.equal(parseKinds("all"), FAULT_KINDS);
    assert.deepEqual(parseKinds("classic"), CLASSIC_FAULT_KINDS);
    assert.ok(!CLASSIC_FAULT_KINDS.includes("restart-etcd"));
    assert.deepEqual(parseKinds("control-plane"), CONTROL_PLANE_FAULT_KINDS);
    assert.deepEqual(CONTROL_PLANE_FAULT_KINDS.slice(0, 10), CLASSIC_FAULT_KINDS);
    assert.deepEqual(parseKinds("restart-etcd, cut-connections"), ["restart-etcd", "cut-connections"]);
    assert.throws(() => parseKinds("kill-everything"), /unknown fault kind\(s\): kill-everything/);
  });
});
