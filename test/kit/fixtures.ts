// Small objects many tests build the same way.
import type { ShadowStatus } from "../../src/model/shadow.js";

/** A shadow status as an agent reports it: Idle on 1.19.0 with 1.20.0 offered, unless `over` says otherwise. */
export const shadowStatus = (over: Partial<ShadowStatus> = {}): ShadowStatus => ({
  current_version: "1.19.0",
  target_version: "1.20.0",
  current_state: "Idle",
  crash_count: 0,
  state_transition_failure_timestamp: null,
  ...over,
});
