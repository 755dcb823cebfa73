// What the agent reports after a step, as pure functions (SPEC §4): the first status of a fresh node,
// the status after reaching a state, and the failure record and ErrorReset status after a failed
// attempt. decide.ts says what to do; this file says what to write afterwards.
import {
  FAILURE_MESSAGE_MAX,
  statusesEqual,
  type ShadowFailure,
  type ShadowStatus,
} from "../model/shadow.js";
import type { ShadowState } from "../model/state.js";
import type { Step } from "./steps.js";

/** A fresh node's first status: Idle, versions from the host, no crashes. */
export function initialStatus(hostVersion: string, targetVersion: string): ShadowStatus {
  return {
    current_version: hostVersion,
    target_version: targetVersion,
    current_state: "Idle",
    crash_count: 0,
    state_transition_failure_timestamp: null,
  };
}

/**
 * The status after reaching `state`. A completed cycle (MonitoringUpdate → Idle) clears the crash
 * record, so the controller's back-off starts over; any other step keeps it.
 */
export function successStatus(
  prev: ShadowStatus,
  state: ShadowState,
  hostVersion: string,
  targetVersion: string,
): ShadowStatus {
  const completedCycle = prev.current_state === "MonitoringUpdate" && state === "Idle";
  const next: ShadowStatus = {
    current_version: hostVersion,
    target_version: targetVersion,
    current_state: state,
    crash_count: completedCycle ? 0 : prev.crash_count,
    state_transition_failure_timestamp: completedCycle ? null : prev.state_transition_failure_timestamp,
  };
  // The failure stays with the crash record (it says why the back-off runs) and goes with it.
  if (!completedCycle && prev.failure !== undefined) next.failure = prev.failure;
  return next;
}

/**
 * Why an attempt failed, as the agent reports it in `status.failure` (SPEC "beyond"; docs/spec.md):
 * - HostCommandFailed: a host update API command (refresh, prepare, activate, deactivate, reboot) failed;
 * - HostNotReady: the host is not in a state that lets it do what the spec asks;
 * - DrainFailed: cordon-and-drain through the apiserver failed or was blocked;
 * - ApiserverCallFailed: another apiserver call (LB exclusion, cordon, uncordon) failed;
 * - Timeout: a state took longer than its time limit;
 * - Unhealthy: the node did not prove healthy after the reboot.
 */
export type FailureReason =
  "HostCommandFailed" | "HostNotReady" | "DrainFailed" | "ApiserverCallFailed" | "Timeout" | "Unhealthy";

/** The failure reason a failed step stands for. */
export function stepFailureReason(step: Step): FailureReason {
  switch (step) {
    case "refresh":
    case "prepare":
    case "activate":
    case "deactivate":
    case "reboot":
      return "HostCommandFailed";
    case "cordonAndDrain":
      return "DrainFailed";
    case "cordon":
    case "excludeFromLb":
    case "waitBeforeDrain":
    case "uncordon":
    case "removeExclusionFromLb":
      return "ApiserverCallFailed";
  }
}

/** A failure record: message trimmed to FAILURE_MESSAGE_MAX characters, stamped `now`. */
export function failureRecord(
  state: ShadowState,
  reason: FailureReason,
  message: string,
  now: Date,
): ShadowFailure {
  const text = message.trim() === "" ? reason : message.trim();
  const cut = text.length > FAILURE_MESSAGE_MAX ? `${text.slice(0, FAILURE_MESSAGE_MAX - 1)}…` : text;
  return { state, reason, message: cut, timestamp: now.toISOString() };
}

/** The status after a failed attempt: ErrorReset, one more crash, stamped now. */
export function failureStatus(
  prev: ShadowStatus,
  hostVersion: string,
  targetVersion: string,
  now: Date,
  failure?: ShadowFailure,
): ShadowStatus {
  const next: ShadowStatus = {
    current_version: hostVersion,
    target_version: targetVersion,
    current_state: "ErrorReset",
    crash_count: prev.crash_count + 1,
    state_transition_failure_timestamp: now.toISOString(),
  };
  if (failure !== undefined) next.failure = failure;
  return next;
}

/** Whether `next` must be written (statuses are only reported when they change). */
export function statusChanged(prev: ShadowStatus | undefined, next: ShadowStatus): boolean {
  return !statusesEqual(prev, next);
}
