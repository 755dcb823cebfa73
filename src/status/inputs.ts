// What `brupop status` reads from the API, as raw JSON shapes (only the fields it looks at), and the
// small pure normalisers over them. Nothing here does I/O.
import type {
  KubeConfigMap as RawConfigMap,
  KubeNode as RawNode,
  KubePod as RawPod,
  NodeCondition as RawCondition,
  RawShadow,
} from "../k8s/objects.js";
import { selectorMatches, type LabelSelector, type LabelSelectorRequirement } from "../k8s/label-selector.js";
import { UPDATER_INTERFACE_LABEL, UPDATER_INTERFACE_VERSION } from "../model/constants.js";
import { CORDONED_BY_BRUPOP_ANNOTATION } from "../k8s/cordon-marker.js";

// The object shapes are the ones of src/k8s/objects.ts, under the names this module has always used.
import { NODE_PAUSED_ANNOTATION, type RawPolicy } from "../model/policy.js";
export type { RawCondition, RawConfigMap, RawNode, RawPod, RawShadow };
export type { LabelSelector, LabelSelectorRequirement };
export { selectorMatches };

export interface RawPdb {
  metadata?: { name?: string; namespace?: string };
  spec?: { selector?: LabelSelector | null };
  status?: { disruptionsAllowed?: number };
}

/** Pods and PDBs seen for one draining node, or why they could not be read. */
export type DrainView = { pods: readonly RawPod[]; pdbs: readonly RawPdb[] } | { error: string };

/** Everything the pure core needs; `now` is injected. */
export interface StatusInput {
  namespace: string;
  now: Date;
  shadows: readonly RawShadow[];
  nodes: readonly RawNode[];
  /** Data of the controller's state ConfigMap; null when it does not exist. */
  controllerState: Record<string, string> | null;
  /** Why the ConfigMap could not be read (e.g. forbidden), if so. */
  controllerStateError?: string | undefined;
  /** Keyed by node name; fetched only for the nodes `drainingNodes` names. */
  drain: ReadonlyMap<string, DrainView>;
  /** The UpdatePolicy the controller honours (docs/policy.md); null/absent: none or unreadable. */
  policy?: RawPolicy | null | undefined;
  /** Data of the controller's blocker verdicts (ConfigMap brupop-blockers); null/absent: none. */
  blockers?: Record<string, string> | null | undefined;
}

export interface NodeInfo {
  name: string;
  /** Carries bottlerocket.aws/updater-interface-version=2.0.0 (managed by brupop). */
  labelled: boolean;
  cordoned: boolean;
  /** Cordoned by brupop (its marker annotation): a drain, or the quarantine of a failed node. */
  cordonedByBrupop: boolean;
  /** null when the node reports no Ready condition yet. */
  ready: boolean | null;
  /** lastTransitionTime of the Ready condition while not Ready. */
  notReadySince: string | null;
}

export function nodeInfo(node: RawNode): NodeInfo | undefined {
  const name = node.metadata?.name;
  if (name === undefined || name === "") return undefined;
  const ready = node.status?.conditions?.find((c) => c.type === "Ready");
  const isReady = ready === undefined ? null : ready.status === "True";
  return {
    name,
    labelled: node.metadata?.labels?.[UPDATER_INTERFACE_LABEL] === UPDATER_INTERFACE_VERSION,
    cordoned: node.spec?.unschedulable === true,
    cordonedByBrupop: node.metadata?.annotations?.[CORDONED_BY_BRUPOP_ANNOTATION] === "true",
    ready: isReady,
    notReadySince: isReady === false ? (ready?.lastTransitionTime ?? null) : null,
  };
}

function slimReady(node: RawNode): RawCondition | undefined {
  const ready = node.status?.conditions?.find((c) => c.type === "Ready");
  if (ready === undefined) return undefined;
  // Not lastHeartbeatTime: it changes all the time and would make every event look like a change.
  const slim: RawCondition = { type: "Ready" };
  if (ready.status !== undefined) slim.status = ready.status;
  if (ready.lastTransitionTime !== undefined) slim.lastTransitionTime = ready.lastTransitionTime;
  return slim;
}

/** Keeps only what status reads of a Node (the watch cache holds every node of the cluster). */
export function slimNode(node: RawNode): RawNode {
  const m = node.metadata ?? {};
  const metadata: NonNullable<RawNode["metadata"]> = {};
  if (m.name !== undefined) metadata.name = m.name;
  if (m.resourceVersion !== undefined) metadata.resourceVersion = m.resourceVersion;
  // Every label: the updater-interface label, the zone (per-zone limit) and whatever an UpdatePolicy
  // group's matchLabels name (any label), so `--watch` shows group holds like one-shot status.
  if (m.labels !== undefined && Object.keys(m.labels).length > 0) metadata.labels = { ...m.labels };
  const annotations: Record<string, string> = {};
  for (const key of [NODE_PAUSED_ANNOTATION, CORDONED_BY_BRUPOP_ANNOTATION]) {
    const value = m.annotations?.[key];
    if (value !== undefined) annotations[key] = value;
  }
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
  const slim: RawNode = { metadata };
  if (node.spec?.unschedulable === true) slim.spec = { unschedulable: true };
  const ready = slimReady(node);
  if (ready !== undefined) slim.status = { conditions: [ready] };
  return slim;
}

export interface ObjectRef {
  namespace: string;
  name: string;
}

/** Pods the drain must evict (it skips DaemonSet and mirror pods, completed and terminating ones). */
function mustEvict(pod: RawPod): boolean {
  const m = pod.metadata ?? {};
  if (m.deletionTimestamp !== undefined) return false;
  if (m.annotations?.["kubernetes.io/config.mirror"] !== undefined) return false;
  if (m.ownerReferences?.some((o) => o.kind === "DaemonSet") === true) return false;
  const phase = pod.status?.phase;
  return phase !== "Succeeded" && phase !== "Failed";
}

/** Does this PDB stop the eviction of this pod? (No status yet counts as 0, as for evictions.) */
function pdbBlocks(pdb: RawPdb, pod: RawPod): boolean {
  return (
    (pdb.metadata?.namespace ?? "") === (pod.metadata?.namespace ?? "") &&
    (pdb.status?.disruptionsAllowed ?? 0) <= 0 &&
    selectorMatches(pdb.spec?.selector, pod.metadata?.labels)
  );
}

const refOf = (o: { metadata?: { namespace?: string; name?: string } }): ObjectRef => ({
  namespace: o.metadata?.namespace ?? "",
  name: o.metadata?.name ?? "",
});

const byRef = (a: ObjectRef, b: ObjectRef): number =>
  `${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1;

/** PDBs with no disruption left that cover a pod the drain still has to evict. */
export function blockingPdbs(view: { pods: readonly RawPod[]; pdbs: readonly RawPdb[] }): {
  pdbs: ObjectRef[];
  pods: ObjectRef[];
} {
  const pdbs = new Map<string, ObjectRef>();
  const pods: ObjectRef[] = [];
  for (const pod of view.pods.filter(mustEvict)) {
    const blocking = view.pdbs.filter((pdb) => pdbBlocks(pdb, pod)).map(refOf);
    for (const ref of blocking) pdbs.set(`${ref.namespace}/${ref.name}`, ref);
    if (blocking.length > 0) pods.push(refOf(pod));
  }
  return { pdbs: [...pdbs.values()].sort(byRef), pods: pods.sort(byRef) };
}
