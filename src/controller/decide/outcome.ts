// A node's outcome (issue 25): the one answer to "is this node done?", computed here and read by
// every rule and view that asks it — the policy's counts and groups, the failure budget's story,
// metrics, notifications, the controller's explanation, `brupop status` and the demo.
//
// "Runs the target version" is not "up to date": a node that rebooted into the update and then
// failed (its health gate, or a time limit after the reboot) runs the new version, but the update
// did not prove healthy. Bottlerocket offers no rollback after the reboot (only deactivate-update
// before it), so such a node stays *failed on the new version* until a later update of it succeeds
// (its agent clears status.failure when a cycle completes) or a person accepts that failure
// (ACCEPT_FAILURE_ANNOTATION = the failure's timestamp). Pure: (shadow, clock) → outcome.
import { ACCEPT_FAILURE_ANNOTATION, DEFAULT_NAMESPACE } from "../../model/constants.js";
import {
  failureOnNewVersion,
  type BottlerocketShadow,
  type ShadowFailure,
  type ShadowStatus,
} from "../../model/shadow.js";
import type { ShadowState } from "../../model/state.js";
import { backoffPassed, backoffUntil, isActive } from "./decisions.js";

export { AFTER_REBOOT_STATES, failureOnNewVersion } from "../../model/shadow.js";

export type NodeOutcome =
  /** Its agent has not reported a status yet. */
  | { kind: "unreported" }
  /** Settled on the newest version offered. `accepted`: a failure on it that a person accepted. */
  | { kind: "up-to-date"; version: string; accepted?: ShadowFailure }
  /** In the active set, working towards its spec. */
  | { kind: "updating"; state: ShadowState; version: string | null }
  /** Offered a newer version and free to start (whether it may now is the fleet's rules' call). */
  | { kind: "waiting"; targetVersion: string }
  /**
   * Its attempt failed before it ran the new version (prepare, activate, drain, reboot): it retries
   * once the crash back-off has passed (`retryAt`; null while the controller is still resetting it).
   */
  | { kind: "failed-before-reboot"; targetVersion: string; failure?: ShadowFailure; retryAt: Date | null }
  /** It runs `version`, but its update failed after the reboot and nobody accepted that. */
  | { kind: "failed-on-new-version"; version: string; failure: ShadowFailure };

export type OutcomeKind = NodeOutcome["kind"];

/** Whether a person accepted exactly this failure (the annotation names its timestamp). */
export function failureAccepted(shadow: BottlerocketShadow, failure: ShadowFailure): boolean {
  const value = shadow.metadata.annotations?.[ACCEPT_FAILURE_ANNOTATION];
  return value !== undefined && value.trim() === failure.timestamp;
}

export function nodeOutcome(shadow: BottlerocketShadow, now: Date): NodeOutcome {
  const status = shadow.status;
  if (status === undefined) return { kind: "unreported" };
  const onNew = failureOnNewVersion(status);
  const accepted = onNew !== undefined && failureAccepted(shadow, onNew);
  if (status.current_state === "ErrorReset") {
    if (onNew !== undefined && !accepted)
      return { kind: "failed-on-new-version", version: status.current_version, failure: onNew };
    if (onNew === undefined) return failedBeforeReboot(status, null);
  }
  if (isActive(shadow) && status.current_state !== "ErrorReset")
    return { kind: "updating", state: status.current_state, version: shadow.spec.version };
  if (status.current_version === status.target_version) {
    if (onNew === undefined) return { kind: "up-to-date", version: status.current_version };
    return accepted
      ? { kind: "up-to-date", version: status.current_version, accepted: onNew }
      : { kind: "failed-on-new-version", version: status.current_version, failure: onNew };
  }
  if (!backoffPassed(status, now)) return failedBeforeReboot(status, backoffUntil(status));
  return { kind: "waiting", targetVersion: status.target_version };
}

function failedBeforeReboot(status: ShadowStatus, retryAt: Date | null): NodeOutcome {
  return {
    kind: "failed-before-reboot",
    targetVersion: status.target_version,
    ...(status.failure !== undefined && { failure: status.failure }),
    retryAt,
  };
}

/** Failed, either way: what the policy's `failed` count and the group gate read. */
export function isFailed(o: NodeOutcome): boolean {
  return o.kind === "failed-before-reboot" || o.kind === "failed-on-new-version";
}

/** The kubectl line that accepts a node's failure on the new version (docs/policy.md). */
export function acceptCommand(shadow: BottlerocketShadow): string | undefined {
  const failure = shadow.status === undefined ? undefined : failureOnNewVersion(shadow.status);
  if (failure === undefined) return undefined;
  const ns = shadow.metadata.namespace ?? DEFAULT_NAMESPACE;
  return `kubectl annotate brs ${shadow.metadata.name ?? ""} -n ${ns} ${ACCEPT_FAILURE_ANNOTATION}=${failure.timestamp} --overwrite`;
}
