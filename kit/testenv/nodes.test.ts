import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { V1Pod } from "@kubernetes/client-node";

import {
  hasNodeProblemTaint,
  isNodeReady,
  isPodReady,
  kwokManagementPatch,
  kwokNodeManifest,
  podReadyStatusPatch,
  podsToMarkReady,
  READINESS_FAILS_ANNOTATION,
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

describe("pods after a simulated reboot", () => {
  const pod = (name: string, phase: string, ready: string, deleting = false, failing?: string): V1Pod => ({
    metadata: {
      name,
      ...(deleting ? { deletionTimestamp: new Date(0) } : {}),
      ...(failing !== undefined ? { annotations: { [READINESS_FAILS_ANNOTATION]: failing } } : {}),
    },
    status: { phase, conditions: [{ type: "Ready", status: ready }] },
  });

  it("marks Ready again only running, not-deleting pods that are not Ready and whose readiness does not fail", () => {
    const pods = [
      pod("stale", "Running", "False"),
      pod("fine", "Running", "True"),
      pod("pending", "Pending", "False"),
      pod("going", "Running", "False", true),
      // The demo's `unhealthy NODE` and the health e2e: marking it Ready raced the agent's gate.
      pod("sick", "Running", "False", false, "true"),
      pod("healed", "Running", "False", false, "false"),
    ];
    assert.deepEqual(
      podsToMarkReady(pods).map((p) => p.metadata?.name),
      ["stale", "healed"],
    );
    assert.equal(isPodReady(pod("fine", "Running", "True")), true);
    assert.equal(isPodReady({}), false);
  });

  it("reports both ContainersReady and Ready", () => {
    const p = podReadyStatusPatch(new Date("2026-01-02T03:04:05.678Z")) as {
      status: { conditions: { type: string; status: string; lastTransitionTime: string }[] };
    };
    assert.deepEqual(
      p.status.conditions.map((c) => [c.type, c.status, c.lastTransitionTime]),
      [
        ["ContainersReady", "True", "2026-01-02T03:04:05Z"],
        ["Ready", "True", "2026-01-02T03:04:05Z"],
      ],
    );
  });
});
