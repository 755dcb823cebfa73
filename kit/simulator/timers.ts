// Timers the simulator schedules its command completions and reboots with. Injected so unit
// tests can run a host deterministically: ManualTimers moves a ManualClock and fires what is due.
import type { ManualClock } from "../../src/clock.js";

export interface Timers {
  /** Runs fn after ms; returns a function that cancels it. */
  set(ms: number, fn: () => void): () => void;
}

export const realTimers: Timers = {
  set(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

export class ManualTimers implements Timers {
  readonly clock: ManualClock;
  #pending: Pending[] = [];
  #seq = 0;

  constructor(clock: ManualClock) {
    this.clock = clock;
  }

  set(ms: number, fn: () => void): () => void {
    const entry: Pending = { at: this.clock.now().getTime() + Math.max(0, ms), seq: this.#seq++, fn };
    this.#pending.push(entry);
    return () => {
      this.#pending = this.#pending.filter((p) => p !== entry);
    };
  }

  get pending(): number {
    return this.#pending.length;
  }

  /** Moves the clock forward by ms, firing every timer that falls due, in order, at its own time. */
  advance(ms: number): void {
    const end = this.clock.now().getTime() + ms;
    for (;;) {
      const next = this.#nextDue(end);
      if (next === undefined) break;
      this.#pending = this.#pending.filter((p) => p !== next);
      this.clock.set(Math.max(next.at, this.clock.now().getTime()));
      next.fn();
    }
    this.clock.set(end);
  }

  #nextDue(end: number): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.#pending) {
      if (p.at > end) continue;
      if (best === undefined || p.at < best.at || (p.at === best.at && p.seq < best.seq)) best = p;
    }
    return best;
  }
}
