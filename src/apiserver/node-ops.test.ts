import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CORDONED_BY_BRUPOP_ANNOTATION } from "../k8s/cordon-marker.js";
import { cordonPatch, lbExclusionPatch, uncordonPatch } from "./node-ops.js";
import { KubeApiError } from "../errors.js";
import type { KubeNode } from "../k8s/objects.js";

const LB = "node.kubernetes.io/exclude-from-external-load-balancers";

function node(
  opts: {
    unschedulable?: boolean;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  } = {},
): KubeNode {
  return {
    metadata: {
      name: "n1",
      uid: "u1",
      resourceVersion: "42",
      annotations: opts.annotations,
      labels: opts.labels,
    },
    spec: opts.unschedulable === undefined ? {} : { unschedulable: opts.unschedulable },
  };
}

describe("cordonPatch", () => {
  it("cordons a schedulable node and marks it as brupop's, guarded by resourceVersion", () => {
    assert.deepEqual(cordonPatch(node()), {
      metadata: { annotations: { [CORDONED_BY_BRUPOP_ANNOTATION]: "true" }, resourceVersion: "42" },
      spec: { unschedulable: true },
    });
    assert.notEqual(cordonPatch(node({ unschedulable: false })), undefined);
  });

  it("leaves a node someone else cordoned alone (no marker: brupop will not uncordon it)", () => {
    assert.equal(cordonPatch(node({ unschedulable: true })), undefined);
  });

  it("is a no-op when brupop already cordoned it (a retried drain keeps the marker)", () => {
    const n = node({ unschedulable: true, annotations: { [CORDONED_BY_BRUPOP_ANNOTATION]: "true" } });
    assert.equal(cordonPatch(n), undefined);
  });
});

describe("uncordonPatch", () => {
  it("uncordons a node brupop cordoned and removes the marker", () => {
    const n = node({ unschedulable: true, annotations: { [CORDONED_BY_BRUPOP_ANNOTATION]: "true" } });
    assert.deepEqual(uncordonPatch(n), {
      metadata: { annotations: { [CORDONED_BY_BRUPOP_ANNOTATION]: null }, resourceVersion: "42" },
      spec: { unschedulable: null },
    });
  });

  it("does nothing to a node cordoned by someone else", () => {
    assert.equal(uncordonPatch(node({ unschedulable: true })), undefined);
    assert.equal(uncordonPatch(node({ unschedulable: true, annotations: { other: "x" } })), undefined);
  });

  it("does nothing to a schedulable node without the marker", () => {
    assert.equal(uncordonPatch(node()), undefined);
  });

  it("only drops a stale marker when someone already uncordoned the node", () => {
    const n = node({ unschedulable: false, annotations: { [CORDONED_BY_BRUPOP_ANNOTATION]: "true" } });
    assert.deepEqual(uncordonPatch(n), {
      metadata: { annotations: { [CORDONED_BY_BRUPOP_ANNOTATION]: null }, resourceVersion: "42" },
    });
  });
});

describe("lbExclusionPatch", () => {
  it("adds the label when missing, removes it when present", () => {
    assert.deepEqual(lbExclusionPatch(node(), true), {
      metadata: { labels: { [LB]: "True" }, resourceVersion: "42" },
    });
    assert.deepEqual(lbExclusionPatch(node({ labels: { [LB]: "True" } }), false), {
      metadata: { labels: { [LB]: null }, resourceVersion: "42" },
    });
  });

  it("is a no-op when the node already is as asked", () => {
    assert.equal(lbExclusionPatch(node({ labels: { [LB]: "True" } }), true), undefined);
    assert.equal(lbExclusionPatch(node(), false), undefined);
  });

  it("normalises another value to True", () => {
    assert.notEqual(lbExclusionPatch(node({ labels: { [LB]: "false" } }), true), undefined);
  });
});

describe("KubeApiError", () => {
  it("carries the Kubernetes status and message", () => {
    const err = new KubeApiError("PATCH node n1", 403, {
      kind: "Status",
      message: "forbidden: nope",
      reason: "Forbidden",
    });
    assert.equal(err.code, "BRUPOP_E_UPSTREAM");
    assert.equal(err.message, "PATCH node n1: HTTP 403: forbidden: nope");
    assert.deepEqual(err.details, { status: 403, reason: "Forbidden" });
  });
});
