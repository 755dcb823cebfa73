// What an Agent is made of (agent.ts): its I/O (host, apiserver, watched objects, health checks), its
// clock and timers, and its timings — all injected, so tests run it against fakes and a manual clock.
import type { Logger } from "pino";
import type { BrupopApiserverApi } from "../apiserver/client.js";
import type { BottlerocketHost } from "../bottlerocket/client.js";
import type { Clock, Timers } from "../clock.js";
import { DEFAULT_LOOP_INTERVAL_MS } from "./config.js";
import type { StateTimeLimits } from "./decide.js";
import type { HealthSource } from "./health.js";
import type { AgentObjects } from "./objects.js";
import { DEFAULT_UPDATE_CHECK_INTERVAL_MS } from "./update-check.js";

export interface AgentTimings {
  /** Period of the loop (default 5 s); a change of the brs or Node wakes it earlier. */
  loopIntervalMs: number;
  /** Minimum time between host update checks (default 120 s). */
  updateCheckIntervalMs: number;
  /** EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC in ms; 0 = no load-balancer exclusion (default). */
  excludeFromLbWaitMs: number;
  /** Time allowed to reach each spec state (ms; 0 or absent = unbounded). Default: none enforced. */
  stateTimeLimitsMs: StateTimeLimits;
  /** Health gate: the Node must be Ready this long before MonitoringUpdate is reported (0 = at once). */
  healthSoakMs: number;
}

export const DEFAULT_AGENT_TIMINGS: Readonly<AgentTimings> = {
  loopIntervalMs: DEFAULT_LOOP_INTERVAL_MS,
  updateCheckIntervalMs: DEFAULT_UPDATE_CHECK_INTERVAL_MS,
  excludeFromLbWaitMs: 0,
  stateTimeLimitsMs: {},
  healthSoakMs: 0,
};

export interface AgentDeps {
  nodeName: string;
  host: BottlerocketHost;
  apiserver: BrupopApiserverApi;
  objects: AgentObjects;
  /**
   * The health gate's checks beyond the Node (pods, the user's probe), asked only while the gate is
   * open (spec MonitoringUpdate, not yet reported). None: only the Node is checked.
   */
  health?: HealthSource;
  clock?: Clock;
  /** What the loop waits on (its period, the LB wait); default real timers. */
  timers?: Timers;
  logger?: Logger;
  timings?: Partial<AgentTimings>;
  /**
   * Aborting it stops the agent at once, with no grace (the process is going away): everything
   * stops, whatever was in flight lands or not. `exited` then says "killed".
   */
  signal?: AbortSignal;
  /** Interruptible sleep (the LB wait); injected for tests. Must resolve early when `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /**
   * QUARANTINE_FAILED_NODES (default true): a node that fails on the new version stays cordoned
   * until the failure is accepted or a later update completes; false: uncordoned, as upstream.
   */
  quarantineFailedNodes?: boolean;
}

/** Why the agent stopped: asked to (SIGTERM), killed (deps.signal aborted), or it asked its host to reboot. */
export type AgentExit = "stopped" | "killed" | "rebooting";
