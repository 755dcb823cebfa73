// How often the agent asks its host for updates (SPEC §4: at most every 120 s; in between the
// previously reported target_version stands). A refresh the agent runs while acting counts as a check.
import type { Clock } from "../clock.js";

export const DEFAULT_UPDATE_CHECK_INTERVAL_MS = 120_000;

export class UpdateCheckThrottle {
  readonly #intervalMs: number;
  readonly #clock: Clock;
  #lastMs: number | undefined;

  constructor(intervalMs: number, clock: Clock) {
    this.#intervalMs = intervalMs;
    this.#clock = clock;
  }

  /** True when no check ran yet (in this agent's life) or the last one is at least an interval old. */
  due(): boolean {
    return this.#lastMs === undefined || this.#clock.now().getTime() - this.#lastMs >= this.#intervalMs;
  }

  /**
   * Records a check now. Failed checks count too: a host that cannot answer is asked again an interval
   * later, not on every loop.
   */
  record(): void {
    this.#lastMs = this.#clock.now().getTime();
  }
}
