// kwok-simulated Nodes: manifests and the Ready/NotReady switch used to simulate a reboot.
//
// kwok keeps every Node it manages Ready, renews its Lease, runs Pods bound to it and finishes their
// deletion. Its built-in "node-initialize" stage flips any managed node whose Ready condition is not
// True back to Ready, so to take a node down we first hand it out of kwok's care, then report
// Ready=False like a kubelet going away would.
//
// Which nodes kwok manages is chosen by the LABEL kwok.x-k8s.io/node=fake
// (--manage-nodes-with-label-selector). Nodes also carry the conventional ANNOTATION of the same
// name, but kwok v0.7.0 applies an annotation selector only to events, client-side: a node whose
// annotation changes stays in its cache and kwok keeps running its pods and renewing its lease. A
// label selector is applied by the API server, so changing the label makes kwok's watch report the
// node as deleted: kwok stops renewing its Lease and stops touching its pods, like a rebooting host.
import type { CoreV1Api, V1Node, V1NodeCondition, V1Pod, V1Taint } from "@kubernetes/client-node";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";

/** Annotation and label key marking kwok-managed nodes. */
export const KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node";
export const KWOK_NODE_LABEL = KWOK_NODE_ANNOTATION;
export const KWOK_MANAGED_VALUE = "fake";
export const KWOK_UNMANAGED_VALUE = "down";

export interface NodeOptions {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  taints?: V1Taint[];
  /** Capacity (= allocatable); kwok's default is cpu 1k, memory 1Ti, pods 1M. */
  capacity?: Record<string, string>;
}

export function kwokNodeManifest(name: string, opts: NodeOptions = {}): V1Node {
  const node: V1Node = {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        type: "kwok",
        ...opts.labels,
        [KWOK_NODE_ANNOTATION]: KWOK_MANAGED_VALUE,
      },
      annotations: { ...opts.annotations, [KWOK_NODE_ANNOTATION]: KWOK_MANAGED_VALUE },
    },
    spec: opts.taints === undefined ? {} : { taints: opts.taints },
  };
  if (opts.capacity !== undefined) {
    node.status = { capacity: { ...opts.capacity }, allocatable: { ...opts.capacity } };
  }
  return node;
}

export function readyCondition(node: V1Node): V1NodeCondition | undefined {
  return node.status?.conditions?.find((c) => c.type === "Ready");
}

export function isNodeReady(node: V1Node): boolean {
  return readyCondition(node)?.status === "True";
}

/** Taints the node lifecycle controller sets while a node is not Ready. */
export const NODE_PROBLEM_TAINTS = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"];

export function hasNodeProblemTaint(node: V1Node): boolean {
  return node.spec?.taints?.some((t) => NODE_PROBLEM_TAINTS.includes(t.key)) === true;
}

/** Merge patch moving a node into or out of kwok's care (label and annotation kept in step). */
export function kwokManagementPatch(managed: boolean): object {
  const v = managed ? KWOK_MANAGED_VALUE : KWOK_UNMANAGED_VALUE;
  return { metadata: { labels: { [KWOK_NODE_ANNOTATION]: v }, annotations: { [KWOK_NODE_ANNOTATION]: v } } };
}

/** Strategic-merge status patch (conditions merge by type) that sets the Ready condition. */
export function readyStatusPatch(ready: boolean, now: Date): object {
  const ts = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  return {
    status: {
      conditions: [
        {
          type: "Ready",
          status: ready ? "True" : "False",
          reason: ready ? "KubeletReady" : "KubeletNotReady",
          message: ready
            ? "kubelet is posting ready status"
            : "simulated: node is rebooting (brupop testenv)",
          lastHeartbeatTime: ts,
          lastTransitionTime: ts,
        },
      ],
    },
  };
}

/**
 * Takes a node out of kwok's care and reports it NotReady, or hands it back Ready. Returns once
 * the API shows the new Ready status (TestCluster.setNodeReady also waits for the node lifecycle
 * controller to remove its not-ready taints after a node comes back).
 */
export async function setNodeReady(core: CoreV1Api, name: string, ready: boolean, now: Date): Promise<void> {
  const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  const strategic = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);
  if (!ready) {
    // Order matters: leave kwok first, or its node-initialize stage flips the node back to Ready.
    await core.patchNode({ name, body: kwokManagementPatch(false) }, merge);
    await core.patchNodeStatus({ name, body: readyStatusPatch(false, now) }, strategic);
  } else {
    // Report Ready ourselves (kwok's node-initialize would too, once it manages the node again).
    await core.patchNodeStatus({ name, body: readyStatusPatch(true, now) }, strategic);
    await core.patchNode({ name, body: kwokManagementPatch(true) }, merge);
  }
}

/** A pod's Ready condition is True. */
export function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
}

/**
 * A pod annotated `"true"` so is a pod whose readiness probe fails: the kit's kubelet play never
 * reports it Ready (how tests and the demo make a node come back unhealthy; pod-readiness.ts).
 * Without it the play after a reboot would mark such a pod Ready again, racing the health gate.
 */
export const READINESS_FAILS_ANNOTATION = "testenv.brupop.dev/readiness-fails";

/**
 * Pods a kubelet would report Ready again after its node came back: running, not being deleted,
 * not failing their readiness, and marked not Ready (the node lifecycle controller sets Ready=False
 * on every pod of a node that goes NotReady; a real kubelet restarts the containers after a reboot
 * and reports them Ready, but kwok leaves a Running pod's conditions alone).
 */
export function podsToMarkReady(pods: readonly V1Pod[]): V1Pod[] {
  return pods.filter(
    (p) =>
      p.status?.phase === "Running" &&
      p.metadata?.deletionTimestamp === undefined &&
      p.metadata?.annotations?.[READINESS_FAILS_ANNOTATION] !== "true" &&
      !isPodReady(p),
  );
}

/** Strategic-merge status patch (conditions merge by type): the pod's containers are Ready again. */
export function podReadyStatusPatch(now: Date): object {
  const ts = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  return {
    status: {
      conditions: ["ContainersReady", "Ready"].map((type) => ({
        type,
        status: "True",
        lastTransitionTime: ts,
      })),
    },
  };
}

/**
 * Does what the node's kubelet does after a reboot: reports its running pods Ready again.
 * Returns how many pods were still not Ready when it looked (0 = all Ready).
 */
export async function markNodePodsReady(core: CoreV1Api, node: string, now: Date): Promise<number> {
  const strategic = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);
  const list = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` });
  const stale = podsToMarkReady(list.items);
  await Promise.all(
    stale.map(async (p) => {
      const name = p.metadata?.name ?? "";
      const namespace = p.metadata?.namespace ?? "";
      try {
        await core.patchNamespacedPodStatus({ name, namespace, body: podReadyStatusPatch(now) }, strategic);
      } catch (err: unknown) {
        // Deleted meanwhile (evicted, garbage-collected): nothing left to report Ready.
        if ((err as { code?: number }).code !== 404) throw err;
      }
    }),
  );
  return stale.length;
}
