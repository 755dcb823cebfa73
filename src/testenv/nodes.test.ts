import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  hasNodeProblemTaint,
  isNodeReady,
  kwokManagementPatch,
  kwokNodeManifest,
  readyStatusPatch,
} from "./nodes.js";

describe("kwok nodes", () => {
  it("builds a kwok-managed node manifest with standard and extra labels", () => {
    const n = kwokNodeManifest("n1", {
      labels: { pool: "a", type: "custom" },
      capacity: { cpu: "4", pods: "110" },
    });
    assert.equal(n.metadata?.annotations?.["kwok.x-k8s.io/node"], "fake");
    assert.equal(n.metadata?.labels?.["kwok.x-k8s.io/node"], "fake", "kwok selects nodes by this label");
    assert.equal(n.metadata?.labels?.["kubernetes.io/hostname"], "n1");
    assert.equal(n.metadata?.labels?.["pool"], "a");
    assert.equal(n.metadata?.labels?.["type"], "custom", "caller labels win");
    assert.deepEqual(n.status?.allocatable, { cpu: "4", pods: "110" });
    assert.equal(kwokNodeManifest("n2").status, undefined, "kwok fills capacity when none is given");
  });

  it("cannot be talked out of the kwok label and annotation", () => {
    const n = kwokNodeManifest("n1", {
      annotations: { "kwok.x-k8s.io/node": "other", a: "b" },
      labels: { "kwok.x-k8s.io/node": "other" },
    });
    assert.deepEqual(n.metadata?.annotations, { a: "b", "kwok.x-k8s.io/node": "fake" });
    assert.equal(n.metadata?.labels?.["kwok.x-k8s.io/node"], "fake");
  });

  it("recognises the node lifecycle controller's problem taints", () => {
    assert.equal(
      hasNodeProblemTaint({
        spec: { taints: [{ key: "node.kubernetes.io/not-ready", effect: "NoSchedule" }] },
      }),
      true,
    );
    assert.equal(
      hasNodeProblemTaint({ spec: { taints: [{ key: "dedicated", effect: "NoSchedule" }] } }),
      false,
    );
    assert.equal(hasNodeProblemTaint({}), false);
  });

  it("reads the Ready condition", () => {
    assert.equal(isNodeReady({ status: { conditions: [{ type: "Ready", status: "True" }] } }), true);
    assert.equal(isNodeReady({ status: { conditions: [{ type: "Ready", status: "Unknown" }] } }), false);
    assert.equal(isNodeReady({}), false);
  });

  it("builds the management and status patches", () => {
    assert.deepEqual(kwokManagementPatch(false), {
      metadata: { labels: { "kwok.x-k8s.io/node": "down" }, annotations: { "kwok.x-k8s.io/node": "down" } },
    });
    const p = readyStatusPatch(false, new Date("2026-01-02T03:04:05.678Z")) as {
      status: { conditions: { type: string; status: string; lastTransitionTime: string }[] };
    };
    assert.deepEqual(
      p.status.conditions.map((c) => [c.type, c.status, c.lastTransitionTime]),
      [["Ready", "False", "2026-01-02T03:04:05Z"]],
    );
  });
});
