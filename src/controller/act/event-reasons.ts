// Every Event the controller records, with its type and action: the one list (docs/controller.md and
// docs/policy.md table them; src/controller/act/event-reasons.test.ts keeps the docs and this list equal,
// and test/e2e/events.test.ts provokes each documented reason on a real cluster).
import type { EventCatalogue } from "../../k8s/events.js";

export const CONTROLLER_EVENTS = {
  /** A spec written: Idle → StagedAndPerformedUpdate. */
  StartUpdate: { type: "Normal", action: "SetSpec" },
  /** A spec written: MonitoringUpdate → Idle, the update complete (the steps between: no Event). */
  Progress: { type: "Normal", action: "SetSpec" },
  /** A spec written: status ErrorReset → spec Idle. */
  Recover: { type: "Warning", action: "SetSpec" },
  /** A spec written: a shadow without status reset to Idle. */
  Initialise: { type: "Normal", action: "SetSpec" },
  /** A blocker holds the node's start back (blockers.ts). */
  UpdateBlocked: { type: "Normal", action: "HoldUpdate" },
  /** The node's agent has not changed its status for longer than the limit (silence.ts). */
  AgentSilent: { type: "Warning", action: "WatchAgent" },
  /** The UpdatePolicy's failure budget tripped: the fleet is halted (policy-stage.ts). */
  FailureBudgetExhausted: { type: "Warning", action: "Halt" },
  /** The halt was cleared by the clear-halt annotation (policy-stage.ts). */
  HaltCleared: { type: "Normal", action: "ClearHalt" },
} as const satisfies EventCatalogue;

export type ControllerEventReason = keyof typeof CONTROLLER_EVENTS;
