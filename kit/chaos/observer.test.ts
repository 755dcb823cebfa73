import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compactNode, compactPod, compactShadow } from "./observer.js";

describe("observer compaction", () => {
  it("a Node: cordon, readiness, LB exclusion, zone and brupop's annotations", () => {
    const e = compactNode(
      "update",
      {
        metadata: {
          name: "n0",
          labels: {
            "topology.kubernetes.io/zone": "zone-b",
            "node.kubernetes.io/exclude-from-external-load-balancers": "True",
          },
          annotations: { "brupop.bottlerocket.aws/cordoned-by-brupop": "true", other: "x" },
        },
        spec: { unschedulable: true },
        status: { conditions: [{ type: "Ready", status: "False" }] },
      },
      5,
    );
    assert.deepEqual(e, {
      t: 5,
      kind: "node",
      name: "n0",
      unschedulable: true,
      ready: false,
      lbExcluded: true,
      zone: "zone-b",
      brupopAnnotations: ["brupop.bottlerocket.aws/cordoned-by-brupop"],
    });
    assert.equal(compactNode("delete", { metadata: { name: "n0" } }, 6).deleted, true);
  });

  it("a shadow: named after its node, spec and status compacted, the failure as text", () => {
    const e = compactShadow(
      "add",
      {
        metadata: { name: "brs-n1" },
        spec: { state: "StagedAndPerformedUpdate", version: "1.20.0" },
        status: {
          current_state: "ErrorReset",
          current_version: "1.19.0",
          target_version: "1.20.0",
          crash_count: 1,
          failure: {
            state: "StagedAndPerformedUpdate",
            reason: "HostCommandFailed",
            message: "prepare: exit 1",
          },
        },
      },
      7,
    );
    assert.deepEqual(e, {
      t: 7,
      kind: "shadow",
      node: "n1",
      spec: { state: "StagedAndPerformedUpdate", version: "1.20.0" },
      status: {
        state: "ErrorReset",
        version: "1.19.0",
        target: "1.20.0",
        crash: 1,
        failure: "HostCommandFailed: StagedAndPerformedUpdate: prepare: exit 1",
      },
    });
    assert.deepEqual(compactShadow("add", { metadata: { name: "brs-n2" } }, 1).status, null);
  });

  it("a pod: its node, Ready, terminating or gone", () => {
    const ready = { conditions: [{ type: "Ready", status: "True" }] };
    assert.deepEqual(
      compactPod("update", { metadata: { name: "p" }, spec: { nodeName: "n0" }, status: ready }, 1),
      {
        t: 1,
        kind: "pod",
        name: "p",
        node: "n0",
        ready: true,
        deleting: false,
      },
    );
    const terminating = compactPod(
      "update",
      { metadata: { name: "p", deletionTimestamp: "2030-01-01T00:00:00Z" } },
      2,
    );
    assert.equal(terminating.deleting, true);
    assert.equal(terminating.deleted, undefined);
    const gone = compactPod("delete", { metadata: { name: "p" } }, 3);
    assert.equal(gone.deleting, true);
    assert.equal(gone.deleted, true);
  });
});
