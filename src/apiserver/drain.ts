// Node drain, like `kubectl drain`, through the Eviction API so PodDisruptionBudgets hold (SPEC §5):
//   1. list the pods bound to the node;
//   2. plan (pure): skip DaemonSet-owned and mirror pods, brupop's own apiserver pods (the update
//      needs them: on a one-node cluster they could go nowhere and the agent would lose its
//      apiserver), completed pods need nothing, evict the rest;
//   3. evict up to `concurrency` at a time; 429 (a PDB says not now) and 5xx → retry every
//      `retryIntervalMs`; 404 → already gone;
//   4. wait until every evicted pod is gone (deleted, or its name now belongs to a pod with another uid);
//   5. list again (up to 3 times, a poll interval apart): pods bound after the first list by a
//      scheduler that had not seen the cordon yet are evicted the same way; pods that tolerate the
//      cordon are left, as kubectl leaves them (the scheduler may put them back on purpose).
// One overall deadline covers all of it. The caller cordons first and leaves the node cordoned on error.
// The drain policy (drain-policy.ts) adds: pods a selector leaves, pods that block the drain before
// anything is evicted (do-not-disrupt annotations; unmanaged and emptyDir pods when asked, like
// kubectl), and at the deadline either failing (default) or deleting the pods still there, never one a
// PodDisruptionBudget protects unless told to.
// The plan is drain-plan.ts (pure); what the drain needs from the cluster and what each request came
// to is drain-api.ts; this file runs the plan against the deadline.
import { setTimeout as sleepTimer } from "node:timers/promises";
import type { Logger } from "pino";
import { BrupopError, KubeApiError } from "../errors.js";
import type { KubePodDisruptionBudget } from "../k8s/objects.js";
import type { DrainApi, EvictOutcome } from "./drain-api.js";
import {
  blockedError,
  grantedEviction,
  listed,
  planDrain,
  podKey,
  refOf,
  toleratesCordon,
  type PodRef,
  type SkipReason,
} from "./drain-plan.js";
import { DEFAULT_DRAIN_POLICY, timeoutVerdict, type DrainPolicy } from "./drain-policy.js";

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
  /** Skips, blocks and what happens at the deadline (default: DEFAULT_DRAIN_POLICY). */
  policy?: DrainPolicy;
  signal?: AbortSignal;
  logger?: Logger;
  /** Injected for tests. */
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface DrainResult {
  readonly evicted: PodRef[];
  readonly skipped: { pod: PodRef; reason: SkipReason }[];
  /** Pods deleted at the deadline (policy onTimeout "delete"). */
  readonly deleted?: PodRef[];
}

/** The deadline passed (drainNode turns it into BRUPOP_E_DRAIN, or deletes with onTimeout "delete"). */
class DrainDeadline extends Error {
  readonly what: string;
  readonly details: Record<string, unknown>;
  constructor(what: string, details: Record<string, unknown>) {
    super(what);
    this.what = what;
    this.details = details;
  }
}

/** Why an eviction has not gone through yet, in words. */
function refusalText(status: number | "network"): string {
  if (status === "network") return "eviction request failed (network)";
  if (status === 429) return "eviction refused: HTTP 429, a PodDisruptionBudget allows no disruption now";
  return `eviction failed: HTTP ${status}`;
}

export const DEFAULT_DRAIN_TIMEOUT_MS = 600_000;

/** Lists after the first one, for pods bound behind the cordon (drainNode). */
const EXTRA_ROUNDS = 3;

const defaultSleep = (ms: number, signal: AbortSignal): Promise<void> =>
  sleepTimer(ms, undefined, { signal });

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
  /** Listing PDBs or deleting failed once (RBAC): granted-but-cut-off evictions are waited out. */
  #grantsUnreadable = false;
  /** Pods whose eviction was refused and not yet accepted, with the last answer. */
  readonly refused = new Map<string, number | "network">();
  /** Pods whose eviction was accepted. */
  readonly evicted: PodRef[] = [];

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
    if (this.#now() >= this.#deadline) throw new DrainDeadline(what, details);
  }

  /** Sleeps, but never past the deadline (the next check then fails). */
  async pause(ms: number): Promise<void> {
    const left = this.#deadline - this.#now();
    await this.#sleep(Math.max(0, Math.min(ms, left)), this.#signal);
  }

  /** Evicts one pod, retrying while the API says "not now". Returns false if it was already gone. */
  async evictOne(pod: PodRef): Promise<boolean> {
    for (;;) {
      if (this.#failure !== undefined) return false;
      this.#checkDeadline("evicting pods", { pod: podKey(pod) });
      let outcome: EvictOutcome;
      try {
        outcome = await this.#api.evict(pod, this.#signal);
      } catch (err) {
        if (this.#signal.aborted) throw err;
        this.refused.set(podKey(pod), "network");
        this.#logger?.warn({ err, pod: podKey(pod) }, "eviction request failed; retrying");
        await this.pause(this.#retryMs);
        continue;
      }
      if (outcome.kind === "evicted" || outcome.kind === "gone") {
        this.refused.delete(podKey(pod));
        return outcome.kind === "evicted";
      }
      const status = outcome.status;
      if (outcome.kind === "refused") {
        throw new BrupopError("BRUPOP_E_DRAIN", `eviction of pod ${podKey(pod)} failed: HTTP ${status}`, {
          node: this.#node,
          pod: podKey(pod),
          status,
        });
      }
      if (await this.#completeGrantedEviction(pod, status)) return true;
      this.refused.set(podKey(pod), status);
      this.#logger?.debug({ pod: podKey(pod), status }, "eviction refused for now; retrying");
      await this.pause(this.#retryMs);
    }
  }

  /**
   * A 429 while a PodDisruptionBudget lists this very pod in status.disruptedPods: an eviction of it
   * was granted earlier (the budget already counts it as going) but the pod was never deleted, the
   * granting request cut off between the budget update and the delete (a drain aborted by a killed
   * apiserver). Kubernetes keeps such an entry for 2 minutes, holding the budget (and every drain) at
   * 0 meanwhile. Deleting the pod, its uid as precondition, does what the granted eviction would
   * have done, within the budget. Needs pods/delete and poddisruptionbudgets/list; without them (or
   * on any error) the drain waits the entry out as before. True if the pod was deleted.
   */
  async #completeGrantedEviction(pod: PodRef, status: number): Promise<boolean> {
    const api = this.#api;
    if (status !== 429 || api.listPdbs === undefined || api.deletePod === undefined) return false;
    if (this.#grantsUnreadable) return false;
    try {
      const pdbs = await api.listPdbs(pod.namespace, this.#signal);
      if (!pdbs.some((p) => p.status?.disruptedPods?.[pod.name] !== undefined)) return false;
      const current = (await api.listPodsOnNode(this.#node, this.#signal)).find(
        (p) => p.metadata?.uid === pod.uid,
      );
      const grant = current === undefined ? undefined : grantedEviction(pdbs, current);
      if (grant === undefined) return false;
      const deleted = await api.deletePod(pod, this.#signal);
      if (deleted.kind === "refused" && deleted.status === 403) this.#grantsUnreadable = true;
      this.#logger?.info(
        { pod: podKey(pod), pdb: grant.pdb, grantedAt: grant.at, status: deleted },
        "eviction granted earlier but the pod was never deleted; deleting it as the eviction would have",
      );
      return deleted.kind === "deleted";
    } catch (err) {
      if (this.#signal.aborted) throw err;
      this.#grantCheckFailed(err, pod);
      return false;
    }
  }

  /** Checking a granted eviction failed: the drain waits the grant out. */
  #grantCheckFailed(err: unknown, pod: PodRef): void {
    // A 403 will not change within this drain: stop asking. Anything else (a reset connection, a
    // 5xx during a control-plane restart) is tried again at the next refusal.
    if (err instanceof KubeApiError && err.httpStatus === 403) this.#grantsUnreadable = true;
    this.#logger?.warn(
      { err, pod: podKey(pod) },
      "could not check the PodDisruptionBudgets' granted evictions; waiting them out",
    );
  }

  async evictAll(pods: readonly PodRef[], concurrency: number): Promise<PodRef[]> {
    const queue = [...pods];
    const evicted = this.evicted;
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
    if (this.#failure !== undefined) {
      const err = this.#failure.err;
      if (!(err instanceof DrainDeadline)) throw err;
      // Name every pod still waiting for its eviction, and why (the first one stays `pod`, as before).
      const pending = [
        ...[...this.refused].map(([pod, status]) => ({ pod, reason: refusalText(status) })),
        ...queue.map((p) => ({ pod: podKey(p), reason: "not tried yet" })),
      ];
      const text = listed(pending.map((p) => `${p.pod} (${p.reason})`));
      throw new DrainDeadline(`${err.what}: ${text}`, { ...err.details, pending });
    }
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
      const remaining = [...waiting.keys()];
      this.#checkDeadline(`waiting for pods to terminate: ${listed(remaining)}`, { remaining });
      await this.pause(this.#pollMs);
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
  const policy = opts.policy ?? DEFAULT_DRAIN_POLICY;
  const run = new DrainRun(api, nodeName, opts, signal);
  const plan = planDrain(await api.listPodsOnNode(nodeName, signal), opts.brupopNamespace, policy);
  opts.logger?.info(
    { node: nodeName, evict: plan.evict.length, skipped: plan.skipped.length, blocked: plan.blocked.length },
    "draining node",
  );
  if (plan.blocked.length > 0) throw blockedError(nodeName, plan.blocked);
  try {
    return await evictInRounds(run, plan, {
      node: nodeName,
      concurrency: opts.concurrency ?? 5,
      pollMs: opts.pollIntervalMs ?? 1_000,
      logger: opts.logger,
      lookAgain: (done) =>
        arrivals(api, nodeName, { brupopNamespace: opts.brupopNamespace, policy, done, signal }),
    });
  } catch (err) {
    if (!(err instanceof DrainDeadline)) throw err;
    if (policy.onTimeout !== "delete") {
      throw new BrupopError("BRUPOP_E_DRAIN", `drain of node ${nodeName} timed out ${err.what}`, {
        node: nodeName,
        ...err.details,
      });
    }
    opts.logger?.warn(
      { node: nodeName, err: err.what },
      "drain deadline passed; deleting the pods still there",
    );
    const deleted = await deleteRemaining(api, nodeName, opts.brupopNamespace, policy, signal);
    return { evicted: run.evicted, skipped: plan.skipped, deleted };
  }
}

interface Arrivals {
  evict: PodRef[];
  skipped: DrainResult["skipped"];
}

/**
 * Evicts the plan's pods and waits for them to go; then looks again (up to EXTRA_ROUNDS times, a
 * poll interval apart) and drains what arrived. The scheduler binds by its cache, which may not
 * have seen the cordon yet, so a pod can land on the node after the first list (chaos seed 5181:
 * bound 0.1 s after the cordon, rebooted with the node).
 */
async function evictInRounds(
  run: DrainRun,
  first: Arrivals,
  o: {
    node: string;
    concurrency: number;
    pollMs: number;
    logger: Logger | undefined;
    lookAgain: (done: readonly PodRef[]) => Promise<Arrivals>;
  },
): Promise<DrainResult> {
  let { evict, skipped } = first;
  for (let round = 1; ; round++) {
    await run.waitGone(await run.evictAll(evict, o.concurrency));
    if (round > EXTRA_ROUNDS) break;
    await run.pause(o.pollMs);
    ({ evict, skipped } = await o.lookAgain(run.evicted));
    if (evict.length === 0) break;
    o.logger?.info(
      { node: o.node, pods: evict.map(podKey) },
      "pods arrived on the cordoned node during the drain; evicting them too",
    );
  }
  return { evicted: run.evicted, skipped, deleted: [] };
}

/**
 * The node's pods again after a round: what arrived behind the cordon and must go too (not pods
 * already evicted, not pods that tolerate the cordon), and what the plan skips now. Throws the
 * blocked error for a do-not-disrupt arrival, as the first list would have.
 */
async function arrivals(
  api: DrainApi,
  node: string,
  o: {
    brupopNamespace: string | undefined;
    policy: DrainPolicy;
    done: readonly PodRef[];
    signal: AbortSignal;
  },
): Promise<Arrivals> {
  const { brupopNamespace, policy, done, signal } = o;
  const current = await api.listPodsOnNode(node, signal);
  const plan = planDrain(current, brupopNamespace, policy);
  if (plan.blocked.length > 0) throw blockedError(node, plan.blocked);
  const gone = new Set(done.map((p) => p.uid));
  const tolerating = new Set(current.filter(toleratesCordon).map((p) => p.metadata?.uid));
  return {
    evict: plan.evict.filter((r) => !gone.has(r.uid) && !tolerating.has(r.uid)),
    skipped: plan.skipped,
  };
}

/**
 * The deadline passed with onTimeout "delete": deletes the pods the drain still wants gone, except
 * those already terminating and (unless disregardPdb) those a PodDisruptionBudget protects now.
 * Throws BRUPOP_E_DRAIN naming the pods it kept. Does not wait for the deleted pods to terminate.
 */
async function deleteRemaining(
  api: DrainApi,
  node: string,
  brupopNamespace: string | undefined,
  policy: DrainPolicy,
  signal: AbortSignal,
): Promise<PodRef[]> {
  if (api.deletePod === undefined || api.listPdbs === undefined) {
    throw new BrupopError("BRUPOP_E_INTERNAL", "drain: onTimeout delete needs deletePod and listPdbs");
  }
  const pods = await api.listPodsOnNode(node, signal);
  const wanted = new Set(planDrain(pods, brupopNamespace, policy).evict.map(podKey));
  const candidates = pods.filter((p) => wanted.has(podKey(refOf(p))));
  const pdbs: KubePodDisruptionBudget[] = [];
  if (!policy.disregardPdb) {
    for (const ns of new Set(candidates.map((p) => p.metadata?.namespace ?? ""))) {
      pdbs.push(...(await api.listPdbs(ns, signal)));
    }
  }
  const deleted: PodRef[] = [];
  const kept: { pod: string; reason: string }[] = [];
  for (const pod of candidates) {
    const ref = refOf(pod);
    const verdict = timeoutVerdict(pod, pdbs, policy);
    if (verdict.action === "leaving") continue;
    if (verdict.action === "keep") {
      kept.push({
        pod: podKey(ref),
        reason: `PodDisruptionBudget ${verdict.pdbs.join(", ")} allows no disruption now (DRAIN_DISREGARD_PDB=true deletes it anyway)`,
      });
      continue;
    }
    const outcome = await api.deletePod(ref, signal);
    if (outcome.kind === "deleted") deleted.push(ref);
    else if (outcome.kind === "refused")
      kept.push({ pod: podKey(ref), reason: `delete failed: HTTP ${outcome.status}` });
  }
  if (kept.length > 0) {
    const deletedText = deleted.length === 0 ? "" : `; deleted ${listed(deleted.map(podKey))}`;
    throw new BrupopError(
      "BRUPOP_E_DRAIN",
      `drain of node ${node} timed out${deletedText}; kept ${listed(kept.map((k) => `${k.pod}: ${k.reason}`))}`,
      { node, deleted: deleted.map(podKey), kept },
    );
  }
  return deleted;
}
