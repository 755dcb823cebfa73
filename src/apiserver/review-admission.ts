// Which TokenReviews an unknown token may cost, decided before the review (issue 33). A token not in
// the review cache needs a TokenReview, and a forged token fails it; each failed review is paid out
// of budgets a forger cannot spend on anyone else's behalf:
//
//   lane "agent"      the token's UNVERIFIED claims name an agent pod our pod informer holds, with
//                     that uid, in our namespace, on the node the request names (and the token's own
//                     node claim, when it has one): a fresh agent token always lands here. A forger
//                     must know a live agent pod's name, uid and node to get in.
//   lane "anonymous"  everything else.
//
// Each lane has a pool (bounds the TokenReviews kube-apiserver gets from that lane) and, inside it,
// one bucket per source address (the TCP peer, never a header): a flood from one pod spends that
// pod's bucket, then its lane's pool — never the agent lane's. A review takes one unit from its
// source bucket and its pool when it starts; a review that accepts the token (or fails upstream)
// gives both back, so genuine agents spend nothing for long. The review still decides every token.
//
// Pure functions (lane choice, bucket arithmetic, the admit decision) with the state kept by
// ReviewAdmission, a thin shell with an injected clock.
import { AGENT_COMPONENT, COMPONENT_LABEL } from "../model/constants.js";
import type { AgentPod } from "./authz.js";

export type Lane = "agent" | "anonymous";

/** What a token claims about its pod (and node), read WITHOUT verification. */
export interface ClaimedBinding {
  namespace: string | undefined;
  podName: string;
  podUid: string;
  /** Bound tokens from Kubernetes ≥ 1.30 name the pod's node too. */
  nodeName: string | undefined;
}

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function text(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** The pod binding in a token's (unverified) claims; undefined without a pod name and uid. */
export function claimedBinding(claims: Record<string, unknown> | undefined): ClaimedBinding | undefined {
  const k8s = record(claims?.["kubernetes.io"]);
  const pod = record(k8s?.["pod"]);
  const podName = text(pod?.["name"]);
  const podUid = text(pod?.["uid"]);
  if (podName === undefined || podUid === undefined) return undefined;
  return {
    namespace: text(k8s?.["namespace"]),
    podName,
    podUid,
    nodeName: text(record(k8s?.["node"])?.["name"]),
  };
}

export interface LaneInput {
  claimed: ClaimedBinding | undefined;
  /** The BrupopNodeName header (already shape-checked). */
  nodeName: string;
  namespace: string;
  /** The claimed pod as the informer holds it now (memory only: a miss never costs a GET). */
  indexed: AgentPod | undefined;
}

/** The lane of a token, and why (for logs and the table test). */
export function chooseLane(input: LaneInput): { lane: Lane; why: string } {
  const { claimed, indexed } = input;
  const anonymous = (why: string): { lane: Lane; why: string } => ({ lane: "anonymous", why });
  if (claimed === undefined) return anonymous("no pod binding in the claims");
  if (claimed.namespace !== input.namespace) return anonymous("claims another namespace");
  if (claimed.nodeName !== undefined && claimed.nodeName !== input.nodeName) {
    return anonymous("claims another node than the request names");
  }
  if (indexed === undefined) return anonymous("no such agent pod in the informer");
  if (indexed.metadata?.uid !== claimed.podUid) return anonymous("pod uid differs");
  if (indexed.metadata?.labels?.[COMPONENT_LABEL] !== AGENT_COMPONENT) return anonymous("not an agent pod");
  if (indexed.spec?.nodeName !== input.nodeName) return anonymous("pod runs on another node");
  return { lane: "agent", why: "names a live agent pod on the named node" };
}

/** The peer address as a bucket key: IPv4-mapped IPv6 folded to IPv4; unknown when absent. */
export function sourceKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined || remoteAddress === "") return "unknown";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  return mapped?.[1] ?? remoteAddress.toLowerCase();
}

export interface BucketParams {
  /** Units when full: reviews that may start at once. */
  capacity: number;
  /** Units coming back per second: failed reviews a second, sustained. */
  refillPerSecond: number;
}

/** A token bucket's state; `undefined` stands for a full bucket (never used, or long refilled). */
export interface Bucket {
  units: number;
  at: number;
}

export function refilled(b: Bucket | undefined, p: BucketParams, now: number): Bucket {
  if (b === undefined) return { units: p.capacity, at: now };
  const elapsed = Math.max(0, now - b.at);
  return { units: Math.min(p.capacity, b.units + (elapsed * p.refillPerSecond) / 1000), at: now };
}

/** Milliseconds until a refilled bucket holds one unit (0: it does now). */
export function msUntilUnit(b: Bucket, p: BucketParams): number {
  if (b.units >= 1) return 0;
  if (p.refillPerSecond <= 0) return 60_000;
  return Math.ceil(((1 - b.units) * 1000) / p.refillPerSecond);
}

export interface LaneBudgets {
  /** Shared by every source of the lane: bounds what the lane costs kube-apiserver. */
  pool: BucketParams;
  /** One per source address inside the lane. */
  perSource: BucketParams;
}

export interface AdmissionBudgets {
  agent: LaneBudgets;
  anonymous: LaneBudgets;
}

/**
 * Failed reviews cost at most 2 + 8 = 10 a second sustained (bursts of 32 + 64); one source at most
 * 0.5 a second in the anonymous lane and 2 a second in the agent lane.
 */
export const DEFAULT_ADMISSION_BUDGETS: AdmissionBudgets = {
  anonymous: { pool: { capacity: 32, refillPerSecond: 2 }, perSource: { capacity: 4, refillPerSecond: 0.5 } },
  agent: { pool: { capacity: 64, refillPerSecond: 8 }, perSource: { capacity: 8, refillPerSecond: 2 } },
};

export type AdmissionDecision =
  | { admit: true; pool: Bucket; source: Bucket }
  | { admit: false; spent: "source" | "pool"; retryAfterMs: number; pool: Bucket; source: Bucket };

/**
 * Whether a review may start now, given its lane's pool and its source's bucket (undefined: full),
 * and both buckets after the decision. Both must hold a unit; the source is checked first, so a
 * source that spent its own bucket costs the pool nothing more.
 */
export function decideAdmission(
  state: { pool: Bucket | undefined; source: Bucket | undefined },
  budgets: LaneBudgets,
  now: number,
): AdmissionDecision {
  const pool = refilled(state.pool, budgets.pool, now);
  const source = refilled(state.source, budgets.perSource, now);
  if (source.units < 1) {
    return {
      admit: false,
      spent: "source",
      retryAfterMs: msUntilUnit(source, budgets.perSource),
      pool,
      source,
    };
  }
  if (pool.units < 1) {
    return { admit: false, spent: "pool", retryAfterMs: msUntilUnit(pool, budgets.pool), pool, source };
  }
  return {
    admit: true,
    pool: { units: pool.units - 1, at: now },
    source: { units: source.units - 1, at: now },
  };
}

/** A bucket after a unit came back (the review accepted the token, or failed upstream). */
export function refunded(b: Bucket | undefined, p: BucketParams, now: number): Bucket {
  const r = refilled(b, p, now);
  return { units: Math.min(p.capacity, r.units + 1), at: now };
}

/** What an admitted review holds, to give back. */
export interface AdmissionTicket {
  lane: Lane;
  source: string;
}

export type Admission =
  | { admit: true; ticket: AdmissionTicket }
  | { admit: false; lane: Lane; spent: "source" | "pool"; retryAfterMs: number };

/** Overrides of DEFAULT_ADMISSION_BUDGETS, field by field. */
export type AdmissionBudgetOverrides = {
  [L in Lane]?: { pool?: Partial<BucketParams>; perSource?: Partial<BucketParams> };
};

export interface ReviewAdmissionOptions {
  budgets?: AdmissionBudgetOverrides;
  /** Source buckets kept per lane (LRU); past it the least recently used goes (default 10,000). */
  maxSources?: number;
  now?: () => number;
}

interface LaneState {
  budgets: LaneBudgets;
  pool: Bucket | undefined;
  sources: Map<string, Bucket>;
}

/** The budgets' state: two pools and the per-source buckets of each lane (bounded). */
export class ReviewAdmission {
  readonly #lanes: Record<Lane, LaneState>;
  readonly #maxSources: number;
  readonly #now: () => number;

  constructor(opts: ReviewAdmissionOptions = {}) {
    const lane = (l: Lane): LaneState => ({
      budgets: {
        pool: { ...DEFAULT_ADMISSION_BUDGETS[l].pool, ...opts.budgets?.[l]?.pool },
        perSource: { ...DEFAULT_ADMISSION_BUDGETS[l].perSource, ...opts.budgets?.[l]?.perSource },
      },
      pool: undefined,
      sources: new Map(),
    });
    this.#lanes = { agent: lane("agent"), anonymous: lane("anonymous") };
    this.#maxSources = Math.max(1, opts.maxSources ?? 10_000);
    this.#now = opts.now ?? Date.now;
  }

  get budgets(): AdmissionBudgets {
    return { agent: this.#lanes.agent.budgets, anonymous: this.#lanes.anonymous.budgets };
  }

  /** Source buckets held (both lanes). */
  get sourcesTracked(): number {
    return this.#lanes.agent.sources.size + this.#lanes.anonymous.sources.size;
  }

  admit(lane: Lane, source: string): Admission {
    const s = this.#lanes[lane];
    const d = decideAdmission({ pool: s.pool, source: s.sources.get(source) }, s.budgets, this.#now());
    s.pool = d.pool;
    this.#store(s, source, d.source);
    if (!d.admit) return { admit: false, lane, spent: d.spent, retryAfterMs: d.retryAfterMs };
    return { admit: true, ticket: { lane, source } };
  }

  refund(ticket: AdmissionTicket): void {
    const s = this.#lanes[ticket.lane];
    const now = this.#now();
    s.pool = refunded(s.pool, s.budgets.pool, now);
    this.#store(s, ticket.source, refunded(s.sources.get(ticket.source), s.budgets.perSource, now));
  }

  #store(s: LaneState, source: string, b: Bucket): void {
    s.sources.delete(source);
    // A full bucket is the same as none: forget it.
    if (b.units >= s.budgets.perSource.capacity) return;
    s.sources.set(source, b);
    while (s.sources.size > this.#maxSources) {
      const oldest = s.sources.keys().next();
      if (oldest.done === true) break;
      s.sources.delete(oldest.value);
    }
  }
}
