// Leader election over a coordination.k8s.io/v1 Lease, with client-go's semantics:
//
// - A candidate may take the Lease when it is free (no holder) or when the holder has not renewed it
//   for leaseDuration, measured on OUR monotonic clock from when we first saw the current record (so
//   clock skew between replicas does not matter).
// - The leader renews every retryPeriod. If no renewal has succeeded within renewDeadline of the last
//   successful one (measured from when that request was SENT) it stops leading at once, by timer,
//   even while a renewal is still in flight. renewDeadline < leaseDuration, so a stale leader has
//   stopped before any other candidate can consider the Lease expired.
// - Every write is conditional on the resourceVersion we read (optimistic concurrency): two
//   candidates racing for a free Lease cannot both win.
//
// The Lease is reached through the narrow LeaseStore interface so the state machine can be tested
// against an in-memory store; KubeLeaseStore is the real one.
import type { Logger } from "pino";
import { BrupopError, isConflict, isNotFound } from "../errors.js";
import { systemClock, systemTimers, type Clock, type Timers } from "../clock.js";
import { jitter, Wakeup } from "../runtime/loop.js";
import type { KubeApi } from "./api.js";
import { paths } from "./objects.js";

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number | null;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number | null;
}

export interface LeaseObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; namespace?: string; resourceVersion?: string; [key: string]: unknown };
  spec?: LeaseSpec;
}

/** Storage for one Lease. Writes are conditional on `metadata.resourceVersion`. */
export interface LeaseStore {
  /** The Lease, or null if it does not exist. */
  get(signal?: AbortSignal): Promise<LeaseObject | null>;
  /** Creates the Lease; null if it already exists (someone was faster). */
  create(lease: LeaseObject, signal?: AbortSignal): Promise<LeaseObject | null>;
  /** Replaces the Lease if its resourceVersion still matches; null on a conflict. */
  update(lease: LeaseObject, signal?: AbortSignal): Promise<LeaseObject | null>;
}

/** Handed to onStartedLeading: valid until leadership ends, then its signal aborts. */
export interface LeadershipTerm {
  /** Aborted the moment leadership is lost (use it to cancel in-flight requests). */
  readonly signal: AbortSignal;
  /** True while this term is current and the renew deadline has not passed. Check before writes. */
  isActive(): boolean;
}

export interface LeaderElectionOptions {
  store: LeaseStore;
  identity: string;
  logger: Logger;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Wall clock for the timestamps written into the Lease. */
  clock?: Clock;
  /** What the loop and the renew-deadline timer wait on (default real timers). */
  timers?: Timers;
  /** Monotonic milliseconds for every deadline (default the timers' clock: performance.now). */
  monotonicMs?: () => number;
  onStartedLeading?: (term: LeadershipTerm) => void;
  onStoppedLeading?: () => void;
  /** Called when the observed holder changes (null: nobody holds it). */
  onNewLeader?: (identity: string | null) => void;
}

export const DEFAULT_LEASE_DURATION_MS = 15_000;
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
export const DEFAULT_RETRY_PERIOD_MS = 2_000;

/** Outcome of one acquire-or-renew attempt. */
export type AttemptOutcome = "acquired" | "held-by-other" | "conflict" | "error";

/** Lease timestamps are MicroTime: RFC 3339 with exactly six fractional digits. */
export function toMicroTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

function holderOf(lease: LeaseObject | null): string | null {
  const h = lease?.spec?.holderIdentity;
  return h === undefined || h === null || h === "" ? null : h;
}

/** Identity of a record for change detection (what client-go compares as raw bytes). */
function recordKey(lease: LeaseObject): string {
  const s = lease.spec ?? {};
  return JSON.stringify([
    s.holderIdentity ?? null,
    s.leaseDurationSeconds ?? null,
    s.acquireTime ?? null,
    s.renewTime ?? null,
    s.leaseTransitions ?? null,
  ]);
}

export function validateTimings(
  leaseDurationMs: number,
  renewDeadlineMs: number,
  retryPeriodMs: number,
): void {
  const fail = (msg: string): never => {
    throw new BrupopError("BRUPOP_E_CONFIG", `leader election: ${msg}`, {
      leaseDurationMs,
      renewDeadlineMs,
      retryPeriodMs,
    });
  };
  if (!(retryPeriodMs > 0)) fail("retryPeriod must be positive");
  if (!(leaseDurationMs > renewDeadlineMs)) fail("leaseDuration must be greater than renewDeadline");
  // client-go's rule: renewals jitter by up to 1.2 × retryPeriod and must fit before the deadline.
  if (!(renewDeadlineMs > 1.2 * retryPeriodMs)) fail("renewDeadline must be greater than 1.2 × retryPeriod");
  if (leaseDurationMs % 1000 !== 0) fail("leaseDuration must be whole seconds (the Lease stores seconds)");
}

export class LeaderElector {
  readonly #o: Required<
    Omit<LeaderElectionOptions, "onStartedLeading" | "onStoppedLeading" | "onNewLeader">
  > &
    LeaderElectionOptions;
  #observed: LeaseObject | null = null;
  #observedKey = "";
  #observedAtMs = 0;
  #lastHolder: string | null | undefined = undefined;
  #leading = false;
  #lastRenewSentMs = 0;
  #term: AbortController | undefined;
  #cancelDeadline: (() => void) | undefined;
  #started = false;
  /** Set by stop(): results of requests still in flight are ignored from then on. */
  #stopped = false;
  #loop: Promise<void> | undefined;
  /** The retry-period sleep; stop() ends it. */
  readonly #wakeup: Wakeup;
  #inflight: AbortController | undefined;

  constructor(opts: LeaderElectionOptions) {
    const timers = opts.timers ?? systemTimers;
    const o = {
      leaseDurationMs: DEFAULT_LEASE_DURATION_MS,
      renewDeadlineMs: DEFAULT_RENEW_DEADLINE_MS,
      retryPeriodMs: DEFAULT_RETRY_PERIOD_MS,
      clock: systemClock,
      timers,
      monotonicMs: () => timers.nowMs(),
      ...opts,
    };
    validateTimings(o.leaseDurationMs, o.renewDeadlineMs, o.retryPeriodMs);
    if (o.identity === "")
      throw new BrupopError("BRUPOP_E_CONFIG", "leader election: identity must not be empty");
    this.#o = o;
    this.#wakeup = new Wakeup(o.timers);
  }

  get identity(): string {
    return this.#o.identity;
  }

  /** True while we lead and the renew deadline has not passed (checked on the monotonic clock). */
  isLeader(): boolean {
    return this.#leading && this.#o.monotonicMs() - this.#lastRenewSentMs < this.#o.renewDeadlineMs;
  }

  /** Holder of the Lease as last observed (may be us). */
  get observedLeader(): string | null {
    return holderOf(this.#observed);
  }

  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#loop = this.#run();
  }

  /**
   * Stops campaigning. With `release` (the default, for a clean shutdown) a held Lease is handed
   * back at once so another replica can take over without waiting for it to expire; without it the
   * Lease is left as a crash would leave it.
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const wasLeading = this.#leading;
    this.#inflight?.abort();
    this.#wakeup.stop();
    this.#lose("stopping");
    await this.#loop;
    if (wasLeading && opts.release !== false) await this.#release();
  }

  /**
   * One acquire-or-renew attempt (exposed for tests; the loop calls it every retryPeriod).
   * Updates leadership state: becoming leader starts a term, seeing another valid holder ends ours.
   */
  async attempt(signal?: AbortSignal): Promise<AttemptOutcome> {
    const sentAt = this.#o.monotonicMs();
    let outcome: AttemptOutcome;
    try {
      outcome = await this.#tryAcquireOrRenew(signal);
    } catch (err) {
      if (!this.#stopped) this.#o.logger.warn({ err }, "leader election: lease request failed");
      outcome = "error";
    }
    if (this.#stopped) return outcome;
    if (outcome === "acquired") {
      // A success only counts if it was sent recently enough; once a term has ended (deadline timer)
      // a late success starts a NEW term, so the old term's signal stays aborted.
      if (this.#leading) {
        this.#lastRenewSentMs = sentAt;
        this.#armDeadline();
      } else if (this.#o.monotonicMs() - sentAt < this.#o.renewDeadlineMs) {
        this.#begin(sentAt);
      }
    } else if (outcome === "held-by-other") {
      this.#lose("another replica holds the lease");
    } else if (this.#leading && !this.isLeader()) {
      this.#lose("renew deadline passed");
    }
    return outcome;
  }

  async #tryAcquireOrRenew(signal: AbortSignal | undefined): Promise<AttemptOutcome> {
    const { store, identity } = this.#o;
    const now = toMicroTime(this.#o.clock.now());
    const leaseSeconds = this.#o.leaseDurationMs / 1000;
    const existing = await store.get(signal);
    if (existing === null) {
      const created = await store.create(
        {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: {},
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: leaseSeconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        },
        signal,
      );
      if (created === null) return "conflict";
      this.#observe(created);
      return "acquired";
    }
    this.#observe(existing);
    const spec = existing.spec ?? {};
    const holder = holderOf(existing);
    const durationMs = (spec.leaseDurationSeconds ?? leaseSeconds) * 1000;
    if (holder !== null && holder !== identity && this.#observedAtMs + durationMs > this.#o.monotonicMs()) {
      return "held-by-other";
    }
    const mine = holder === identity;
    const updated = await store.update(
      {
        ...existing,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds: leaseSeconds,
          acquireTime: mine ? (spec.acquireTime ?? now) : now,
          renewTime: now,
          leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
        },
      },
      signal,
    );
    if (updated === null) return "conflict";
    this.#observe(updated);
    return "acquired";
  }

  #observe(lease: LeaseObject): void {
    const key = recordKey(lease);
    if (key !== this.#observedKey) {
      this.#observedKey = key;
      this.#observedAtMs = this.#o.monotonicMs();
    }
    this.#observed = lease;
    const holder = holderOf(lease);
    if (holder !== this.#lastHolder) {
      this.#lastHolder = holder;
      this.#o.logger.info({ leader: holder }, "leader election: lease holder changed");
      this.#safe(() => this.#o.onNewLeader?.(holder));
    }
  }

  #begin(sentAt: number): void {
    this.#leading = true;
    this.#lastRenewSentMs = sentAt;
    const term = new AbortController();
    this.#term = term;
    this.#armDeadline();
    this.#o.logger.info({ identity: this.#o.identity }, "leader election: started leading");
    this.#safe(() =>
      this.#o.onStartedLeading?.({
        signal: term.signal,
        isActive: () => !term.signal.aborted && this.isLeader(),
      }),
    );
  }

  #lose(reason: string): void {
    this.#cancelDeadline?.();
    this.#cancelDeadline = undefined;
    if (!this.#leading) return;
    this.#leading = false;
    this.#term?.abort();
    this.#term = undefined;
    const level = reason === "stopping" ? "info" : "warn";
    this.#o.logger[level]({ identity: this.#o.identity, reason }, "leader election: stopped leading");
    this.#safe(() => this.#o.onStoppedLeading?.());
  }

  #armDeadline(): void {
    this.#cancelDeadline?.();
    const left = this.#lastRenewSentMs + this.#o.renewDeadlineMs - this.#o.monotonicMs();
    this.#cancelDeadline = this.#o.timers.set(Math.max(0, left), () => {
      this.#cancelDeadline = undefined;
      if (this.#leading && !this.isLeader()) {
        this.#inflight?.abort();
        this.#lose("renew deadline passed");
      } else if (this.#leading) {
        this.#armDeadline(); // a timer that fired a hair early
      }
    });
  }

  #safe(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#o.logger.error({ err }, "leader election: callback threw; ignored");
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const inflight = new AbortController();
      this.#inflight = inflight;
      // While leading, a renewal may take at most until the deadline; while campaigning, one period.
      const budget = this.#leading
        ? Math.max(1, this.#lastRenewSentMs + this.#o.renewDeadlineMs - this.#o.monotonicMs())
        : this.#o.renewDeadlineMs;
      const cancelBudget = this.#o.timers.set(budget, () => inflight.abort());
      await this.attempt(inflight.signal);
      cancelBudget();
      if (this.#stopped) break;
      // client-go jitters campaign attempts (factor 1.2) so candidates do not move in lockstep.
      const period = this.#leading ? this.#o.retryPeriodMs : jitter(this.#o.retryPeriodMs, 0.2);
      await this.#wakeup.sleep(period);
    }
  }

  /** Hands the Lease back (holder cleared, duration 1 s), only if it is still ours. */
  async #release(): Promise<void> {
    try {
      const current = await this.#o.store.get(AbortSignal.timeout(this.#o.renewDeadlineMs));
      if (current === null || holderOf(current) !== this.#o.identity) return;
      const now = toMicroTime(this.#o.clock.now());
      const released = await this.#o.store.update(
        {
          ...current,
          spec: {
            ...current.spec,
            holderIdentity: null,
            leaseDurationSeconds: 1,
            acquireTime: now,
            renewTime: now,
          },
        },
        AbortSignal.timeout(this.#o.renewDeadlineMs),
      );
      if (released !== null) this.#observe(released);
      this.#o.logger.info({ released: released !== null }, "leader election: released the lease");
    } catch (err) {
      this.#o.logger.warn({ err }, "leader election: could not release the lease");
    }
  }
}

/** LeaseStore over the Kubernetes API (coordination.k8s.io/v1). */
export class KubeLeaseStore implements LeaseStore {
  readonly #api: KubeApi;
  readonly #name: string;
  readonly #namespace: string;

  constructor(api: KubeApi, namespace: string, name: string) {
    this.#api = api;
    this.#namespace = namespace;
    this.#name = name;
  }

  #what(method: string): string {
    return `${method} lease ${this.#namespace}/${this.#name}`;
  }

  get(signal?: AbortSignal): Promise<LeaseObject | null> {
    const lease = this.#api.get<LeaseObject>(paths.lease(this.#namespace, this.#name), {
      signal,
      what: this.#what("GET"),
    });
    return nullOn(lease, isNotFound);
  }

  create(lease: LeaseObject, signal?: AbortSignal): Promise<LeaseObject | null> {
    const body = { ...lease, metadata: { ...lease.metadata, name: this.#name, namespace: this.#namespace } };
    const created = this.#api.create<LeaseObject>(paths.leases(this.#namespace), body, {
      signal,
      what: this.#what("POST"),
    });
    return nullOn(created, isConflict);
  }

  update(lease: LeaseObject, signal?: AbortSignal): Promise<LeaseObject | null> {
    const updated = this.#api.replace<LeaseObject>(paths.lease(this.#namespace, this.#name), lease, {
      signal,
      what: this.#what("PUT"),
    });
    return nullOn(updated, (err) => isConflict(err) || isNotFound(err));
  }
}

/** The call's result, or null when it failed in the way `expected` says (another candidate won). */
async function nullOn<T>(call: Promise<T>, expected: (err: unknown) => boolean): Promise<T | null> {
  try {
    return await call;
  } catch (err) {
    if (expected(err)) return null;
    throw err;
  }
}
