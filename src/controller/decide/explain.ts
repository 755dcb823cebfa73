// Why is a node (not) updating? A pure explanation of the controller's decision for each shadow, for
// `brupop status` and for logs. It uses the same functions the controller decides with (planTick,
// backoffUntil, isActive), so the explanation cannot drift from what the controller actually does.
import { nodeNameForShadow } from "../../model/constants.js";
import { describeFailure, type BottlerocketShadow, type ShadowFailure } from "../../model/shadow.js";
import type { ShadowState } from "../../model/state.js";
import {
  backoffPassed,
  backoffUntil,
  isActive,
  planTick,
  type ConcurrencyLimit,
  type StartFilter,
} from "./decisions.js";
import { describeBlocker, type Blocker } from "./blockers.js";
import { acceptCommand, nodeOutcome } from "./outcome.js";
import type { ScheduleKind } from "./schedule.js";
import { formatSilence, type Silent } from "./silence.js";

export type WaitReason =
  /** The agent has not reported a status yet. */
  | { kind: "no-status" }
  /** In the active set: the agent works towards `target`, or it reached it and moves on next tick. */
  | {
      kind: "in-progress";
      current: ShadowState;
      target: ShadowState;
      version: string | null;
      /** Why the attempt failed (status.failure), when the agent said so (ours does, upstream's not). */
      failure?: ShadowFailure;
      /** Its status has not changed for this long, past AGENT_SILENCE_LIMIT_SECONDS (silence.ts). */
      silentMs?: number;
    }
  /** Already on the newest version offered (`accepted`: after a failure on it a person accepted). */
  | { kind: "up-to-date"; version: string; accepted?: ShadowFailure }
  /**
   * It runs the newest version, but its update failed after the reboot (health gate, time limit):
   * not up to date until a later update succeeds or a person accepts the failure (outcome.ts).
   */
  | { kind: "failed-on-new-version"; version: string; failure: ShadowFailure; accept: string | undefined }
  /** Its last attempt failed; it may retry after `until`. */
  | { kind: "backoff"; until: Date; crashCount: number; targetVersion: string }
  /** The schedule does not let new updates start now; `until` is when it next does (null: never). */
  | { kind: "schedule-closed"; schedule: ScheduleKind; until: Date | null; targetVersion: string }
  /** A blocker (pods on the node, firing alerts) holds its start back (blockers.ts). */
  | { kind: "blocked"; blocker: Blocker; targetVersion: string }
  /** Every update slot is taken. */
  | { kind: "concurrency-full"; active: number; limit: number; targetVersion: string }
  /** An UpdatePolicy rule or a Node annotation holds it; `message` names the rule. */
  | { kind: "policy-hold"; message: string; targetVersion: string }
  /** Nothing holds it back: the controller starts it at its next tick. */
  | { kind: "starting"; targetVersion: string };

export interface Explanation {
  shadow: string;
  node: string;
  reason: WaitReason;
  message: string;
}

export interface ScheduleGateView {
  kind: ScheduleKind;
  /** Whether new updates may start now (window open / trigger round open). */
  updatesAllowed: boolean;
  /** When they next may (null if allowed now, or never again). */
  opensAt: Date | null;
}

export interface ExplainContext {
  now: Date;
  maxConcurrent: ConcurrencyLimit;
  gate: ScheduleGateView;
  controllerNodeName?: string | undefined;
  /** The last tick's blocked nodes, by shadow name (blockers.ts). */
  blocked?: ReadonlyMap<string, Blocker> | undefined;
  /** The last tick's silent agents, by shadow name (silence.ts). */
  silent?: ReadonlyMap<string, Silent> | undefined;
  /** The UpdatePolicy's verdict (policy.ts): a fleet-wide hold and the per-node filter. */
  policy?: { hold: string | undefined; filter: () => StartFilter } | undefined;
}

function describeInProgress(reason: Extract<WaitReason, { kind: "in-progress" }>): string {
  if (reason.silentMs !== undefined) {
    return `agent silent for ${formatSilence(reason.silentMs)} in state ${reason.current} (asked for ${reason.target})`;
  }
  return reason.current === reason.target
    ? `reached ${reason.current}; the controller moves it on at its next tick`
    : reason.current === "ErrorReset"
      ? `update failed${reason.failure === undefined ? "" : ` (${describeFailure(reason.failure)})`}; recovering to ${reason.target}`
      : `updating${reason.version === null ? "" : ` to ${reason.version}`}: ${reason.current} → ${reason.target}`;
}

/** `node`: the node's name, for the command that ends a quarantine (default "NODE"). */
export function describeReason(reason: WaitReason, node?: string): string {
  switch (reason.kind) {
    case "no-status":
      return "waiting for its agent to report a status";
    case "in-progress":
      return describeInProgress(reason);
    case "up-to-date":
      return reason.accepted === undefined
        ? `up to date (${reason.version}); nothing to do`
        : `up to date (${reason.version}); its failure on it was accepted (${describeFailure(reason.accepted)})`;
    case "failed-on-new-version":
      return (
        `failed on ${reason.version} after the reboot (${describeFailure(reason.failure)}); not up to date: ` +
        `a newer release updates it, or accept the failure${reason.accept === undefined ? "" : `: ${reason.accept}`}` +
        `; with QUARANTINE_FAILED_NODES (the default) its agent keeps the node cordoned until then: ` +
        `brupop accept ${node ?? "NODE"} ends it`
      );
    case "backoff":
      return `${reason.crashCount} failed attempt(s); back-off until ${reason.until.toISOString()}`;
    case "schedule-closed":
      if (reason.until === null) return "the update schedule never opens again";
      return reason.schedule === "window"
        ? `update window closed until ${reason.until.toISOString()}`
        : `waiting for the next scheduled update round at ${reason.until.toISOString()}`;
    case "blocked":
      return `${describeBlocker(reason.blocker)}; starts updating to ${reason.targetVersion} once that clears`;
    case "concurrency-full":
      return reason.limit === 0
        ? "updates paused: MAX_CONCURRENT_UPDATE is 0 (nodes in progress finish, none starts)"
        : `concurrency limit reached: ${reason.active} of ${reason.limit} nodes updating`;
    case "policy-hold":
      return reason.message;
    case "starting":
      return `starts updating to ${reason.targetVersion} at the controller's next tick`;
  }
}

function reasonFor(
  shadow: BottlerocketShadow,
  ctx: ExplainContext,
  plan: { waiting: Set<string>; active: number; held: Map<string, string> },
): WaitReason {
  const { status, spec } = shadow;
  if (status === undefined) return { kind: "no-status" };
  const name = shadow.metadata.name ?? "";
  if (isActive(shadow)) {
    const silent = ctx.silent?.get(name);
    const reason: WaitReason = {
      kind: "in-progress",
      current: status.current_state,
      target: spec.state,
      version: spec.version,
      ...(silent !== undefined && { silentMs: silent.forMs }),
    };
    return status.current_state === "ErrorReset" && status.failure !== undefined
      ? { ...reason, failure: status.failure }
      : reason;
  }
  const outcome = nodeOutcome(shadow, ctx.now);
  if (outcome.kind === "failed-on-new-version") return { ...outcome, accept: acceptCommand(shadow) };
  if (outcome.kind === "up-to-date") return outcome;
  const targetVersion = status.target_version;
  if (!backoffPassed(status, ctx.now)) {
    const until = backoffUntil(status) ?? ctx.now;
    return { kind: "backoff", until, crashCount: status.crash_count, targetVersion };
  }
  if (ctx.policy?.hold !== undefined) return { kind: "policy-hold", message: ctx.policy.hold, targetVersion };
  if (!ctx.gate.updatesAllowed) {
    return { kind: "schedule-closed", schedule: ctx.gate.kind, until: ctx.gate.opensAt, targetVersion };
  }
  const blocker = ctx.blocked?.get(name);
  if (blocker !== undefined) return { kind: "blocked", blocker, targetVersion };
  const held = plan.held.get(name);
  if (held !== undefined) return { kind: "policy-hold", message: held, targetVersion };
  if (plan.waiting.has(name)) {
    const limit = ctx.maxConcurrent === "unlimited" ? Infinity : ctx.maxConcurrent;
    return { kind: "concurrency-full", active: plan.active, limit, targetVersion };
  }
  return { kind: "starting", targetVersion };
}

/** Explains every shadow of a fleet, in input order. */
export function explainFleet(shadows: readonly BottlerocketShadow[], ctx: ExplainContext): Explanation[] {
  // Plan as if the schedule were open: who gets a slot depends on the fleet, not on the window.
  const plan = planTick({
    shadows,
    now: ctx.now,
    maxConcurrent: ctx.maxConcurrent,
    updatesAllowed: true,
    controllerNodeName: ctx.controllerNodeName,
    startFilter: ctx.policy?.filter(),
  });
  const view = {
    waiting: new Set(plan.waitingForSlot),
    active: plan.activeCount,
    held: new Map(plan.held.map((h) => [h.name, h.reason])),
  };
  return shadows.map((shadow) => {
    const name = shadow.metadata.name ?? "";
    const reason = reasonFor(shadow, ctx, view);
    const node = nodeNameForShadow(name) ?? name;
    return { shadow: name, node, reason, message: describeReason(reason, node) };
  });
}

/** Explains one node of the fleet (the whole fleet is needed for the concurrency verdict). */
export function explainNode(
  nodeOrShadowName: string,
  shadows: readonly BottlerocketShadow[],
  ctx: ExplainContext,
): Explanation | undefined {
  return explainFleet(shadows, ctx).find((e) => e.node === nodeOrShadowName || e.shadow === nodeOrShadowName);
}
