// What a drain does with each pod bound to the node (pure, SPEC §5): skip DaemonSet-owned and mirror
// pods, brupop's own apiserver pods (the update needs them: on a one-node cluster they could go
// nowhere and the agent would lose its apiserver) and completed pods; leave those the drain policy's
// selector matches; stop at those the policy says block the drain; evict the rest. Also which
// eviction a PodDisruptionBudget records as granted, and the words for a drain's pods in an error.
import { BrupopError } from "../errors.js";
import { COMPONENT_LABEL } from "../model/constants.js";
import type { KubePod, KubePodDisruptionBudget } from "../k8s/objects.js";
import {
  blockOf,
  DEFAULT_DRAIN_POLICY,
  skippedBySelector,
  type BlockReason,
  type DrainPolicy,
} from "./drain-policy.js";

export const MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror";
/** Value of COMPONENT_LABEL on brupop's apiserver pods (the chart's, upstream's). */
export const APISERVER_COMPONENT = "apiserver";

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export type SkipReason = "daemonset" | "mirror" | "brupop-apiserver" | "completed" | "skip-selector";

export interface BlockedPod {
  readonly pod: PodRef;
  readonly reason: BlockReason;
  readonly message: string;
}

export interface DrainPlan {
  readonly evict: PodRef[];
  readonly skipped: { pod: PodRef; reason: SkipReason }[];
  /** Pods that stop the drain before anything is evicted (drain policy). */
  readonly blocked: BlockedPod[];
}

/** The pod's namespace, name and uid. */
export function refOf(pod: KubePod): PodRef {
  return {
    namespace: pod.metadata?.namespace ?? "",
    name: pod.metadata?.name ?? "",
    uid: pod.metadata?.uid ?? "",
  };
}

/** `namespace/name`: how a pod is named in logs and errors. */
export function podKey(p: PodRef): string {
  return `${p.namespace}/${p.name}`;
}

function isBrupopApiserver(pod: KubePod, brupopNamespace: string | undefined): boolean {
  return (
    brupopNamespace !== undefined &&
    pod.metadata?.namespace === brupopNamespace &&
    pod.metadata.labels?.[COMPONENT_LABEL] === APISERVER_COMPONENT
  );
}

/**
 * Why the drain leaves `pod` on the node, or undefined to evict it (pure). `brupopNamespace` is the
 * namespace brupop runs in: its apiserver pods there are kept (the agent needs them to finish the
 * update; elsewhere the label is not brupop's to trust).
 */
export function skipReason(pod: KubePod, brupopNamespace?: string): SkipReason | undefined {
  if (pod.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined) return "mirror";
  if (isBrupopApiserver(pod, brupopNamespace)) return "brupop-apiserver";
  // Like kubectl, only the controlling owner counts: a DaemonSet would recreate the pod at once.
  const controller = pod.metadata?.ownerReferences?.find((o) => o.controller === true);
  if (controller?.kind === "DaemonSet") return "daemonset";
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return "completed";
  return undefined;
}

/**
 * Decides, for the pods bound to a node, which to evict, which to leave and which block the drain
 * (pure). The built-in skips come first, then the policy's selector, then its blocks.
 */
export function planDrain(
  pods: readonly KubePod[],
  brupopNamespace?: string,
  policy: DrainPolicy = DEFAULT_DRAIN_POLICY,
): DrainPlan {
  const plan: DrainPlan = { evict: [], skipped: [], blocked: [] };
  for (const pod of pods) {
    const reason =
      skipReason(pod, brupopNamespace) ?? (skippedBySelector(pod, policy) ? "skip-selector" : undefined);
    if (reason !== undefined) {
      plan.skipped.push({ pod: refOf(pod), reason });
      continue;
    }
    const block = blockOf(pod, policy);
    if (block === undefined) plan.evict.push(refOf(pod));
    else plan.blocked.push({ pod: refOf(pod), ...block });
  }
  return plan;
}

const LISTED_PODS = 5;

/** "a; b; c; and 2 more": the first few of a long list (the agent keeps 1,024 characters). */
export function listed(items: readonly string[]): string {
  const head = items.slice(0, LISTED_PODS).join("; ");
  return items.length > LISTED_PODS ? `${head}; and ${items.length - LISTED_PODS} more` : head;
}

/** The error of a drain the policy blocks: names each pod and why. */
export function blockedError(node: string, blocked: readonly BlockedPod[]): BrupopError {
  return new BrupopError(
    "BRUPOP_E_DRAIN",
    `drain of node ${node} blocked: ${listed(blocked.map((b) => `pod ${podKey(b.pod)}: ${b.message}`))}`,
    { node, blocked: blocked.map((b) => ({ pod: podKey(b.pod), reason: b.reason, message: b.message })) },
  );
}

/**
 * The eviction of `pod` a PodDisruptionBudget's status.disruptedPods records as granted, if any (pure):
 * only for a pod not already terminating, and a grant older than the pod was for an earlier pod of
 * that name (a StatefulSet's), so it does not count.
 */
export function grantedEviction(
  pdbs: readonly KubePodDisruptionBudget[],
  pod: KubePod,
): { pdb: string; at: string } | undefined {
  const name = pod.metadata?.name ?? "";
  if (pod.metadata?.deletionTimestamp !== undefined) return undefined;
  const created = Date.parse(pod.metadata?.creationTimestamp ?? "");
  for (const pdb of pdbs) {
    const at = pdb.status?.disruptedPods?.[name];
    if (at !== undefined && Date.parse(at) > created) return { pdb: pdb.metadata?.name ?? "", at };
  }
  return undefined;
}

/** The taint a cordon stands for (the scheduler's view of `spec.unschedulable`). */
export const UNSCHEDULABLE_TAINT = { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" } as const;

/**
 * Whether the pod tolerates the cordon: the scheduler may place it on a cordoned node on purpose
 * (an `operator: Exists` toleration without a key, or one for node.kubernetes.io/unschedulable with
 * effect NoSchedule or none), as Kubernetes' toleration matching says.
 */
export function toleratesCordon(pod: KubePod): boolean {
  return (pod.spec?.tolerations ?? []).some((t) => {
    const effectOk = t.effect === undefined || t.effect === "" || t.effect === UNSCHEDULABLE_TAINT.effect;
    if (!effectOk) return false;
    const exists = t.operator === "Exists";
    if (t.key === undefined || t.key === "") return exists;
    if (t.key !== UNSCHEDULABLE_TAINT.key) return false;
    // Equal (the default) against the taint's empty value.
    return exists || t.value === undefined || t.value === "";
  });
}
