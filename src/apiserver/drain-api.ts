// What the drain needs from the cluster (DrainApi: narrow, so tests can fake it), what each eviction
// and delete came to (outcomes, classified once: no status numbers past this file), and DrainApi on
// the real Kubernetes API.
import { isConflict, isNotFound, KubeApiError } from "../errors.js";
import type { KubeApi } from "../k8s/api.js";
import { paths, type KubePod, type KubePodDisruptionBudget } from "../k8s/objects.js";
import { podKey, type PodRef } from "./drain-plan.js";

/**
 * What an eviction came to: accepted; the pod is already gone; "not now" (a PodDisruptionBudget
 * allows no disruption, or the API is overloaded: retried); or refused for good. `status` is the
 * Kubernetes API's answer, for the message.
 */
export type EvictOutcome =
  | { kind: "evicted" }
  | { kind: "gone" }
  | { kind: "not-now"; status: number }
  | { kind: "refused"; status: number };

/** What deleting a pod came to (gone: it was deleted already, or another pod now has its name). */
export type DeleteOutcome = { kind: "deleted" } | { kind: "gone" } | { kind: "refused"; status: number };

const RETRYABLE_STATUSES = new Set([429, 500, 502, 503, 504]);

/** The one place an eviction's refusal by the Kubernetes API is classified. */
export function evictionRefusal(status: number): EvictOutcome {
  if (status === 404) return { kind: "gone" };
  return RETRYABLE_STATUSES.has(status) ? { kind: "not-now", status } : { kind: "refused", status };
}

/** What the drain needs from the cluster (narrow, so tests can fake it). */
export interface DrainApi {
  listPodsOnNode(nodeName: string, signal: AbortSignal): Promise<KubePod[]>;
  /** Posts an Eviction (network failures reject). */
  evict(pod: PodRef, signal: AbortSignal): Promise<EvictOutcome>;
  /** Deletes the pod (its uid as precondition). Needed by onTimeout "delete". */
  deletePod?(pod: PodRef, signal: AbortSignal): Promise<DeleteOutcome>;
  /** The PodDisruptionBudgets of a namespace. Needed by onTimeout "delete". */
  listPdbs?(namespace: string, signal: AbortSignal): Promise<KubePodDisruptionBudget[]>;
}

const REQUEST_TIMEOUT_MS = 30_000;

/** DrainApi on the real Kubernetes API. */
export function kubeDrainApi(api: KubeApi): DrainApi {
  return {
    listPodsOnNode: (nodeName, signal) =>
      api.listPods(
        { fieldSelector: `spec.nodeName=${nodeName}` },
        { signal, timeoutMs: REQUEST_TIMEOUT_MS, what: `LIST pods on node ${nodeName}` },
      ),
    async evict(pod, signal) {
      try {
        await api.evictPod(pod.namespace, pod.name, { signal, timeoutMs: REQUEST_TIMEOUT_MS });
        return { kind: "evicted" };
      } catch (err) {
        if (err instanceof KubeApiError) return evictionRefusal(err.httpStatus);
        throw err;
      }
    },
    async deletePod(pod, signal) {
      const body = { apiVersion: "v1", kind: "DeleteOptions", preconditions: { uid: pod.uid } };
      try {
        await api.remove(paths.pod(pod.namespace, pod.name), body, {
          signal,
          timeoutMs: REQUEST_TIMEOUT_MS,
          what: `delete pod ${podKey(pod)}`,
        });
        return { kind: "deleted" };
      } catch (err) {
        // A conflict: the precondition failed (another pod under that name), so ours is gone.
        if (isNotFound(err) || isConflict(err)) return { kind: "gone" };
        if (err instanceof KubeApiError) return { kind: "refused", status: err.httpStatus };
        throw err;
      }
    },
    async listPdbs(namespace, signal) {
      const list = await api.list<KubePodDisruptionBudget>(paths.podDisruptionBudgets(namespace), {
        signal,
        timeoutMs: REQUEST_TIMEOUT_MS,
        what: `LIST PodDisruptionBudgets in ${namespace}`,
      });
      return list.items ?? [];
    },
  };
}
