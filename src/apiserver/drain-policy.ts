// The drain policy (the apiserver's DRAIN_* settings, docs/apiserver.md "Drain policy"): which pods
// the drain leaves, which pods block it, and which pods it may delete when its deadline passes. All
// pure; drain.ts applies them.
import { selectorMatches, type LabelSelector } from "../k8s/label-selector.js";
import type { KubePod, KubePodDisruptionBudget } from "../k8s/objects.js";

/** Pod annotations that ask autoscalers not to disrupt the pod. */
export const DO_NOT_DISRUPT_ANNOTATIONS: readonly { key: string; value: string }[] = [
  { key: "karpenter.sh/do-not-disrupt", value: "true" },
  { key: "cluster-autoscaler.kubernetes.io/safe-to-evict", value: "false" },
];

export type DrainTimeoutAction = "fail" | "delete";

export interface DrainPolicy {
  /** At the deadline: fail (the node stays cordoned), or delete the pods still there. */
  readonly onTimeout: DrainTimeoutAction;
  /** With onTimeout "delete": also delete pods a PDB protects (one that allows no disruption now). */
  readonly disregardPdb: boolean;
  /** Pods matching it stay on the node. */
  readonly skipSelector?: LabelSelector | undefined;
  /** Evict pods annotated do-not-disrupt / not safe-to-evict (false: they block the drain). */
  readonly evictDoNotDisrupt: boolean;
  /** Evict pods no controller owns (false: they block, like kubectl drain without --force). */
  readonly evictUnmanaged: boolean;
  /** Evict pods with emptyDir volumes (false: they block, like kubectl without --delete-emptydir-data). */
  readonly evictEmptyDir: boolean;
}

/** Upstream's drain, plus the do-not-disrupt block (SPEC beyond; docs/migrating.md). */
export const DEFAULT_DRAIN_POLICY: DrainPolicy = {
  onTimeout: "fail",
  disregardPdb: false,
  evictDoNotDisrupt: false,
  evictUnmanaged: true,
  evictEmptyDir: true,
};

export type BlockReason = "do-not-disrupt" | "unmanaged" | "emptydir";

export interface Block {
  readonly reason: BlockReason;
  /** In words, with the setting that would let the drain evict the pod. */
  readonly message: string;
}

/** Why the pod stops the drain before anything is evicted, or undefined (pure). */
export function blockOf(pod: KubePod, policy: DrainPolicy): Block | undefined {
  if (!policy.evictDoNotDisrupt) {
    const annotations = pod.metadata?.annotations ?? {};
    const hit = DO_NOT_DISRUPT_ANNOTATIONS.find((a) => annotations[a.key] === a.value);
    if (hit !== undefined) {
      return {
        reason: "do-not-disrupt",
        message: `annotation ${hit.key}=${hit.value} (DRAIN_EVICT_DO_NOT_DISRUPT_PODS=true evicts it anyway)`,
      };
    }
  }
  if (!policy.evictUnmanaged && pod.metadata?.ownerReferences?.some((o) => o.controller === true) !== true) {
    return {
      reason: "unmanaged",
      message:
        "no controller manages it (DRAIN_EVICT_UNMANAGED_PODS=true evicts it, like kubectl drain --force)",
    };
  }
  if (!policy.evictEmptyDir) {
    const volume = pod.spec?.volumes?.find((v) => v.emptyDir !== undefined && v.emptyDir !== null);
    if (volume !== undefined) {
      return {
        reason: "emptydir",
        message: `emptyDir volume ${volume.name ?? "?"} (DRAIN_EVICT_EMPTYDIR_PODS=true evicts it, like kubectl drain --delete-emptydir-data)`,
      };
    }
  }
  return undefined;
}

/** The pod matches the skip selector (pure). */
export function skippedBySelector(pod: KubePod, policy: DrainPolicy): boolean {
  return policy.skipSelector !== undefined && selectorMatches(policy.skipSelector, pod.metadata?.labels);
}

/** The PDBs of `pod`'s namespace that select it and allow no disruption now (pure). */
export function protectingPdbs(pod: KubePod, pdbs: readonly KubePodDisruptionBudget[]): string[] {
  const ns = pod.metadata?.namespace;
  return pdbs
    .filter(
      (pdb) =>
        pdb.metadata?.namespace === ns &&
        selectorMatches(pdb.spec?.selector, pod.metadata?.labels) &&
        // A budget whose status is not computed yet protects too (the eviction API would refuse).
        (pdb.status?.disruptionsAllowed ?? 0) <= 0,
    )
    .map((pdb) => `${pdb.metadata?.namespace ?? ""}/${pdb.metadata?.name ?? ""}`);
}

export type TimeoutVerdict =
  { action: "delete" } | { action: "keep"; pdbs: string[] } | { action: "leaving" };

/**
 * What the drain does at its deadline with a pod still on the node (pure), when the policy says
 * `delete`: a pod already terminating is leaving; one a PDB protects is kept unless disregardPdb.
 */
export function timeoutVerdict(
  pod: KubePod,
  pdbs: readonly KubePodDisruptionBudget[],
  policy: DrainPolicy,
): TimeoutVerdict {
  if (pod.metadata?.deletionTimestamp !== undefined) return { action: "leaving" };
  if (policy.disregardPdb) return { action: "delete" };
  const protecting = protectingPdbs(pod, pdbs);
  return protecting.length > 0 ? { action: "keep", pdbs: protecting } : { action: "delete" };
}
