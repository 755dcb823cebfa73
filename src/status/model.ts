// The output shape of `brupop status` (`-o json|yaml`), versioned as
// `brupop.bottlerocket.aws/status-v1`. It is a contract with scripts: add optional fields freely,
// but renaming, removing or re-typing a field needs a new apiVersion. Documented in docs/status.md.
import type { ScheduleKind } from "../controller/decide/schedule.js";
import type { ShadowFailure } from "../model/shadow.js";
import type { ObjectRef } from "./inputs.js";

export const STATUS_API_VERSION = "brupop.bottlerocket.aws/status-v1";
export const STATUS_KIND = "FleetStatus";

/** Coarse bucket for the summary line. */
export type Phase = "up-to-date" | "updating" | "waiting" | "failed";

export type AgentSilentCause = "timeout" | "node-not-ready" | "node-missing";

/** Why a node is where it is. Timestamps are RFC 3339 strings (UTC, whole seconds). */
export type RowReason =
  | { kind: "up-to-date" }
  /**
   * Runs `version`, but its update failed after the reboot (health gate, time limit): not up to date
   * until a later update succeeds or a person accepts the failure; `accept` is the kubectl line.
   */
  | {
      kind: "failed-on-new-version";
      version: string;
      accept: string | null;
      /**
       * Its agent keeps the node cordoned (quarantine, QUARANTINE_FAILED_NODES: cordoned with brupop's
       * marker) until the failure is accepted (`brupop accept NODE`) or a newer release updates it.
       */
      quarantined?: boolean;
    }
  | {
      kind: "updating";
      /** Spec state asked for, and when the controller asked; deadline = that + time allowance. */
      since: string | null;
      deadline: string | null;
    }
  | { kind: "starting" }
  /**
   * The controller holds its start back (BLOCKING_POD_SELECTOR, PROMETHEUS_URL): `by` says what
   * (pods on the node, firing alerts, or a check that failed: then `error`). From the verdicts the
   * controller publishes (ConfigMap brupop-blockers, docs/status.md).
   */
  | {
      kind: "blocked";
      by: "pods" | "alerts" | "pod-check-failed" | "alert-check-failed";
      pods: ObjectRef[];
      alerts: string[];
      error: string | null;
    }
  | { kind: "schedule-closed"; schedule: ScheduleKind; until: string | null }
  | { kind: "concurrency-full"; active: number; limit: number }
  /** An UpdatePolicy rule or the Node pause annotation holds it; `rule` names it. */
  | { kind: "policy-hold"; rule: string }
  | { kind: "backoff"; until: string; crashCount: number }
  | { kind: "pdb-blocking"; pdbs: ObjectRef[]; pods: ObjectRef[] }
  | {
      kind: "agent-silent";
      cause: AgentSilentCause;
      /** timeout: when the spec state was set; node-not-ready: when the node went NotReady. */
      since: string | null;
      /** timeout only: the state's allowance, in seconds. */
      allowanceSeconds: number | null;
    }
  | { kind: "no-status" }
  | { kind: "no-shadow" }
  | { kind: "invalid"; error: string };

export type ReasonKind = RowReason["kind"];

export interface NodeRow {
  node: string;
  /** BottlerocketShadow name (null: the node has none). */
  shadow: string | null;
  /** Reported (status) and asked-for (spec) state. */
  state: { current: string | null; target: string | null };
  /** Running version and the version it is headed for (spec.version while updating, else offered). */
  version: { current: string | null; target: string | null };
  crashCount: number | null;
  /**
   * Why the last update attempt failed, as the agent reported it (status.failure: state, reason,
   * message, timestamp). Absent when none is known: no failure, or an upstream agent (it never says).
   */
  failure?: ShadowFailure;
  /** node.spec.unschedulable; null when the node does not exist. */
  cordoned: boolean | null;
  /** Ready condition; null when unknown or the node does not exist. */
  ready: boolean | null;
  phase: Phase;
  /** agent silent, PDB blocking, invalid: an operator should look. */
  attention: boolean;
  reason: RowReason;
  message: string;
}

export interface ScheduleStatus {
  expression: string;
  kind: ScheduleKind;
  /** May new updates start now (window open / trigger round open)? */
  updatesAllowed: boolean;
  /** When they next may (null while allowed, or never again). */
  opensAt: string | null;
  /** Trigger schedules: the persisted round. */
  round: { lastFire: string | null; open: boolean } | null;
}

export interface ControllerStatus {
  /** false: nothing published; the values below are the controller's defaults. */
  settingsKnown: boolean;
  note: string | null;
  leader: string | null;
  leaderSince: string | null;
  node: string | null;
  maxConcurrent: number | "unlimited";
  schedule: ScheduleStatus;
}

export interface Summary {
  nodes: number;
  upToDate: number;
  updating: number;
  waiting: number;
  /** Nodes failed on the new version, or failed before the reboot and in back-off. */
  failed: number;
  needAttention: number;
  /** Nodes in the controller's active set (they count against the limit). */
  active: number;
  limit: number | "unlimited";
}

/** The UpdatePolicy in force (absent: none). */
export interface PolicySummary {
  name: string;
  /** What holds every start, naming the rule (null: nothing). */
  hold: string | null;
  /** The limit in force (a percentage resolved against the fleet). */
  maxConcurrent: number | "unlimited";
  /** The conditions the controller last wrote (type, status, reason, message). */
  conditions: { type: string; status: string; reason: string; message: string }[];
  nextWindowOpen: string | null;
}

export interface FleetStatus {
  apiVersion: typeof STATUS_API_VERSION;
  kind: typeof STATUS_KIND;
  namespace: string;
  generatedAt: string;
  controller: ControllerStatus;
  summary: Summary;
  nodes: NodeRow[];
  policy?: PolicySummary;
}
