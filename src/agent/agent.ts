// The per-node update loop (SPEC §4). I/O at the edges: the shadow and Node come from AgentObjects
// (watches), the host from a BottlerocketHost, every write goes through the brupop apiserver. What to
// do next is decided by the pure `decide` (decide.ts); this class only gathers facts, runs the step
// it names, and reports the outcome.
//
// Crash-only: nothing the agent needs lives only in its memory. Each loop starts from the API (spec,
// status) and the host (version, update state, partitions); every step is idempotent (prepare and
// activate check the host state first, cordon/uncordon/LB calls are idempotent on the apiserver).
// Aborting `deps.signal` stops it at once, as a crash would, at any instant; a new Agent picks up from
// what it observes.
import type { Logger } from "pino";
import { ApiserverCallError, type BrupopApiserverApi } from "../apiserver/client.js";
import type { BottlerocketHost } from "../bottlerocket/client.js";
import type { UpdateStatus } from "../bottlerocket/types.js";
import { systemClock, systemTimers, type Clock } from "../clock.js";
import { BrupopError } from "../errors.js";
import { isCordonedByBrupop } from "../k8s/cordon-marker.js";
import { silentLogger } from "../log.js";
import { ACCEPT_FAILURE_ANNOTATION, EXCLUDE_FROM_LB_LABEL } from "../model/constants.js";
import { parseShadow, type BottlerocketShadow, type ShadowStatus } from "../model/shadow.js";
import { sleep, Wakeup } from "../runtime/loop.js";
import {
  decide,
  hostUpdateFacts,
  type HealthFacts,
  type HostFacts,
  type NodeFacts,
  type Step,
} from "./decide.js";
import { DEFAULT_AGENT_TIMINGS, type AgentDeps, type AgentExit, type AgentTimings } from "./deps.js";
import type { HealthSource } from "./health.js";
import type { AgentObjects, SlimNode } from "./objects.js";
import {
  failureRecord,
  failureStatus,
  initialStatus,
  statusChanged,
  stepFailureReason,
  successStatus,
  type FailureReason,
} from "./status.js";
import { UpdateChecks } from "./update-check.js";

export { DEFAULT_AGENT_TIMINGS, type AgentDeps, type AgentExit, type AgentTimings } from "./deps.js";

type TickOutcome = "continue" | "halt";

/** Failures of these calls are retried next loop when the apiserver says "try again" (nothing was undone). */
const RETRYABLE_UNDO_STEPS: ReadonlySet<Step> = new Set(["uncordon", "removeExclusionFromLb"]);

export class Agent {
  readonly nodeName: string;
  readonly #host: BottlerocketHost;
  readonly #apiserver: BrupopApiserverApi;
  readonly #objects: AgentObjects;
  readonly #health: HealthSource | undefined;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #timings: AgentTimings;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #checks: UpdateChecks;
  readonly #quarantine: boolean;
  /** The apiserver has no cordon route (upstream's): said once, then quarantine is skipped quietly. */
  #cordonUnsupported = false;
  /** Aborted when the agent stops for any reason: every wait ends, no write starts afterwards. */
  readonly #halt = new AbortController();
  readonly #exited: Promise<AgentExit>;
  #resolveExit!: (exit: AgentExit) => void;

  /** The loop's sleep: a watched object changing wakes it early, stopping ends it. */
  readonly #wakeup: Wakeup;
  #started = false;
  /** The status write in flight (stop() lets it finish: no half-written status). */
  #writing: Promise<unknown> | undefined;
  /** Our last successful write and the brs resourceVersion it was based on (the cache may lag it). */
  #lastWrite: { status: ShadowStatus; baseVersion: string | undefined } | undefined;
  #assertedVersion: string | undefined;

  constructor(deps: AgentDeps) {
    this.nodeName = deps.nodeName;
    this.#host = deps.host;
    this.#apiserver = deps.apiserver;
    this.#objects = deps.objects;
    this.#health = deps.health;
    this.#clock = deps.clock ?? systemClock;
    this.#log = (deps.logger ?? silentLogger()).child({ node: deps.nodeName });
    this.#timings = { ...DEFAULT_AGENT_TIMINGS, ...deps.timings };
    this.#quarantine = deps.quarantineFailedNodes ?? true;
    const timers = deps.timers ?? systemTimers;
    this.#wakeup = new Wakeup(timers);
    this.#sleep = deps.sleep ?? ((ms, signal) => sleep(ms, signal, timers));
    this.#checks = new UpdateChecks(this.#host, this.#timings.updateCheckIntervalMs, this.#clock, this.#log);
    this.#exited = new Promise((resolve) => (this.#resolveExit = resolve));
    this.#objects.onChange(() => this.#poke());
    const signal = deps.signal;
    if (signal?.aborted === true) this.#kill();
    else signal?.addEventListener("abort", () => this.#kill(), { once: true });
  }

  /** Resolves when the agent stopped, with the reason. */
  get exited(): Promise<AgentExit> {
    return this.#exited;
  }

  get alive(): boolean {
    return !this.#halt.signal.aborted;
  }

  /** Starts the watches and the loop (returns at once). */
  start(): void {
    if (this.#started || !this.alive) return;
    this.#started = true;
    this.#objects.start();
    this.#run().catch((err: unknown) => this.#log.error({ err }, "agent loop ended unexpectedly"));
  }

  /**
   * Graceful stop (SIGTERM): no new step or write starts; a status write in flight is allowed to
   * finish. A long host command in flight is abandoned (it goes on on the host; the next agent waits
   * for it).
   */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.#finish("stopped");
    await this.#writing?.catch(() => undefined);
    await this.#objects.stop();
  }

  /** A crash: everything stops at once; whatever was in flight lands or not. */
  #kill(): void {
    if (!this.alive) return;
    this.#finish("killed");
    void this.#objects.stop().catch(() => undefined);
  }

  /** One pass of the loop, for tests and tools that drive the agent by hand. */
  async reconcileOnce(): Promise<TickOutcome> {
    const outcome = await this.#tick();
    if (outcome === "halt") this.#rebooting();
    return outcome;
  }

  #finish(exit: AgentExit): void {
    this.#halt.abort();
    this.#wakeup.stop();
    this.#resolveExit(exit);
  }

  #poke(): void {
    this.#wakeup.wake();
  }

  #rebooting(): void {
    if (!this.alive) return;
    this.#log.info("reboot requested; not acting any more (the agent of the next boot carries on)");
    this.#finish("rebooting");
    void this.#objects.stop().catch(() => undefined);
  }

  async #run(): Promise<void> {
    await this.#objects.waitForSync();
    while (this.alive) {
      this.#wakeup.discard();
      let outcome: TickOutcome = "continue";
      try {
        outcome = await this.#tick();
      } catch (err) {
        this.#log.error({ err }, "agent loop failed unexpectedly; retrying next loop");
      }
      if (outcome === "halt") {
        this.#rebooting();
        return;
      }
      // One loop interval, or less if a watched object changed or the agent stops.
      await this.#wakeup.sleep(this.#timings.loopIntervalMs);
    }
  }

  // --- one pass ---

  async #tick(): Promise<TickOutcome> {
    if (!this.alive) return "continue";
    this.#checks.newPass();
    const raw = this.#objects.shadow();
    if (raw === undefined) {
      await this.#createShadow();
      return "continue";
    }
    let shadow: BottlerocketShadow;
    try {
      shadow = parseShadow(raw);
    } catch (err) {
      this.#log.error({ err }, "cannot read the BottlerocketShadow; not acting on it");
      return "continue";
    }
    const facts = await this.#readHost();
    if (facts === undefined || !this.alive) return "continue";
    const status = this.#currentStatus(shadow);
    if (status === undefined) {
      const target = await this.#target(shadow, facts, undefined);
      if (this.alive) await this.#report(shadow, undefined, initialStatus(facts.version, target));
      return "continue";
    }
    return this.#act(shadow, status, facts);
  }

  /** Decide, run the step, observe, decide again, until the outcome is known. */
  async #act(shadow: BottlerocketShadow, status: ShadowStatus, initial: HostFacts): Promise<TickOutcome> {
    const done = new Set<Step>();
    let facts = initial;
    const health = await this.#healthFacts(shadow, status);
    if (!this.alive) return "continue";
    for (;;) {
      const decision = decide({
        spec: shadow.spec,
        status,
        host: facts,
        node: this.#nodeFacts(),
        done,
        manageLbExclusion: this.#timings.excludeFromLbWaitMs > 0,
        now: this.#clock.now(),
        timeLimitsMs: this.#timings.stateTimeLimitsMs,
        healthSoakMs: this.#timings.healthSoakMs,
        health,
        quarantine: this.#quarantine,
        acceptedFailure: shadow.metadata.annotations?.[ACCEPT_FAILURE_ANNOTATION],
      });
      switch (decision.kind) {
        case "halt":
          return "halt";
        case "wait":
          this.#log.debug({ reason: decision.reason }, "waiting");
          return "continue";
        case "assert":
          this.#assertOnce(shadow, decision.reason);
          return "continue";
        case "report": {
          const target = await this.#target(shadow, facts, status);
          if (this.alive) {
            await this.#report(
              shadow,
              status,
              successStatus(status, shadow.spec.state, facts.version, target),
            );
          }
          return "continue";
        }
        case "fail":
          await this.#fail(
            shadow,
            status,
            facts,
            new BrupopError("BRUPOP_E_HOST_API", decision.reason, { reason: "host-state" }),
            decision.failure ?? "HostNotReady",
          );
          return "continue";
        case "step": {
          done.add(decision.step);
          const next = await this.#runStep(decision.step, facts, shadow, status);
          if (next === undefined || !this.alive) return "continue";
          facts = next;
        }
      }
    }
  }

  /** Runs one step; the host facts afterwards, or undefined when the pass is over (failure reported). */
  async #runStep(
    step: Step,
    facts: HostFacts,
    shadow: BottlerocketShadow,
    status: ShadowStatus,
  ): Promise<HostFacts | undefined> {
    this.#log.info({ step, spec: shadow.spec.state, version: shadow.spec.version }, "step");
    try {
      return await this.#perform(step, facts, shadow);
    } catch (err) {
      if (!this.alive) return undefined;
      if (RETRYABLE_UNDO_STEPS.has(step) && isRetryable(err)) {
        this.#log.warn({ err, step }, "apiserver unavailable; retrying next loop");
        return undefined;
      }
      await this.#fail(shadow, status, facts, err, stepFailureReason(step));
      return undefined;
    }
  }

  async #perform(step: Step, facts: HostFacts, shadow: BottlerocketShadow): Promise<HostFacts> {
    switch (step) {
      case "refresh":
        return afterHostCommand(facts, await this.#checks.refreshStep(shadow, facts.version));
      case "prepare":
        return afterHostCommand(facts, await this.#host.prepare());
      case "activate":
        return afterHostCommand(facts, await this.#host.activate());
      case "deactivate":
        return afterHostCommand(facts, await this.#host.deactivate());
      case "reboot":
        await this.#host.reboot();
        return facts;
      case "excludeFromLb":
        await this.#apiserver.excludeFromLb();
        return facts;
      case "waitBeforeDrain":
        await this.#sleep(this.#timings.excludeFromLbWaitMs, this.#halt.signal);
        return facts;
      case "cordonAndDrain":
        await this.#apiserver.cordonAndDrain();
        return facts;
      case "cordon":
        await this.#quarantineCordon();
        return facts;
      case "uncordon":
        await this.#apiserver.uncordon();
        return facts;
      case "removeExclusionFromLb":
        await this.#apiserver.removeExclusionFromLb();
        return facts;
    }
  }

  /**
   * Quarantine's cordon, just before a failure on the new version is reported. It never stops that
   * report: a failed cordon is logged and the failure goes out anyway. Upstream's apiserver has no
   * such route (404): said once, then the node is left as upstream leaves it.
   */
  async #quarantineCordon(): Promise<void> {
    if (this.#cordonUnsupported) return;
    try {
      await this.#apiserver.cordon();
      this.#log.warn("failed on the new version: cordoned the node (quarantine, QUARANTINE_FAILED_NODES)");
    } catch (err) {
      if (!this.alive) return;
      if (err instanceof ApiserverCallError && err.httpStatus === 404) {
        this.#cordonUnsupported = true;
        this.#log.warn(
          { err },
          "the brupop apiserver has no cordon route (an older or upstream apiserver): not quarantining failed nodes",
        );
        return;
      }
      this.#log.warn({ err }, "cannot cordon the node to quarantine it; reporting the failure anyway");
    }
  }

  // --- facts ---

  async #readHost(): Promise<HostFacts | undefined> {
    try {
      const os = await this.#host.osInfo();
      const update = await this.#host.updateStatus();
      return { version: os.version_id, update: hostUpdateFacts(update) };
    } catch (err) {
      // Not acting yet: a host that cannot be read (rebooting, busy with a command a previous agent
      // started) is asked again next loop. Nothing is reported as done.
      if (this.alive) this.#log.warn({ err }, "cannot read the host's update status; retrying next loop");
      return undefined;
    }
  }

  /** The health gate's pods and probe, only while the gate is open (nothing is asked otherwise). */
  async #healthFacts(shadow: BottlerocketShadow, status: ShadowStatus): Promise<HealthFacts | undefined> {
    if (this.#health === undefined || !gateOpen(shadow, status)) return undefined;
    return this.#health.gather(this.#halt.signal);
  }

  #nodeFacts(): NodeFacts | undefined {
    const node = this.#objects.node();
    if (node === undefined) return undefined;
    return {
      cordonedByBrupop: isCordonedByBrupop(node),
      excludedFromLb: node.metadata?.labels?.[EXCLUDE_FROM_LB_LABEL] !== undefined,
      ...readyFacts(node),
    };
  }

  /** The status as the API has it, unless the cache has not caught up with our own last write yet. */
  #currentStatus(shadow: BottlerocketShadow): ShadowStatus | undefined {
    const last = this.#lastWrite;
    if (last !== undefined && last.baseVersion === shadow.metadata.resourceVersion) return last.status;
    return shadow.status;
  }

  #target(shadow: BottlerocketShadow, facts: HostFacts, prev: ShadowStatus | undefined): Promise<string> {
    return this.#checks.target(shadow, facts.version, prev, () => this.alive);
  }

  // --- writes ---

  async #createShadow(): Promise<void> {
    try {
      await this.#apiserver.createShadow();
      this.#log.info("created the BottlerocketShadow");
    } catch (err) {
      if (this.alive) this.#log.warn({ err }, "cannot create the BottlerocketShadow; retrying next loop");
    }
  }

  async #report(
    shadow: BottlerocketShadow,
    prev: ShadowStatus | undefined,
    next: ShadowStatus,
  ): Promise<void> {
    if (!this.alive || !statusChanged(prev, next)) return;
    const write = this.#apiserver.updateStatus(next);
    this.#writing = write;
    try {
      await write;
      this.#lastWrite = { status: next, baseVersion: shadow.metadata.resourceVersion };
      this.#log.info({ status: next }, "status reported");
    } catch (err) {
      if (this.alive) this.#log.warn({ err }, "cannot report status; retrying next loop");
    } finally {
      if (this.#writing === write) this.#writing = undefined;
    }
  }

  async #fail(
    shadow: BottlerocketShadow,
    prev: ShadowStatus,
    facts: HostFacts,
    err: unknown,
    reason: FailureReason,
  ): Promise<void> {
    if (!this.alive) return;
    const now = this.#clock.now();
    const failure = failureRecord(shadow.spec.state, reason, errorText(err), now);
    this.#log.error(
      {
        err,
        spec: shadow.spec.state,
        version: shadow.spec.version,
        crashCount: prev.crash_count + 1,
        failure,
      },
      "update step failed; reporting ErrorReset",
    );
    const target = this.#checks.freshTarget ?? prev.target_version;
    await this.#report(shadow, prev, failureStatus(prev, facts.version, target, now, failure));
  }

  #assertOnce(shadow: BottlerocketShadow, reason: string): void {
    const version = shadow.metadata.resourceVersion ?? "";
    if (this.#assertedVersion === version) return;
    this.#assertedVersion = version;
    const err = new BrupopError("BRUPOP_E_AGENT_ASSERTION", reason, { spec: shadow.spec });
    this.#log.error({ err }, "invalid spec; not acting on it");
  }
}

/** The host facts after a host command: its version is unchanged until the reboot. */
function afterHostCommand(facts: HostFacts, status: UpdateStatus): HostFacts {
  return { version: facts.version, update: hostUpdateFacts(status) };
}

/** The health gate is open: the controller asks for MonitoringUpdate and it is not reported yet. */
function gateOpen(shadow: BottlerocketShadow, status: ShadowStatus): boolean {
  const now = status.current_state;
  return shadow.spec.state === "MonitoringUpdate" && now !== "MonitoringUpdate" && now !== "ErrorReset";
}

/** The Node's Ready condition as decisions read it (nothing when the Node has none). */
function readyFacts(node: SlimNode): Pick<NodeFacts, "ready"> {
  const c = node.status?.conditions?.find((x) => x.type === "Ready");
  if (c === undefined) return {};
  return { ready: { ready: c.status === "True", since: c.lastTransitionTime ?? null } };
}

/** The error's own words for status.failure.message. */
function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An apiserver failure that says "try again later" (network, 429, 502-504). */
function isRetryable(err: unknown): boolean {
  return err instanceof ApiserverCallError && err.retryable;
}
