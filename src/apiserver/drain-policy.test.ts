import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  blockOf,
  DEFAULT_DRAIN_POLICY,
  protectingPdbs,
  skippedBySelector,
  timeoutVerdict,
  type DrainPolicy,
} from "./drain-policy.js";
import { parseLabelSelector } from "../k8s/label-selector.js";
import type { KubePod, KubePodDisruptionBudget } from "../k8s/objects.js";

function pod(
  opts: {
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    owned?: boolean;
    emptyDir?: boolean;
    terminating?: boolean;
  } = {},
): KubePod {
  return {
    metadata: {
      name: "p",
      namespace: "ns",
      uid: "u",
      annotations: opts.annotations,
      labels: opts.labels,
      ownerReferences:
        opts.owned === false ? undefined : [{ kind: "ReplicaSet", name: "rs", controller: true }],
      ...(opts.terminating === true && { deletionTimestamp: "2026-01-01T00:00:00Z" }),
    },
    spec: { volumes: opts.emptyDir === true ? [{ name: "scratch", emptyDir: {} }] : [{ name: "cfg" }] },
  };
}

const policy = (over: Partial<DrainPolicy> = {}): DrainPolicy => ({ ...DEFAULT_DRAIN_POLICY, ...over });

describe("blockOf", () => {
  const cases: [string, KubePod, Partial<DrainPolicy>, string | undefined, RegExp?][] = [
    ["an ordinary managed pod", pod(), {}, undefined],
    [
      "karpenter.sh/do-not-disrupt=true blocks by default",
      pod({ annotations: { "karpenter.sh/do-not-disrupt": "true" } }),
      {},
      "do-not-disrupt",
      /karpenter\.sh\/do-not-disrupt=true.*DRAIN_EVICT_DO_NOT_DISRUPT_PODS/,
    ],
    [
      "safe-to-evict=false blocks by default",
      pod({ annotations: { "cluster-autoscaler.kubernetes.io/safe-to-evict": "false" } }),
      {},
      "do-not-disrupt",
      /cluster-autoscaler\.kubernetes\.io\/safe-to-evict=false/,
    ],
    [
      "do-not-disrupt=false does not block",
      pod({ annotations: { "karpenter.sh/do-not-disrupt": "false" } }),
      {},
      undefined,
    ],
    [
      "safe-to-evict=true does not block",
      pod({ annotations: { "cluster-autoscaler.kubernetes.io/safe-to-evict": "true" } }),
      {},
      undefined,
    ],
    [
      "do-not-disrupt evicted when allowed",
      pod({ annotations: { "karpenter.sh/do-not-disrupt": "true" } }),
      { evictDoNotDisrupt: true },
      undefined,
    ],
    ["an unmanaged pod is evicted by default (upstream)", pod({ owned: false }), {}, undefined],
    [
      "an unmanaged pod blocks when refused (kubectl)",
      pod({ owned: false }),
      { evictUnmanaged: false },
      "unmanaged",
      /--force/,
    ],
    ["an emptyDir pod is evicted by default (upstream)", pod({ emptyDir: true }), {}, undefined],
    [
      "an emptyDir pod blocks when refused (kubectl)",
      pod({ emptyDir: true }),
      { evictEmptyDir: false },
      "emptydir",
      /emptyDir volume scratch/,
    ],
    [
      "a managed pod without emptyDir passes the kubectl checks",
      pod(),
      { evictEmptyDir: false, evictUnmanaged: false },
      undefined,
    ],
  ];
  for (const [title, p, over, reason, message] of cases) {
    it(title, () => {
      const block = blockOf(p, policy(over));
      assert.equal(block?.reason, reason);
      if (message !== undefined) assert.match(block?.message ?? "", message);
    });
  }
});

describe("skippedBySelector", () => {
  it("skips only matching pods, and nothing without a selector", () => {
    const p = policy({ skipSelector: parseLabelSelector("app=cache,tier!=front") });
    assert.equal(skippedBySelector(pod({ labels: { app: "cache" } }), p), true);
    assert.equal(skippedBySelector(pod({ labels: { app: "cache", tier: "front" } }), p), false);
    assert.equal(skippedBySelector(pod({ labels: { app: "web" } }), p), false);
    assert.equal(skippedBySelector(pod({ labels: { app: "cache" } }), policy()), false);
  });
});

function pdb(
  name: string,
  selector: KubePodDisruptionBudget["spec"],
  allowed: number | undefined,
  ns = "ns",
): KubePodDisruptionBudget {
  return {
    metadata: { name, namespace: ns },
    spec: selector,
    ...(allowed !== undefined && { status: { disruptionsAllowed: allowed } }),
  };
}

describe("protectingPdbs and timeoutVerdict", () => {
  const web = pod({ labels: { app: "web" } });
  const cases: [string, KubePodDisruptionBudget[], Partial<DrainPolicy>, KubePod, object][] = [
    ["no PDB: delete", [], {}, web, { action: "delete" }],
    [
      "a PDB that allows a disruption: delete",
      [pdb("a", { selector: { matchLabels: { app: "web" } } }, 1)],
      {},
      web,
      { action: "delete" },
    ],
    [
      "a PDB that allows none: keep, named",
      [pdb("a", { selector: { matchLabels: { app: "web" } } }, 0)],
      {},
      web,
      { action: "keep", pdbs: ["ns/a"] },
    ],
    [
      "status not computed yet counts as none",
      [pdb("a", { selector: { matchLabels: { app: "web" } } }, undefined)],
      {},
      web,
      { action: "keep", pdbs: ["ns/a"] },
    ],
    [
      "another namespace's PDB does not count",
      [pdb("a", { selector: { matchLabels: { app: "web" } } }, 0, "other")],
      {},
      web,
      { action: "delete" },
    ],
    [
      "a PDB selecting other pods does not count",
      [pdb("a", { selector: { matchLabels: { app: "db" } } }, 0)],
      {},
      web,
      { action: "delete" },
    ],
    [
      "a PDB with a null selector selects nothing",
      [pdb("a", { selector: null }, 0)],
      {},
      web,
      { action: "delete" },
    ],
    [
      "an empty selector selects every pod of the namespace",
      [pdb("a", { selector: {} }, 0)],
      {},
      web,
      { action: "keep", pdbs: ["ns/a"] },
    ],
    [
      "disregardPdb deletes it anyway",
      [pdb("a", { selector: {} }, 0)],
      { disregardPdb: true },
      web,
      { action: "delete" },
    ],
    [
      "a terminating pod is leaving",
      [pdb("a", { selector: {} }, 0)],
      {},
      pod({ terminating: true }),
      { action: "leaving" },
    ],
  ];
  for (const [title, pdbs, over, p, want] of cases) {
    it(title, () =>
      assert.deepEqual(timeoutVerdict(p, pdbs, policy({ onTimeout: "delete", ...over })), want),
    );
  }

  it("names every protecting PDB", () => {
    const pdbs = [pdb("a", { selector: {} }, 0), pdb("b", { selector: { matchLabels: { app: "web" } } }, 0)];
    assert.deepEqual(protectingPdbs(web, pdbs), ["ns/a", "ns/b"]);
  });
});
