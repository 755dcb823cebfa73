// Pure conversion between BottlerocketShadow v1 and v2 (SPEC §2), used by the /crdconvert
// webhook. Metadata is carried over untouched (the API server rejects conversions that change
// it); spec and status are validated against the source version and rebuilt for the target, so
// unknown fields are dropped, exactly as upstream's serde structs do.
import { BrupopError } from "../errors.js";
import { API_VERSION_V1, API_VERSION_V2, KIND } from "./constants.js";
import {
  parseSpec,
  parseStatus,
  specV1Validator,
  statusV1Validator,
  type ShadowSpecV1Wire,
  type ShadowStatusV1Wire,
  type ShadowSpec,
  type ShadowStatus,
} from "./shadow.js";
import type { ShadowState, ShadowStateV1 } from "./state.js";

export type ShadowApiVersion = typeof API_VERSION_V1 | typeof API_VERSION_V2;

export interface KubeObject {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: unknown;
  spec?: unknown;
  status?: unknown;
  [key: string]: unknown;
}

const V1_TO_V2: Readonly<Record<ShadowStateV1, ShadowState>> = {
  Idle: "Idle",
  StagedUpdate: "StagedAndPerformedUpdate",
  PerformedUpdate: "StagedAndPerformedUpdate",
  RebootedIntoUpdate: "RebootedIntoUpdate",
  MonitoringUpdate: "MonitoringUpdate",
};

// Lossy by design (upstream's choice): v1 has no ErrorReset, and one state for staged+performed.
const V2_TO_V1: Readonly<Record<ShadowState, ShadowStateV1>> = {
  Idle: "Idle",
  StagedAndPerformedUpdate: "StagedUpdate",
  RebootedIntoUpdate: "RebootedIntoUpdate",
  MonitoringUpdate: "MonitoringUpdate",
  ErrorReset: "MonitoringUpdate",
};

export function specV1ToV2(spec: ShadowSpecV1Wire): ShadowSpec {
  return {
    state: V1_TO_V2[spec.state],
    state_transition_timestamp: spec.state_transition_timestamp ?? null,
    version: spec.version ?? null,
  };
}

export function statusV1ToV2(status: ShadowStatusV1Wire): ShadowStatus {
  return {
    current_version: status.current_version,
    target_version: status.target_version,
    current_state: V1_TO_V2[status.current_state],
    crash_count: 0,
    state_transition_failure_timestamp: null,
  };
}

export function specV2ToV1(spec: ShadowSpec): ShadowSpecV1Wire {
  return {
    state: V2_TO_V1[spec.state],
    state_transition_timestamp: spec.state_transition_timestamp,
    version: spec.version,
  };
}

export function statusV2ToV1(status: ShadowStatus): ShadowStatusV1Wire {
  return {
    current_version: status.current_version,
    target_version: status.target_version,
    current_state: V2_TO_V1[status.current_state],
  };
}

function isShadowApiVersion(v: unknown): v is ShadowApiVersion {
  return v === API_VERSION_V1 || v === API_VERSION_V2;
}

/**
 * Converts one BottlerocketShadow object to `desired`. Throws BRUPOP_E_CONVERSION on an object of
 * another kind or version, or whose spec/status does not match its own version's schema.
 */
export function convertShadow(obj: KubeObject, desired: string): KubeObject {
  if (obj.kind !== KIND) {
    throw new BrupopError("BRUPOP_E_CONVERSION", `kind: expected ${KIND}, got ${String(obj.kind)}`);
  }
  const from = obj.apiVersion;
  if (!isShadowApiVersion(from)) {
    throw new BrupopError("BRUPOP_E_CONVERSION", `apiVersion: unsupported source version ${String(from)}`);
  }
  if (!isShadowApiVersion(desired)) {
    throw new BrupopError("BRUPOP_E_CONVERSION", `desiredAPIVersion: unsupported target version ${desired}`);
  }
  try {
    const { spec, status } = from === API_VERSION_V1 ? readV1(obj) : readV2(obj);
    const out: KubeObject = { ...obj, apiVersion: desired };
    delete out.spec;
    delete out.status;
    if (desired === API_VERSION_V2) {
      if (spec !== undefined) out.spec = spec;
      if (status !== undefined) out.status = status;
    } else {
      if (spec !== undefined) out.spec = specV2ToV1(spec);
      if (status !== undefined) out.status = statusV2ToV1(status);
    }
    return out;
  } catch (err) {
    if (err instanceof BrupopError && err.code === "BRUPOP_E_INVALID_OBJECT") {
      throw new BrupopError("BRUPOP_E_CONVERSION", err.message, err.details, { cause: err });
    }
    throw err;
  }
}

/** Reads v2 spec/status (either may be absent). */
function readV2(obj: KubeObject): { spec?: ShadowSpec; status?: ShadowStatus } {
  return {
    ...(obj.spec == null ? {} : { spec: parseSpec(obj.spec) }),
    ...(obj.status == null ? {} : { status: parseStatus(obj.status) }),
  };
}

/** Reads v1 spec/status and lifts them to v2. */
function readV1(obj: KubeObject): { spec?: ShadowSpec; status?: ShadowStatus } {
  return {
    ...(obj.spec == null ? {} : { spec: specV1ToV2(specV1Validator.parse(obj.spec)) }),
    ...(obj.status == null ? {} : { status: statusV1ToV2(statusV1Validator.parse(obj.status)) }),
  };
}
