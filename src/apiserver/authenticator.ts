// Runs the authz.ts decisions against the cluster for one request: headers → TokenReview (cached by
// token hash, concurrent reviews of one token share one call) → the pod and node checks, which run on
// every request, so a deleted pod's token stops working as soon as our pod cache sees the deletion.
import type { Logger } from "pino";
import { BrupopError } from "../errors.js";
import { AGENT_TOKEN_AUDIENCE } from "../model/constants.js";
import {
  authorizeCaller,
  identityFromReview,
  parseAuthHeaders,
  type AgentIdentity,
  type AgentPod,
  type Caller,
  type Decision,
  type TokenReviewStatus,
} from "./authz.js";
import { jwtExpiryMs, tokenKey, TtlCache } from "./token-cache.js";

/** What authentication needs from the cluster (narrow, so tests can fake it). */
export interface AuthBackend {
  reviewToken(token: string, audiences: readonly string[]): Promise<TokenReviewStatus>;
  /** The pod in our namespace, or undefined when it does not exist. */
  getPod(name: string, signal?: AbortSignal): Promise<AgentPod | undefined>;
  /** The node's uid, or undefined when there is no such node. `fresh` bypasses any cache. */
  getNodeUid(name: string, fresh: boolean, signal?: AbortSignal): Promise<string | undefined>;
}

export type ReviewOutcome = "cache_hit" | "reviewed" | "rejected" | "error";

export interface AuthenticatorOptions {
  backend: AuthBackend;
  namespace: string;
  audiences?: readonly string[];
  /** Life of a cached successful review (default 60 s; never past the token's expiry). */
  cacheTtlMs?: number;
  /** Life of a cached failed review (default 10 s): a flood of bad tokens costs few reviews. */
  negativeTtlMs?: number;
  cacheMaxEntries?: number;
  logger?: Logger;
  now?: () => number;
  /** Told about every review lookup (metrics). */
  onReview?: (outcome: ReviewOutcome) => void;
}

function fail(decision: { code: "BRUPOP_E_UNAUTHENTICATED" | "BRUPOP_E_FORBIDDEN"; reason: string }): never {
  throw new BrupopError(decision.code, decision.reason);
}

export class Authenticator {
  readonly #backend: AuthBackend;
  readonly #namespace: string;
  readonly #audiences: readonly string[];
  readonly #cache: TtlCache<Decision<AgentIdentity>>;
  readonly #negativeTtlMs: number;
  readonly #inflight = new Map<string, Promise<Decision<AgentIdentity>>>();
  readonly #logger: Logger | undefined;
  readonly #onReview: ((outcome: ReviewOutcome) => void) | undefined;

  constructor(opts: AuthenticatorOptions) {
    this.#backend = opts.backend;
    this.#namespace = opts.namespace;
    this.#audiences = opts.audiences ?? [AGENT_TOKEN_AUDIENCE];
    this.#cache = new TtlCache({
      ttlMs: opts.cacheTtlMs ?? 60_000,
      maxEntries: opts.cacheMaxEntries,
      now: opts.now,
    });
    this.#negativeTtlMs = opts.negativeTtlMs ?? 10_000;
    this.#logger = opts.logger;
    this.#onReview = opts.onReview;
  }

  get cacheSize(): number {
    return this.#cache.size;
  }

  /** Resolves to the authorised caller, or throws BRUPOP_E_UNAUTHENTICATED / BRUPOP_E_FORBIDDEN / BRUPOP_E_UPSTREAM. */
  async authenticate(
    headers: Record<string, string | string[] | undefined>,
    signal?: AbortSignal,
  ): Promise<Caller> {
    const claim = parseAuthHeaders(headers);
    if (!claim.ok) fail(claim);
    const { token, nodeName, nodeUid } = claim.value;
    const key = tokenKey(token);
    const identity = await this.#identity(key, token);
    if (!identity.ok) fail(identity);

    const pod = await this.#backend.getPod(identity.value.podName, signal);
    let currentNodeUid = await this.#backend.getNodeUid(nodeName, false, signal);
    // A cached uid may predate a node re-created under the same name: ask again before refusing.
    if (currentNodeUid !== nodeUid) currentNodeUid = await this.#backend.getNodeUid(nodeName, true, signal);
    const decision = authorizeCaller(identity.value, pod, currentNodeUid, { nodeName, nodeUid });
    if (!decision.ok) {
      // The pod is gone: forget the review, so the next attempt asks the API server again.
      if (decision.code === "BRUPOP_E_UNAUTHENTICATED") this.#cache.delete(key);
      this.#logger?.info(
        { node: nodeName, pod: identity.value.podName, reason: decision.reason },
        "agent request refused",
      );
      fail(decision);
    }
    return decision.value;
  }

  async #identity(key: string, token: string): Promise<Decision<AgentIdentity>> {
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      this.#onReview?.("cache_hit");
      return cached;
    }
    let pending = this.#inflight.get(key);
    if (pending === undefined) {
      // Shared by every request with this token, so no one request's abort signal applies to it.
      pending = this.#review(key, token).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  async #review(key: string, token: string): Promise<Decision<AgentIdentity>> {
    let status: TokenReviewStatus;
    try {
      status = await this.#backend.reviewToken(token, this.#audiences);
    } catch (err) {
      this.#onReview?.("error");
      throw err;
    }
    const decision = identityFromReview(status, { namespace: this.#namespace, audiences: this.#audiences });
    this.#onReview?.(decision.ok ? "reviewed" : "rejected");
    if (decision.ok) this.#cache.set(key, decision, jwtExpiryMs(token));
    else this.#cache.set(key, decision, jwtExpiryMs(token), this.#negativeTtlMs);
    return decision;
  }
}
