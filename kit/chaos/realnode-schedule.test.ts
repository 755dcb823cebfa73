import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeRealNodeFault, generateRealNodeSchedule } from "./realnode-schedule.js";

describe("generateRealNodeSchedule", () => {
  it("is a function of the seed", () => {
    assert.deepEqual(generateRealNodeSchedule(7, { nodes: 2 }), generateRealNodeSchedule(7, { nodes: 2 }));
    const differ = [1, 2, 3, 4, 5].some(
      (s) =>
        JSON.stringify(generateRealNodeSchedule(s, { nodes: 2 })) !==
        JSON.stringify(generateRealNodeSchedule(0, { nodes: 2 })),
    );
    assert.ok(differ);
  });

  it("gives each node one fault at its drain and one at its boot; two nodes see every kind", () => {
    for (let seed = 0; seed < 100; seed++) {
      const s = generateRealNodeSchedule(seed, { nodes: 2 });
      assert.deepEqual(
        s.faults.map((f) => `${f.node}:${f.at}`),
        ["0:drain", "0:boot", "1:drain", "1:boot"],
      );
      const kinds = new Set(s.faults.map((f) => f.fault.kind));
      assert.deepEqual([...kinds].sort().slice(0, 3), [
        "delete-brupop-pods",
        "kill-containerd",
        "kill-kubelet",
      ]);
      for (const f of s.faults) {
        assert.ok(f.delayMs >= 0 && f.delayMs <= (f.at === "drain" ? 500 : 3_000));
        if (f.fault.kind !== "delete-brupop-pods")
          assert.ok(f.fault.downMs >= 2_000 && f.fault.downMs <= 8_000);
      }
    }
  });

  it("refuses a node count the real-node env cannot start", () => {
    assert.throws(() => generateRealNodeSchedule(1, { nodes: 0 }), RangeError);
    assert.throws(() => generateRealNodeSchedule(1, { nodes: 9 }), RangeError);
  });

  it("describes a fault with the node's name", () => {
    const f = {
      node: 0,
      at: "drain" as const,
      delayMs: 10,
      fault: { kind: "kill-kubelet" as const, downMs: 3000 },
    };
    assert.equal(
      describeRealNodeFault(f, "real-node-0"),
      'kill-kubelet {"node":"real-node-0","at":"drain","delayMs":10,"downMs":3000}',
    );
  });
});
