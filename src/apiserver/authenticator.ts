// Runs the authz.ts decisions against the cluster for one request: headers (shape checked, nothing
// malformed reaches Kubernetes) → the token's own claims (a token that cannot pass costs no review)
// → TokenReview (cached by token hash for 60 s, never past the token's expiry; concurrent reviews of
// one token share one call; reviews admitted by per-lane, per-source budgets that failed reviews
// spend: review-admission.ts) → the service
// account, pod and node checks, which run on every request, so a deleted service account's or pod's
// token stops working as soon as our watch sees the deletion.
import type { Logger } from "pino";
import { BrupopError } from "../errors.js";
import { AGENT_TOKEN_AUDIENCE } from "../model/constants.js";
import {
  authorizeCaller,
  identityFromReview,
  parseAuthHeaders,
  type AgentIdentity,
  type AgentPod,
  type AuthErrorCode,
  type Caller,
  type Decision,
  type TokenReviewStatus,
  tokenClaimsProblem,
  unverifiedClaims,
} from "./authz.js";
import {
  chooseLane,
  claimedBinding,
  ReviewAdmission,
  sourceKey,
  type AdmissionBudgetOverrides,
  type AdmissionTicket,
  type BucketParams,
  type Lane,
} from "./review-admission.js";
import { jwtExpiryMs, tokenKey, TtlCache } from "./token-cache.js";

/** What authentication needs from the cluster (narrow, so tests can fake it). */
export interface AuthBackend {
  reviewToken(token: string, audiences: readonly string[]): Promise<TokenReviewStatus>;
  /** The pod in our namespace, or undefined when it does not exist. */
  getPod(name: string, signal?: AbortSignal): Promise<AgentPod | undefined>;
  /** The node's uid, or undefined when there is no such node. `fresh` bypasses any cache. */
  getNodeUid(name: string, fresh: boolean, signal?: AbortSignal): Promise<string | undefined>;
  /** The uid of the service account `name` in our namespace, or undefined when it does not exist. */
  getServiceAccountUid?(name: string, signal?: AbortSignal): Promise<string | undefined>;
  /**
   * The agent pod `name` from memory only (the informer), never a Kubernetes call: it picks the
   * review lane of tokens not yet reviewed, so a forged name must cost nothing. Absent: every
   * unknown token goes to the anonymous lane.
   */
  peekAgentPod?(name: string): AgentPod | undefined;
}

/** cache_hit, reviewed (accepted), rejected (by the review), refused (by the token's own claims, no
 * review), throttled (review budget of the token's lane or source spent: 429), error. */
export type ReviewOutcome = "cache_hit" | "reviewed" | "rejected" | "refused" | "throttled" | "error";

export interface AuthenticatorOptions {
  backend: AuthBackend;
  namespace: string;
  audiences?: readonly string[];
  /** Life of a cached successful review (default 60 s; never past the token's expiry). */
  cacheTtlMs?: number;
  /** Life of a cached failed review (default 10 s): a flood of bad tokens costs few reviews. */
  negativeTtlMs?: number;
  cacheMaxEntries?: number;
  /** The anonymous lane's pool (see review-admission.ts); kept under its old name. */
  reviewBudget?: Partial<BucketParams>;
  /** Budgets of both lanes (pool and per source), over DEFAULT_ADMISSION_BUDGETS. */
  admission?: AdmissionBudgetOverrides;
  logger?: Logger;
  now?: () => number;
  /** Told about every review lookup (metrics). */
  onReview?: (outcome: ReviewOutcome) => void;
  /** Told about every admission decision: the lane, and admitted or which budget was spent. */
  onAdmission?: (lane: Lane, result: AdmissionResult) => void;
}

/** admitted (a unit taken), vouched (a token a review accepted before: no budget), or 429. */
export type AdmissionResult = "admitted" | "vouched" | "source_spent" | "pool_spent";

/** How long a token a review accepted is remembered as genuine (never past its expiry). */
const VOUCHED_TTL_MS = 3_600_000;

/**
 * 60 s: the service account, pod and node are checked on every request from watches, so a re-review
 * only adds the cases no watch shows (a watch down, the signing key rotated). At 10 s (2026-12-01
 * to 12-07) an agent's token was re-reviewed at almost every request of an update, ~3 TokenReviews
 * per node update in the bench instead of ~0.8 (issue 30).
 */
export const DEFAULT_REVIEW_CACHE_TTL_MS = 60_000;

function fail(decision: { code: AuthErrorCode; reason: string }): never {
  throw new BrupopError(decision.code, decision.reason);
}

export class Authenticator {
  readonly #backend: AuthBackend;
  readonly #namespace: string;
  readonly #audiences: readonly string[];
  readonly #cache: TtlCache<Decision<AgentIdentity>>;
  readonly #negativeTtlMs: number;
  readonly #inflight = new Map<string, Promise<Decision<AgentIdentity>>>();
  readonly #admission: ReviewAdmission;
  /** Hashes of tokens a review accepted: their re-review (cache entry expired) needs no budget. */
  readonly #vouched: TtlCache<true>;
  readonly #now: () => number;
  readonly #logger: Logger | undefined;
  readonly #onReview: ((outcome: ReviewOutcome) => void) | undefined;
  readonly #onAdmission: ((lane: Lane, result: AdmissionResult) => void) | undefined;

  constructor(opts: AuthenticatorOptions) {
    this.#backend = opts.backend;
    this.#namespace = opts.namespace;
    this.#audiences = opts.audiences ?? [AGENT_TOKEN_AUDIENCE];
    this.#cache = new TtlCache({
      ttlMs: opts.cacheTtlMs ?? DEFAULT_REVIEW_CACHE_TTL_MS,
      maxEntries: opts.cacheMaxEntries,
      now: opts.now,
    });
    this.#vouched = new TtlCache({ ttlMs: VOUCHED_TTL_MS, maxEntries: opts.cacheMaxEntries, now: opts.now });
    this.#negativeTtlMs = opts.negativeTtlMs ?? 10_000;
    this.#logger = opts.logger;
    this.#onReview = opts.onReview;
    this.#onAdmission = opts.onAdmission;
    this.#now = opts.now ?? Date.now;
    const anonymous = opts.admission?.anonymous;
    this.#admission = new ReviewAdmission({
      now: this.#now,
      budgets: {
        agent: opts.admission?.agent,
        anonymous: { ...anonymous, pool: { ...anonymous?.pool, ...opts.reviewBudget } },
      },
    });
  }

  get cacheSize(): number {
    return this.#cache.size;
  }

  /**
   * Resolves to the authorised caller, or throws BRUPOP_E_UNAUTHENTICATED / BRUPOP_E_FORBIDDEN /
   * BRUPOP_E_TOO_MANY_REQUESTS / BRUPOP_E_UPSTREAM. `remoteAddress`: the TCP peer (never a header),
   * whose budget an unknown token's review spends.
   */
  async authenticate(
    headers: Record<string, string | string[] | undefined>,
    signal?: AbortSignal,
    remoteAddress?: string,
  ): Promise<Caller> {
    const claim = parseAuthHeaders(headers);
    if (!claim.ok) fail(claim);
    const { token, nodeName, nodeUid } = claim.value;
    const key = tokenKey(token);
    const identity = await this.#identity(key, token, nodeName, sourceKey(remoteAddress));
    if (!identity.ok) fail(identity);

    const sa =
      this.#backend.getServiceAccountUid === undefined
        ? undefined
        : { uid: await this.#backend.getServiceAccountUid(identity.value.serviceAccount, signal) };
    const pod = await this.#backend.getPod(identity.value.podName, signal);
    let currentNodeUid = await this.#backend.getNodeUid(nodeName, false, signal);
    // A cached uid may predate a node re-created under the same name: ask again before refusing.
    if (currentNodeUid !== nodeUid) currentNodeUid = await this.#backend.getNodeUid(nodeName, true, signal);
    const decision = authorizeCaller(identity.value, pod, currentNodeUid, { nodeName, nodeUid }, sa);
    if (!decision.ok) {
      // The pod or service account is gone: forget the review, so the next attempt asks again.
      if (decision.code === "BRUPOP_E_UNAUTHENTICATED") {
        this.#cache.delete(key);
        this.#vouched.delete(key);
      }
      this.#logger?.info(
        { node: nodeName, pod: identity.value.podName, reason: decision.reason },
        "agent request refused",
      );
      fail(decision);
    }
    return decision.value;
  }

  /** The review lane of a token not yet reviewed (its claims unverified; memory lookups only). */
  #laneOf(token: string, nodeName: string): Lane {
    const claimed = claimedBinding(unverifiedClaims(token));
    const indexed = claimed === undefined ? undefined : this.#backend.peekAgentPod?.(claimed.podName);
    return chooseLane({ claimed, nodeName, namespace: this.#namespace, indexed }).lane;
  }

  async #identity(
    key: string,
    token: string,
    nodeName: string,
    source: string,
  ): Promise<Decision<AgentIdentity>> {
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      this.#onReview?.("cache_hit");
      return cached;
    }
    let pending = this.#inflight.get(key);
    if (pending === undefined) {
      // Refused on its own claims: no review, and not cached (checking again is as cheap).
      const problem = tokenClaimsProblem(token, this.#audiences, this.#now());
      if (problem !== undefined) {
        this.#onReview?.("refused");
        return { ok: false, code: "BRUPOP_E_UNAUTHENTICATED", reason: problem };
      }
      const lane = this.#laneOf(token, nodeName);
      // A token a review accepted before is genuine: its re-review (the 60 s entry ran out) only
      // re-checks revocation, and costs no budget, so a flood cannot stop agents already seen.
      if (this.#vouched.get(key) === true) {
        this.#onAdmission?.(lane, "vouched");
        pending = this.#review(key, token, undefined).finally(() => this.#inflight.delete(key));
        this.#inflight.set(key, pending);
        return pending;
      }
      const admission = this.#admission.admit(lane, source);
      if (!admission.admit) {
        this.#onAdmission?.(lane, admission.spent === "source" ? "source_spent" : "pool_spent");
        this.#onReview?.("throttled");
        throw new BrupopError("BRUPOP_E_TOO_MANY_REQUESTS", "too many unverified tokens; retry later", {
          retryAfterMs: admission.retryAfterMs,
          lane,
        });
      }
      this.#onAdmission?.(lane, "admitted");
      // Shared by every request with this token, so no one request's abort signal applies to it.
      pending = this.#review(key, token, admission.ticket).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  /** `ticket`: the admission's units (undefined: a vouched token, admitted without budget). */
  async #review(
    key: string,
    token: string,
    ticket: AdmissionTicket | undefined,
  ): Promise<Decision<AgentIdentity>> {
    let status: TokenReviewStatus;
    try {
      status = await this.#backend.reviewToken(token, this.#audiences);
    } catch (err) {
      if (ticket !== undefined) this.#admission.refund(ticket); // not the caller's doing
      this.#onReview?.("error");
      throw err;
    }
    const decision = withClaimedServiceAccountUid(
      identityFromReview(status, { namespace: this.#namespace, audiences: this.#audiences }),
      token,
    );
    if (decision.ok && ticket !== undefined) this.#admission.refund(ticket);
    this.#onReview?.(decision.ok ? "reviewed" : "rejected");
    if (decision.ok) {
      this.#cache.set(key, decision, jwtExpiryMs(token));
      this.#vouched.set(key, true, jwtExpiryMs(token));
    } else {
      this.#cache.set(key, decision, jwtExpiryMs(token), this.#negativeTtlMs);
      this.#vouched.delete(key);
    }
    return decision;
  }
}

/** The service account uid from the (now verified) token's claims, when the review did not give one. */
function withClaimedServiceAccountUid(d: Decision<AgentIdentity>, token: string): Decision<AgentIdentity> {
  if (!d.ok || d.value.serviceAccountUid !== undefined) return d;
  const k8s = unverifiedClaims(token)?.["kubernetes.io"];
  const sa =
    typeof k8s === "object" && k8s !== null
      ? (k8s as { serviceaccount?: unknown }).serviceaccount
      : undefined;
  const uid = typeof sa === "object" && sa !== null ? (sa as { uid?: unknown }).uid : undefined;
  return typeof uid === "string" && uid !== ""
    ? { ok: true, value: { ...d.value, serviceAccountUid: uid } }
    : d;
}
