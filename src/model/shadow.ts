// BottlerocketShadow v2 (storage) and v1 (legacy) wire types as TypeBox schemas (SPEC §2).
// Field names are snake_case on the wire, exactly as upstream Brupop writes them.
import type { Static, TSchema } from "typebox";
import { API_VERSION_V2, KIND } from "./constants.js";
import { SEMVER_PATTERN } from "./semver.js";
import { Type } from "./type-builders.js";
import { V1_STATES, V2_STATES, type ShadowState } from "./state.js";
import { compileValidator } from "./validation.js";

const nullable = <S extends TSchema>(schema: S) => Type.Union([schema, Type.Null()]);

export const SemverSchema = Type.String({ pattern: SEMVER_PATTERN });
/** RFC 3339 (chrono writes nanoseconds and `Z`; any RFC 3339 offset is accepted). */
export const TimestampSchema = Type.String({ format: "date-time" });
export const StateSchema = Type.Enum([...V2_STATES]);
export const StateV1Schema = Type.Enum([...V1_STATES]);

export const ShadowSpecSchema = Type.Object(
  {
    state: StateSchema,
    state_transition_timestamp: Type.Optional(nullable(TimestampSchema)),
    version: Type.Optional(nullable(SemverSchema)),
  },
  { additionalProperties: false },
);

/** Longest failure message an agent reports (longer host/apiserver error text is cut). */
export const FAILURE_MESSAGE_MAX = 1024;

/**
 * Why the last update attempt failed ("beyond": upstream never writes it and ignores it when reading,
 * serde keeps no unknown-field check). Optional: statuses upstream's agents write have none.
 */
export const ShadowFailureSchema = Type.Object(
  {
    state: Type.Enum([...V2_STATES], {
      description: "The state the node was trying to reach when it failed.",
    }),
    reason: Type.String({
      pattern: "^[A-Z][A-Za-z]*$",
      description:
        "Why, as one CamelCase word (HostCommandFailed, HostNotReady, DrainFailed, ApiserverCallFailed, Timeout, Unhealthy).",
    }),
    message: Type.String({
      description: "What failed, in words (the host API's or apiserver's error text).",
    }),
    timestamp: Type.String({ format: "date-time", description: "When it failed (RFC 3339)." }),
  },
  { additionalProperties: false },
);

export const ShadowStatusSchema = Type.Object(
  {
    current_version: SemverSchema,
    target_version: SemverSchema,
    current_state: StateSchema,
    crash_count: Type.Integer({ minimum: 0, maximum: 4294967295 }),
    state_transition_failure_timestamp: Type.Optional(nullable(TimestampSchema)),
    failure: Type.Optional(ShadowFailureSchema),
  },
  { additionalProperties: false },
);

export const ShadowSpecV1Schema = Type.Object(
  {
    state: StateV1Schema,
    state_transition_timestamp: Type.Optional(nullable(TimestampSchema)),
    version: Type.Optional(nullable(SemverSchema)),
  },
  { additionalProperties: false },
);

export const ShadowStatusV1Schema = Type.Object(
  {
    current_version: SemverSchema,
    target_version: SemverSchema,
    current_state: StateV1Schema,
  },
  { additionalProperties: false },
);

export type ShadowSpecWire = Static<typeof ShadowSpecSchema>;
export type ShadowStatusWire = Static<typeof ShadowStatusSchema>;
export type ShadowSpecV1Wire = Static<typeof ShadowSpecV1Schema>;
export type ShadowStatusV1Wire = Static<typeof ShadowStatusV1Schema>;

/** Spec with optional fields normalised to null: what our code works with. */
export interface ShadowSpec {
  state: ShadowState;
  state_transition_timestamp: string | null;
  version: string | null;
}

export type ShadowFailure = Static<typeof ShadowFailureSchema>;

export interface ShadowStatus {
  current_version: string;
  target_version: string;
  current_state: ShadowState;
  crash_count: number;
  state_transition_failure_timestamp: string | null;
  /** Why the last attempt failed; absent when none is known (upstream's agents never write it). */
  failure?: ShadowFailure;
}

/** The subset of ObjectMeta brupop reads and must keep through conversion. */
export interface ShadowMetadata {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string | Date;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface BottlerocketShadow {
  apiVersion: typeof API_VERSION_V2;
  kind: typeof KIND;
  metadata: ShadowMetadata;
  spec: ShadowSpec;
  status?: ShadowStatus;
}

export const DEFAULT_SPEC: Readonly<ShadowSpec> = Object.freeze({
  state: "Idle",
  state_transition_timestamp: null,
  version: null,
});

const specValidator = compileValidator(ShadowSpecSchema, "spec");
const statusValidator = compileValidator(ShadowStatusSchema, "status");
export const specV1Validator = compileValidator(ShadowSpecV1Schema, "spec");
export const statusV1Validator = compileValidator(ShadowStatusV1Schema, "status");

/** Validates a v2 spec from the wire; throws BRUPOP_E_INVALID_OBJECT naming the field. */
export function parseSpec(value: unknown): ShadowSpec {
  const spec = specValidator.parse(value);
  return {
    state: spec.state,
    state_transition_timestamp: spec.state_transition_timestamp ?? null,
    version: spec.version ?? null,
  };
}

/** Validates a v2 status from the wire; throws BRUPOP_E_INVALID_OBJECT naming the field. */
export function parseStatus(value: unknown): ShadowStatus {
  const status = statusValidator.parse(value);
  return { ...status, state_transition_failure_timestamp: status.state_transition_failure_timestamp ?? null };
}

/**
 * Reads a v2 object as stored in the cluster (spec may be missing on objects other tools wrote:
 * it then defaults to Idle, like upstream). Throws BRUPOP_E_INVALID_OBJECT on a malformed one.
 */
export function parseShadow(obj: {
  metadata?: unknown;
  spec?: unknown;
  status?: unknown;
}): BottlerocketShadow {
  const metadata = (obj.metadata ?? {}) as ShadowMetadata;
  const spec = obj.spec === undefined || obj.spec === null ? { ...DEFAULT_SPEC } : parseSpec(obj.spec);
  const shadow: BottlerocketShadow = { apiVersion: API_VERSION_V2, kind: KIND, metadata, spec };
  if (obj.status !== undefined && obj.status !== null) shadow.status = parseStatus(obj.status);
  return shadow;
}

export function specsEqual(a: ShadowSpec, b: ShadowSpec): boolean {
  return (
    a.state === b.state &&
    a.version === b.version &&
    a.state_transition_timestamp === b.state_transition_timestamp
  );
}

export function statusesEqual(a: ShadowStatus | undefined, b: ShadowStatus | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.current_version === b.current_version &&
    a.target_version === b.target_version &&
    a.current_state === b.current_state &&
    a.crash_count === b.crash_count &&
    a.state_transition_failure_timestamp === b.state_transition_failure_timestamp &&
    failuresEqual(a.failure, b.failure)
  );
}

/** States reached only after the reboot into the update: a failure reaching them is on the new version. */
export const AFTER_REBOOT_STATES: ReadonlySet<ShadowState> = new Set([
  "RebootedIntoUpdate",
  "MonitoringUpdate",
]);

/**
 * The failure the node had on the version it runs, if any (issue 25): a failure record reaching a
 * state after the reboot, with the host on its target version. Upstream's agents write no failure
 * record: their nodes are judged by versions alone, as upstream does.
 */
export function failureOnNewVersion(status: ShadowStatus): ShadowFailure | undefined {
  const f = status.failure;
  if (f === undefined || !AFTER_REBOOT_STATES.has(f.state)) return undefined;
  return status.current_version === status.target_version ? f : undefined;
}

/** status.failure in words, for Events, `brupop status` and the demo: "DrainFailed reaching RebootedIntoUpdate: …". */
export function describeFailure(f: ShadowFailure): string {
  return `${f.reason} reaching ${f.state}: ${f.message}`;
}

function failuresEqual(a: ShadowFailure | undefined, b: ShadowFailure | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.state === b.state && a.reason === b.reason && a.message === b.message && a.timestamp === b.timestamp
  );
}
