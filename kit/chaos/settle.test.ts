import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { emptySnapshot, type NodeEvent, type PodEvent, type ShadowEvent } from "./history.js";
import { fleetFingerprint, fleetSettled, ProgressJudge, type SettleVerdict } from "./settle.js";

describe("ProgressJudge", () => {
  it("gives up only after quietMs without a change, or at the cap", () => {
    const rows: { looks: [string, number][]; want: SettleVerdict[] }[] = [
      // a slow fleet that keeps changing is waited for past quietMs
      {
        looks: [
          ["a", 0],
          ["b", 80],
          ["c", 160],
          ["d", 240],
        ],
        want: ["waiting", "waiting", "waiting", "waiting"],
      },
      // a stuck fleet: nothing changes for quietMs
      {
        looks: [
          ["a", 0],
          ["a", 50],
          ["a", 100],
        ],
        want: ["waiting", "waiting", "stalled"],
      },
      // a change resets the quiet period
      {
        looks: [
          ["a", 0],
          ["b", 90],
          ["b", 150],
          ["b", 190],
        ],
        want: ["waiting", "waiting", "waiting", "stalled"],
      },
      // the hard cap, however busy
      {
        looks: [
          ["a", 0],
          ["b", 299],
          ["c", 300],
        ],
        want: ["waiting", "waiting", "cap"],
      },
    ];
    for (const { looks, want } of rows) {
      const j = new ProgressJudge({ startMs: 0, quietMs: 100, capMs: 300 });
      assert.deepEqual(
        looks.map(([f, t]) => j.observe(f, t)),
        want,
        JSON.stringify(looks),
      );
    }
  });

  it("refuses a cap below the quiet period", () => {
    assert.throws(() => new ProgressJudge({ startMs: 0, quietMs: 100, capMs: 50 }), RangeError);
    assert.throws(() => new ProgressJudge({ startMs: 0, quietMs: 0, capMs: 50 }), RangeError);
  });
});

describe("fleetFingerprint", () => {
  const shadow = (state: string): ShadowEvent => ({
    t: 1,
    kind: "shadow",
    node: "n0",
    spec: { state, version: "1.20.0" },
    status: { state: "Idle", version: "1.19.0", target: "1.20.0", crash: 0, failure: null },
  });
  const node = (unschedulable: boolean, t = 1): NodeEvent => ({
    t,
    kind: "node",
    name: "n0",
    unschedulable,
    ready: true,
    lbExcluded: false,
    zone: null,
    brupopAnnotations: [],
  });
  const pod = (deleting: boolean): PodEvent => ({
    t: 1,
    kind: "pod",
    name: "p",
    node: "n0",
    ready: true,
    deleting,
  });

  it("changes with a shadow's state, a cordon or a pod going; not with a repeated event", () => {
    const s = emptySnapshot();
    s.shadows.set("n0", shadow("StagedAndPerformedUpdate"));
    s.nodes.set("n0", node(false));
    s.pods.set("p", pod(false));
    const base = fleetFingerprint(s, ["n0"]);
    s.nodes.set("n0", node(false, 99));
    assert.equal(fleetFingerprint(s, ["n0"]), base, "a heartbeat-like repeat is no progress");
    s.nodes.set("n0", node(true));
    const cordoned = fleetFingerprint(s, ["n0"]);
    assert.notEqual(cordoned, base);
    s.pods.set("p", pod(true));
    const evicting = fleetFingerprint(s, ["n0"]);
    assert.notEqual(evicting, cordoned);
    s.shadows.set("n0", shadow("RebootedIntoUpdate"));
    assert.notEqual(fleetFingerprint(s, ["n0"]), evicting);
  });
});

describe("fleetSettled", () => {
  it("needs every node Idle on the target, uncordoned, not LB-excluded", () => {
    const s = emptySnapshot();
    const sh = (state: string, version: string): ShadowEvent => ({
      t: 1,
      kind: "shadow",
      node: "n0",
      spec: { state, version: "1.20.0" },
      status: { state, version, target: "1.20.0", crash: 0, failure: null },
    });
    const node = (unschedulable: boolean, lbExcluded = false): NodeEvent => ({
      t: 1,
      kind: "node",
      name: "n0",
      unschedulable,
      ready: true,
      lbExcluded,
      zone: null,
      brupopAnnotations: [],
    });
    assert.equal(fleetSettled(s, ["n0"], "1.20.0"), false, "nothing seen");
    s.shadows.set("n0", sh("Idle", "1.20.0"));
    s.nodes.set("n0", node(true));
    assert.equal(fleetSettled(s, ["n0"], "1.20.0"), false, "cordoned");
    s.nodes.set("n0", node(false, true));
    assert.equal(fleetSettled(s, ["n0"], "1.20.0"), false, "LB-excluded");
    s.nodes.set("n0", node(false));
    assert.equal(fleetSettled(s, ["n0"], "1.20.0"), true);
    s.shadows.set("n0", sh("Idle", "1.19.0"));
    assert.equal(fleetSettled(s, ["n0"], "1.20.0"), false, "old version");
  });
});
