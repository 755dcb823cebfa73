// Cache of TokenReview outcomes, so an agent does not cost one TokenReview per request.
//
// - Keyed by SHA-256 of the token: the cache never holds a usable credential.
// - An entry lives `ttlMs` at most, and never past the token's own `exp` claim (read without
//   verification: the TokenReview did the verifying; `exp` only shortens the entry's life).
// - Bounded: past `maxEntries` the least recently used entry goes.
// Only the review is cached. The pod and node checks run on every request (see authenticator.ts).
import { createHash } from "node:crypto";

export function tokenKey(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}

/** The `exp` claim (ms since epoch) of a JWT, or undefined when the token is not a JWT with one. */
export function jwtExpiryMs(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as unknown;
    if (typeof claims !== "object" || claims === null) return undefined;
    const exp = (claims as { exp?: unknown }).exp;
    return typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export interface TtlCacheOptions {
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
}

/** A bounded LRU map whose entries expire; used for token reviews and node uids. */
export class TtlCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(opts: TtlCacheOptions = {}) {
    this.#ttlMs = opts.ttlMs ?? 60_000;
    this.#max = Math.max(1, opts.maxEntries ?? 10_000);
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    // Map keeps insertion order: re-inserting marks the entry most recently used.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value` until min(now + ttl, notAfter). Something already past `notAfter` is not stored. */
  set(key: string, value: V, notAfter?: number, ttlMs: number = this.#ttlMs): void {
    const now = this.#now();
    const expiresAt = Math.min(now + ttlMs, notAfter ?? Number.POSITIVE_INFINITY);
    this.#entries.delete(key);
    if (expiresAt <= now) return;
    this.#entries.set(key, { value, expiresAt });
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
