// What upstream Brupop (Rust, v1.4) accepts when it reads one of our objects: the rules of its
// serde-derived types (models/src/node/crd/{v1,v2}.rs), plus the parsing its code does without
// error handling (semver `Version::from_str(..).unwrap()`, chrono `parse_from_rfc3339(..).unwrap()`).
// A roll back to upstream must find every object readable, or its controller and agents panic.
//
// Pure: returns the problems found (empty = upstream reads it).
import { isSemver } from "./semver.js";
import { V1_STATES, V2_STATES } from "./state.js";

export type UpstreamVersion = "v1" | "v2";

/** chrono's `DateTime::parse_from_rfc3339` grammar: `Z`/`z` or a `±HH:MM` offset, any fraction. */
const CHRONO_RFC3339 =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

export function chronoParsesRfc3339(value: string): boolean {
  return CHRONO_RFC3339.test(value) && !Number.isNaN(Date.parse(value.replace(/:60(?=[.Zz+-])/, ":59")));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

type Check = (value: unknown, at: string, problems: string[]) => void;

const optionalTimestamp: Check = (v, at, problems) => {
  if (v === undefined || v === null) return;
  if (typeof v !== "string" || !chronoParsesRfc3339(v))
    problems.push(`${at}: ${JSON.stringify(v)} is not an RFC 3339 timestamp chrono parses`);
};

const optionalSemver: Check = (v, at, problems) => {
  if (v === undefined || v === null) return;
  if (typeof v !== "string" || !isSemver(v)) problems.push(`${at}: ${JSON.stringify(v)} is not semver`);
};

const requiredSemver: Check = (v, at, problems) => {
  if (v === undefined || v === null) problems.push(`${at}: missing`);
  else optionalSemver(v, at, problems);
};

function requiredState(states: readonly string[]): Check {
  return (v, at, problems) => {
    if (typeof v !== "string" || !states.includes(v))
      problems.push(`${at}: ${JSON.stringify(v)} is not one of ${states.join(", ")}`);
  };
}

const requiredU32: Check = (v, at, problems) => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 4294967295)
    problems.push(`${at}: ${JSON.stringify(v)} is not a u32`);
};

function checkFields(value: unknown, at: string, fields: Record<string, Check>, problems: string[]): void {
  if (!isRecord(value)) {
    problems.push(`${at}: not an object`);
    return;
  }
  for (const [name, check] of Object.entries(fields)) check(value[name], `${at}.${name}`, problems);
}

/** Problems upstream's BottlerocketShadowSpec (v1 or v2) would have reading `spec`. */
export function upstreamSpecProblems(spec: unknown, version: UpstreamVersion, at = "spec"): string[] {
  const problems: string[] = [];
  checkFields(
    spec,
    at,
    {
      state: requiredState(version === "v2" ? V2_STATES : V1_STATES),
      state_transition_timestamp: optionalTimestamp,
      version: optionalSemver,
    },
    problems,
  );
  return problems;
}

/** Problems upstream's BottlerocketShadowStatus (v1 or v2) would have reading `status`. */
export function upstreamStatusProblems(status: unknown, version: UpstreamVersion, at = "status"): string[] {
  const problems: string[] = [];
  const fields: Record<string, Check> = {
    current_version: requiredSemver,
    target_version: requiredSemver,
    current_state: requiredState(version === "v2" ? V2_STATES : V1_STATES),
  };
  if (version === "v2") {
    fields["crash_count"] = requiredU32; // a u32 without serde(default): required
    fields["state_transition_failure_timestamp"] = optionalTimestamp;
  }
  checkFields(status, at, fields, problems);
  return problems;
}

/** Problems upstream's BottlerocketShadow (v1 or v2) would have reading a whole object. */
export function upstreamShadowProblems(obj: unknown, version: UpstreamVersion): string[] {
  if (!isRecord(obj)) return ["(root): not an object"];
  const problems: string[] = [];
  const apiVersion = `brupop.bottlerocket.aws/${version}`;
  if (obj["apiVersion"] !== undefined && obj["apiVersion"] !== apiVersion)
    problems.push(`apiVersion: ${JSON.stringify(obj["apiVersion"])} is not ${apiVersion}`);
  if (obj["metadata"] !== undefined && !isRecord(obj["metadata"])) problems.push("metadata: not an object");
  problems.push(...upstreamSpecProblems(obj["spec"], version));
  if (obj["status"] !== undefined && obj["status"] !== null)
    problems.push(...upstreamStatusProblems(obj["status"], version));
  return problems;
}
