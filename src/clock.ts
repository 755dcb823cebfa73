// Time is injected everywhere decisions are made, so tests can pin it.
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock tests can move by hand. */
export class ManualClock implements Clock {
  #ms: number;
  constructor(start: Date | string | number) {
    this.#ms = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.#ms);
  }
  advance(ms: number): void {
    this.#ms += ms;
  }
  set(at: Date | string | number): void {
    this.#ms = new Date(at).getTime();
  }
}

/**
 * Monotonic time and timers: what loops wait on (tick periods, back-off, deadlines). Separate from
 * `Clock`, which dates decisions: a test may pin the decision clock and still let the loop run on
 * real time, or drive the loop with FakeTimers.
 */
export interface Timers {
  /** Monotonic milliseconds (for durations and deadlines, never for dates). */
  nowMs(): number;
  /** Runs fn after ms; returns a function that cancels it. */
  set(ms: number, fn: () => void): () => void;
}

export const systemTimers: Timers = {
  nowMs: () => performance.now(),
  set(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/** Timers tests move by hand; `advance` fires what falls due, in order, letting promises settle. */
export class FakeTimers implements Timers {
  #ms: number;
  #pending: PendingTimer[] = [];
  #seq = 0;

  constructor(startMs = 0) {
    this.#ms = startMs;
  }

  nowMs(): number {
    return this.#ms;
  }

  set(ms: number, fn: () => void): () => void {
    const entry: PendingTimer = { at: this.#ms + Math.max(0, ms), seq: this.#seq++, fn };
    this.#pending.push(entry);
    return () => {
      this.#pending = this.#pending.filter((p) => p !== entry);
    };
  }

  /** Timers not yet fired nor cancelled. */
  get pending(): number {
    return this.#pending.length;
  }

  /**
   * Moves time forward by ms. Each due timer fires at its own time, and pending promise callbacks
   * run before the next one (so an async loop woken by a timer gets to its next wait).
   */
  async advance(ms: number): Promise<void> {
    const end = this.#ms + ms;
    await settle();
    for (;;) {
      const next = this.#nextDue(end);
      if (next === undefined) break;
      this.#pending = this.#pending.filter((p) => p !== next);
      this.#ms = Math.max(next.at, this.#ms);
      next.fn();
      await settle();
    }
    this.#ms = end;
  }

  #nextDue(end: number): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const p of this.#pending) {
      if (p.at > end) continue;
      if (best === undefined || p.at < best.at || (p.at === best.at && p.seq < best.seq)) best = p;
    }
    return best;
  }
}

/** Lets every promise callback that is ready run (a few macrotask turns). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
