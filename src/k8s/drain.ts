// Node drain, like `kubectl drain`, through the Eviction API so PodDisruptionBudgets hold (SPEC §5):
//   1. list the pods bound to the node;
//   2. plan (pure): skip DaemonSet-owned and mirror pods, brupop's own apiserver pods (the update
//      needs them: on a one-node cluster they could go nowhere and the agent would lose its
//      apiserver), completed pods need nothing, evict the rest;
//   3. evict up to `concurrency` at a time; 429 (a PDB says not now) and 5xx → retry every
//      `retryIntervalMs`; 404 → already gone;
//   4. wait until every evicted pod is gone (deleted, or its name now belongs to a pod with another uid).
// One overall deadline covers all of it. The caller cordons first and leaves the node cordoned on error.
import { setTimeout as sleepTimer } from "node:timers/promises";
import type { Logger } from "pino";
import { BrupopError, KubeApiError } from "../errors.js";
import { COMPONENT_LABEL } from "../model/constants.js";
import type { KubeApi } from "./api.js";
import type { KubePod } from "./objects.js";

export const MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror";
/** Value of COMPONENT_LABEL on brupop's apiserver pods (the chart's, upstream's). */
export const APISERVER_COMPONENT = "apiserver";

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export type SkipReason = "daemonset" | "mirror" | "brupop-apiserver" | "completed";

export interface DrainPlan {
  readonly evict: PodRef[];
  readonly skipped: { pod: PodRef; reason: SkipReason }[];
}

function refOf(pod: KubePod): PodRef {
  return {
    namespace: pod.metadata?.namespace ?? "",
    name: pod.metadata?.name ?? "",
    uid: pod.metadata?.uid ?? "",
  };
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

/** Decides, for the pods bound to a node, which to evict and which to leave (pure). */
export function planDrain(pods: readonly KubePod[], brupopNamespace?: string): DrainPlan {
  const plan: DrainPlan = { evict: [], skipped: [] };
  for (const pod of pods) {
    const reason = skipReason(pod, brupopNamespace);
    if (reason === undefined) plan.evict.push(refOf(pod));
    else plan.skipped.push({ pod: refOf(pod), reason });
  }
  return plan;
}

/** What the drain needs from the cluster (narrow, so tests can fake it). */
export interface DrainApi {
  listPodsOnNode(nodeName: string, signal: AbortSignal): Promise<KubePod[]>;
  /** Posts an Eviction; resolves to the HTTP status (network failures reject). */
  evict(pod: PodRef, signal: AbortSignal): Promise<number>;
}

export interface DrainOptions {
  /** Namespace brupop runs in: its apiserver pods there are never evicted (see skipReason). */
  brupopNamespace?: string;
  /** Evictions in flight at once (default 5). */
  concurrency?: number;
  /** Pause between eviction retries after 429/5xx (default 5000 ms, as upstream). */
  retryIntervalMs?: number;
  /** Pause between checks that evicted pods are gone (default 1000 ms). */
  pollIntervalMs?: number;
  /** Overall deadline for the drain (default 10 min). */
  timeoutMs?: number;
  signal?: AbortSignal;
  logger?: Logger;
  /** Injected for tests. */
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface DrainResult {
  readonly evicted: PodRef[];
  readonly skipped: { pod: PodRef; reason: SkipReason }[];
}

export const DEFAULT_DRAIN_TIMEOUT_MS = 600_000;
const RETRYABLE_STATUSES = new Set([429, 500, 502, 503, 504]);

const defaultSleep = (ms: number, signal: AbortSignal): Promise<void> =>
  sleepTimer(ms, undefined, { signal });

function podKey(p: PodRef): string {
  return `${p.namespace}/${p.name}`;
}

class DrainRun {
  readonly #api: DrainApi;
  readonly #node: string;
  readonly #retryMs: number;
  readonly #pollMs: number;
  readonly #deadline: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #signal: AbortSignal;
  readonly #logger: Logger | undefined;
  #failure: { err: unknown } | undefined;

  constructor(api: DrainApi, node: string, opts: DrainOptions, signal: AbortSignal) {
    this.#api = api;
    this.#node = node;
    this.#retryMs = opts.retryIntervalMs ?? 5_000;
    this.#pollMs = opts.pollIntervalMs ?? 1_000;
    this.#now = opts.now ?? Date.now;
    this.#deadline = this.#now() + (opts.timeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
    this.#sleep = opts.sleep ?? defaultSleep;
    this.#signal = signal;
    this.#logger = opts.logger;
  }

  #checkDeadline(what: string, details: Record<string, unknown>): void {
    if (this.#signal.aborted) throw this.#signal.reason;
    if (this.#now() >= this.#deadline) {
      throw new BrupopError("BRUPOP_E_DRAIN", `drain of node ${this.#node} timed out ${what}`, {
        node: this.#node,
        ...details,
      });
    }
  }

  /** Sleeps, but never past the deadline (the next check then fails). */
  async #pause(ms: number): Promise<void> {
    const left = this.#deadline - this.#now();
    await this.#sleep(Math.max(0, Math.min(ms, left)), this.#signal);
  }

  /** Evicts one pod, retrying while the API says "not now". Returns false if it was already gone. */
  async evictOne(pod: PodRef): Promise<boolean> {
    for (;;) {
      if (this.#failure !== undefined) return false;
      this.#checkDeadline("evicting pods", { pod: podKey(pod) });
      let status: number;
      try {
        status = await this.#api.evict(pod, this.#signal);
      } catch (err) {
        if (this.#signal.aborted) throw err;
        this.#logger?.warn({ err, pod: podKey(pod) }, "eviction request failed; retrying");
        await this.#pause(this.#retryMs);
        continue;
      }
      if (status === 200 || status === 201) return true;
      if (status === 404) return false;
      if (!RETRYABLE_STATUSES.has(status)) {
        throw new BrupopError("BRUPOP_E_DRAIN", `eviction of pod ${podKey(pod)} failed: HTTP ${status}`, {
          node: this.#node,
          pod: podKey(pod),
          status,
        });
      }
      this.#logger?.debug({ pod: podKey(pod), status }, "eviction refused for now; retrying");
      await this.#pause(this.#retryMs);
    }
  }

  async evictAll(pods: readonly PodRef[], concurrency: number): Promise<PodRef[]> {
    const queue = [...pods];
    const evicted: PodRef[] = [];
    const worker = async (): Promise<void> => {
      // Once one pod failed for good the drain has failed: the other workers stop at their next step.
      for (let pod = queue.shift(); pod !== undefined && this.#failure === undefined; pod = queue.shift()) {
        try {
          if (await this.evictOne(pod)) evicted.push(pod);
        } catch (err) {
          this.#failure ??= { err };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, pods.length)) }, worker));
    if (this.#failure !== undefined) throw this.#failure.err;
    return evicted;
  }

  /** Polls the node's pod list until none of `pods` (same name and uid) is left. */
  async waitGone(pods: readonly PodRef[]): Promise<void> {
    let waiting = new Map(pods.map((p) => [podKey(p), p.uid]));
    while (waiting.size > 0) {
      const current = await this.#api.listPodsOnNode(this.#node, this.#signal);
      const still = new Map<string, string>();
      for (const pod of current) {
        const ref = refOf(pod);
        if (waiting.get(podKey(ref)) === ref.uid) still.set(podKey(ref), ref.uid);
      }
      waiting = still;
      if (waiting.size === 0) return;
      this.#checkDeadline("waiting for pods to terminate", { remaining: [...waiting.keys()] });
      await this.#pause(this.#pollMs);
    }
  }
}

/** Drains the (already cordoned) node. Throws BRUPOP_E_DRAIN on a refusal that will not pass or on the deadline. */
export async function drainNode(
  api: DrainApi,
  nodeName: string,
  opts: DrainOptions = {},
): Promise<DrainResult> {
  const signal = opts.signal ?? new AbortController().signal;
  const run = new DrainRun(api, nodeName, opts, signal);
  const plan = planDrain(await api.listPodsOnNode(nodeName, signal), opts.brupopNamespace);
  opts.logger?.info(
    { node: nodeName, evict: plan.evict.length, skipped: plan.skipped.length },
    "draining node",
  );
  const evicted = await run.evictAll(plan.evict, opts.concurrency ?? 5);
  await run.waitGone(evicted);
  return { evicted, skipped: plan.skipped };
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
        return 201;
      } catch (err) {
        // The drain's retry policy reads the status (429 and 5xx: again later; 404: already gone).
        if (err instanceof KubeApiError) return err.httpStatus;
        throw err;
      }
    },
  };
}
