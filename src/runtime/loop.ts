// The one wait/wake primitive the long-running loops share (controller tick loop, agent loop,
// informer back-off, leader elector): a loop sleeps until its period elapses, until something wakes
// it (a cache event, a poke), or until it is stopped; a failing loop backs off with jitter. Time comes
// from injected Timers, so tests drive the loops with FakeTimers instead of waiting on real time.
import { systemTimers, type Timers } from "../clock.js";

/**
 * Sleep-or-wake for one loop. A wake that arrives while the loop is busy is remembered: the next
 * sleep returns at once (no event is lost between two sleeps). After stop() every sleep returns at
 * once and no timer is left behind.
 */
export class Wakeup {
  readonly #timers: Timers;
  #pending = false;
  #stopped = false;
  #cancelTimer: (() => void) | undefined;
  #dueMs = Infinity;
  #sleeper: (() => void) | undefined;

  constructor(timers: Timers = systemTimers) {
    this.#timers = timers;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Wakes the sleeper now (or makes the next sleep return at once). */
  wake(): void {
    if (this.#stopped) return;
    this.#clearTimer();
    this.#pending = true;
    this.#sleeper?.();
  }

  /** Wakes the sleeper in `ms`, unless a wake is already due sooner (coalesces bursts). */
  wakeIn(ms: number): void {
    if (this.#stopped) return;
    const due = this.#timers.nowMs() + ms;
    if (this.#cancelTimer !== undefined && due >= this.#dueMs) return;
    this.#clearTimer();
    this.#dueMs = due;
    this.#cancelTimer = this.#timers.set(ms, () => {
      this.#cancelTimer = undefined;
      this.wake();
    });
  }

  /** Forgets a wake that arrived before now (the loop is about to look at the world anyway). */
  discard(): void {
    this.#pending = false;
  }

  /**
   * Waits until woken, or `ms` elapsed (when given), or stop(). Returns at once if a wake is pending
   * or the loop is stopped; a timer still set when it returns is cancelled.
   */
  sleep(ms?: number): Promise<void> {
    if (this.#pending || this.#stopped) {
      this.#pending = false;
      return Promise.resolve();
    }
    if (ms !== undefined) this.wakeIn(ms);
    return new Promise((resolve) => {
      this.#sleeper = () => {
        this.#sleeper = undefined;
        this.#pending = false;
        this.#clearTimer();
        resolve();
      };
    });
  }

  /** Ends every sleep, now and later. */
  stop(): void {
    this.#stopped = true;
    this.#clearTimer();
    this.#sleeper?.();
  }

  #clearTimer(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#dueMs = Infinity;
  }
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** [0, 1) source of jitter (default Math.random). */
  random?: () => number;
}

/**
 * Delay before retry number `failures` (1-based): exponential from initialMs, capped at maxMs, with
 * "equal jitter" (a random point in the upper half) so failing clients do not retry in lockstep.
 */
export function backoffDelay(failures: number, opts: BackoffOptions): number {
  const random = opts.random ?? Math.random;
  const base = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(Math.max(failures, 1) - 1, 16));
  return Math.round(base / 2 + random() * (base / 2));
}

/** client-go's wait.Jitter: ms stretched by up to `factor` (e.g. 0.2 → up to 1.2 × ms). */
export function jitter(ms: number, factor: number, random: () => number = Math.random): number {
  return ms * (1 + random() * factor);
}

/** Sleeps ms on the given timers; resolves early (never rejects) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal, timers: Timers = systemTimers): Promise<void> {
  if (signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      cancel();
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const cancel = timers.set(ms, done);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Runs `fn` over `items` with at most `limit` calls in flight (the controller's writes and checks). */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
