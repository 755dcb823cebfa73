// The update state machine (SPEC §2): the one table every component reads.

export const V2_STATES = [
  "Idle",
  "StagedAndPerformedUpdate",
  "RebootedIntoUpdate",
  "MonitoringUpdate",
  "ErrorReset",
] as const;
export type ShadowState = (typeof V2_STATES)[number];

export const V1_STATES = [
  "Idle",
  "StagedUpdate",
  "PerformedUpdate",
  "RebootedIntoUpdate",
  "MonitoringUpdate",
] as const;
export type ShadowStateV1 = (typeof V1_STATES)[number];

/** Next state on success. */
export const ON_SUCCESS: Readonly<Record<ShadowState, ShadowState>> = {
  Idle: "StagedAndPerformedUpdate",
  StagedAndPerformedUpdate: "RebootedIntoUpdate",
  RebootedIntoUpdate: "MonitoringUpdate",
  MonitoringUpdate: "Idle",
  ErrorReset: "Idle",
};

/**
 * Time allowed to reach each state once the controller asked for it (upstream's table, in seconds).
 * null = unbounded. Upstream never enforced these.
 */
export const TIME_ALLOWANCE_SECONDS: Readonly<Record<ShadowState, number | null>> = {
  StagedAndPerformedUpdate: 720,
  RebootedIntoUpdate: 600,
  MonitoringUpdate: 300,
  Idle: 120,
  ErrorReset: null,
};

export function isShadowState(value: unknown): value is ShadowState {
  return typeof value === "string" && (V2_STATES as readonly string[]).includes(value);
}
