import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blockingPdbs, nodeInfo, selectorMatches, slimNode, type LabelSelector } from "./inputs.js";
import { ago, node, pdb, pod } from "../../test/kit/status-fixtures.js";

describe("selectorMatches (Kubernetes label-selector semantics)", () => {
  const labels = { app: "web", tier: "front" };
  const cases: [string, LabelSelector | null | undefined, boolean][] = [
    ["null selector matches nothing", null, false],
    ["absent selector matches nothing", undefined, false],
    ["empty selector matches everything", {}, true],
    ["matchLabels equal", { matchLabels: { app: "web" } }, true],
    ["matchLabels differ", { matchLabels: { app: "db" } }, false],
    ["matchLabels all must hold", { matchLabels: { app: "web", tier: "back" } }, false],
    ["In", { matchExpressions: [{ key: "app", operator: "In", values: ["db", "web"] }] }, true],
    ["In, label absent", { matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }, false],
    ["NotIn", { matchExpressions: [{ key: "app", operator: "NotIn", values: ["web"] }] }, false],
    ["NotIn, label absent", { matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] }, true],
    ["Exists", { matchExpressions: [{ key: "tier", operator: "Exists" }] }, true],
    ["DoesNotExist", { matchExpressions: [{ key: "tier", operator: "DoesNotExist" }] }, false],
    ["unknown operator", { matchExpressions: [{ key: "app", operator: "Gt", values: ["1"] }] }, false],
    [
      "labels and expressions together",
      { matchLabels: { app: "web" }, matchExpressions: [{ key: "tier", operator: "In", values: ["front"] }] },
      true,
    ],
  ];
  for (const [name, selector, want] of cases) {
    it(name, () => assert.equal(selectorMatches(selector, labels), want));
  }
  it("a pod without labels matches only the empty selector", () => {
    assert.equal(selectorMatches({}, undefined), true);
    assert.equal(selectorMatches({ matchLabels: { a: "b" } }, undefined), false);
  });
});

describe("blockingPdbs", () => {
  it("names every exhausted PDB covering a pod the drain must evict, once, sorted", () => {
    const got = blockingPdbs({
      pods: [
        pod("web", "web-1", { app: "web" }),
        pod("web", "web-0", { app: "web" }),
        pod("web", "done", { app: "web" }, { status: { phase: "Succeeded" } }),
        pod("web", "leaving", { app: "web" }, { metadata: { deletionTimestamp: ago(1) } }),
        pod(
          "web",
          "mirror",
          { app: "web" },
          { metadata: { annotations: { "kubernetes.io/config.mirror": "x" } } },
        ),
        pod("db", "db-0", { app: "db" }),
      ],
      pdbs: [
        pdb("web", "web-b", { app: "web" }, 0),
        pdb("web", "web-a", {}, 0),
        pdb("db", "db", { app: "db" }, 2),
      ],
    });
    assert.deepEqual(got, {
      pdbs: [
        { namespace: "web", name: "web-a" },
        { namespace: "web", name: "web-b" },
      ],
      pods: [
        { namespace: "web", name: "web-0" },
        { namespace: "web", name: "web-1" },
      ],
    });
  });

  it("nothing blocks when disruptions are allowed or nothing matches", () => {
    const pods = [pod("web", "web-0", { app: "web" })];
    assert.deepEqual(blockingPdbs({ pods, pdbs: [pdb("web", "p", { app: "web" }, 1)] }), {
      pdbs: [],
      pods: [],
    });
    assert.deepEqual(blockingPdbs({ pods, pdbs: [pdb("web", "p", { app: "db" }, 0)] }), {
      pdbs: [],
      pods: [],
    });
    assert.deepEqual(blockingPdbs({ pods: [], pdbs: [pdb("web", "p", {}, 0)] }), { pdbs: [], pods: [] });
  });
});

describe("nodeInfo / slimNode", () => {
  it("reads labelled, cordoned and Ready", () => {
    assert.deepEqual(nodeInfo(node("a", { cordoned: true })), {
      name: "a",
      labelled: true,
      cordoned: true,
      cordonedByBrupop: false,
      ready: true,
      notReadySince: null,
    });
    assert.deepEqual(nodeInfo(node("b", { ready: false, labelled: false, readySince: ago(5) })), {
      name: "b",
      labelled: false,
      cordoned: false,
      cordonedByBrupop: false,
      ready: false,
      notReadySince: ago(5),
    });
    assert.equal(nodeInfo(node("c", { ready: null }))?.ready, null);
    assert.equal(nodeInfo({ metadata: {} }), undefined);
  });

  it("slimNode keeps what nodeInfo and the policy read (every label: groups match any), and drops heartbeats", () => {
    const full = node("a", { cordoned: true, ready: false, readySince: ago(5) });
    full.metadata = { ...full.metadata, labels: { ...full.metadata?.labels, "kubernetes.io/os": "linux" } };
    const cond = full.status?.conditions?.[0];
    if (cond !== undefined) Object.assign(cond, { lastHeartbeatTime: ago(1), reason: "KubeletNotReady" });
    full.status?.conditions?.push({ type: "MemoryPressure", status: "False" });
    const slim = slimNode(full);
    assert.deepEqual(nodeInfo(slim), nodeInfo(full));
    assert.deepEqual(slim, {
      metadata: {
        name: "a",
        labels: { "bottlerocket.aws/updater-interface-version": "2.0.0", "kubernetes.io/os": "linux" },
      },
      spec: { unschedulable: true },
      status: { conditions: [{ type: "Ready", status: "False", lastTransitionTime: ago(5) }] },
    });
  });
});
