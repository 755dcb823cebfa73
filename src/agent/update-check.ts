// How often the agent asks its host for updates (SPEC §4: at most every 120 s; in between the
// previously reported target_version stands). A refresh the agent runs while acting counts as a check.
import type { Logger } from "pino";
import type { BottlerocketHost } from "../bottlerocket/client.js";
import type { UpdateStatus } from "../bottlerocket/types.js";
import type { Clock } from "../clock.js";
import type { BottlerocketShadow, ShadowStatus } from "../model/shadow.js";
import { sameVersionLock, wantedVersionLock } from "./version-lock.js";

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

/**
 * The agent's update checks (SPEC §4): when to ask the host, the host's version lock before each
 * refresh (the pin annotation), and the target_version a pass reports.
 */
export class UpdateChecks {
  readonly #host: BottlerocketHost;
  readonly #throttle: UpdateCheckThrottle;
  readonly #log: Logger;
  /** What the last refresh chose, when one ran in this pass (it doubles as the update check). */
  #freshTarget: string | undefined;
  /** The version lock this agent last saw on (or wrote to) its host: a different pin is checked at once. */
  #hostLock: string | undefined;

  constructor(host: BottlerocketHost, intervalMs: number, clock: Clock, log: Logger) {
    this.#host = host;
    this.#throttle = new UpdateCheckThrottle(intervalMs, clock);
    this.#log = log;
  }

  /** A new pass of the loop: no refresh ran in it yet. */
  newPass(): void {
    this.#freshTarget = undefined;
  }

  /** What a refresh in this pass chose, if one ran. */
  get freshTarget(): string | undefined {
    return this.#freshTarget;
  }

  /** The refresh step: counts as this pass's update check; its choice (or the host's version) is the target. */
  async refreshStep(shadow: BottlerocketShadow, hostVersion: string): Promise<UpdateStatus> {
    const status = await this.#refresh(shadow);
    this.#throttle.record();
    this.#freshTarget = status.chosen_update?.version ?? hostVersion;
    return status;
  }

  /**
   * target_version: what a refresh in this pass chose; else a fresh update check when one is due;
   * else the previously reported value. A failed check keeps the previous value.
   */
  async target(
    shadow: BottlerocketShadow,
    hostVersion: string,
    prev: ShadowStatus | undefined,
    alive: () => boolean,
  ): Promise<string> {
    if (this.#freshTarget !== undefined) return this.#freshTarget;
    const previous = prev?.target_version ?? hostVersion;
    if (!this.#throttle.due() && !this.#pinChanged(shadow)) return previous;
    this.#throttle.record();
    try {
      const status = await this.#refresh(shadow);
      return status.chosen_update?.version ?? hostVersion;
    } catch (err) {
      if (alive()) this.#log.warn({ err }, "update check failed; keeping the previous target version");
      return previous;
    }
  }

  /** Every update check: the host's version lock first (the pin, or "latest"), then refresh-updates. */
  async #refresh(shadow: BottlerocketShadow): Promise<UpdateStatus> {
    const wanted = wantedVersionLock(shadow.metadata.annotations);
    if (wanted === undefined) {
      // No pin annotation: the host's lock is left as it is (upstream's agent never reads it).
      this.#hostLock = undefined;
      return this.#host.refresh();
    }
    const current = await this.#host.versionLock();
    this.#hostLock = current;
    if (!sameVersionLock(current, wanted)) {
      await this.#host.setVersionLock(wanted);
      this.#hostLock = wanted;
      this.#log.info({ from: current, to: wanted }, "set the host's version lock");
    }
    return this.#host.refresh();
  }

  /** The pin asks for another lock than the host had at the last check: check now, not in 120 s. */
  #pinChanged(shadow: BottlerocketShadow): boolean {
    try {
      const wanted = wantedVersionLock(shadow.metadata.annotations);
      if (wanted === undefined) return false;
      // No lock seen at the last check (no pin then): a new pin is a reason to check now.
      return this.#hostLock === undefined || !sameVersionLock(this.#hostLock, wanted);
    } catch {
      return false; // an unreadable pin is never a reason to check (the check would refuse it anyway)
    }
  }
}
