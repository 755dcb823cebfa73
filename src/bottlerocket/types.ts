// Wire types of the Bottlerocket host update API (SPEC §6), snake_case exactly as on the wire,
// with schemas so the client can reject a malformed host answer with a clear, typed error.
import type { Static } from "typebox";
import { BrupopError } from "../errors.js";
import { SEMVER_PATTERN } from "../model/semver.js";
import { Type } from "../model/type-builders.js";
import { compileCheck } from "../model/validation.js";

export const UPDATE_STATES = ["Idle", "Available", "Staged", "Ready"] as const;
export type UpdateState = (typeof UPDATE_STATES)[number];

/** Commands recorded in `most_recent_command.cmd_type` (reboot is not one of them). */
export const UPDATE_COMMANDS = ["refresh", "prepare", "activate", "deactivate"] as const;
export type UpdateCommand = (typeof UPDATE_COMMANDS)[number];

export const COMMAND_STATUSES = ["Success", "Failed"] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

/** Action paths, by command. */
export const ACTION_PATHS = {
  refresh: "/actions/refresh-updates",
  prepare: "/actions/prepare-update",
  activate: "/actions/activate-update",
  deactivate: "/actions/deactivate-update",
  reboot: "/actions/reboot",
} as const satisfies Record<UpdateCommand | "reboot", string>;
export type HostAction = keyof typeof ACTION_PATHS;

export const OS_PATH = "/os";
export const STATUS_PATH = "/updates/status";

// The settings API (not in SPEC §6; modelled on Bottlerocket's openapi.yaml): only the update
// version lock is used. `GET /settings?keys=…` answers the Settings object holding just those keys;
// `PATCH /settings` stages a change in the default transaction (204); `POST /tx/commit_and_apply`
// commits and applies it (200, the committed keys).
export const SETTINGS_PATH = "/settings";
export const COMMIT_AND_APPLY_PATH = "/tx/commit_and_apply";
export const VERSION_LOCK_KEY = "settings.updates.version-lock";
/** The version lock that follows the newest release (Bottlerocket's default). */
export const VERSION_LOCK_LATEST = "latest";

export interface OsInfo {
  pretty_name: string;
  variant_id: string;
  version_id: string;
  build_id: string;
  arch: string;
}

export interface UpdateImage {
  arch: string;
  version: string;
  variant: string;
}

export interface StagedImage {
  image: UpdateImage;
  next_to_boot: boolean;
}

export interface CommandResult {
  cmd_type: UpdateCommand;
  cmd_status: CommandStatus;
  /** RFC 3339. */
  timestamp: string;
  exit_status: number;
  stderr: string;
}

export interface UpdateStatus {
  update_state: UpdateState;
  /** Newest first. */
  available_updates: string[];
  chosen_update: UpdateImage | null;
  active_partition: StagedImage | null;
  staging_partition: StagedImage | null;
  most_recent_command: CommandResult | null;
}

// --- schemas (unknown extra fields are allowed: newer hosts may add some) ---

const Semver = Type.String({ pattern: SEMVER_PATTERN });
const Rfc3339 = Type.String({
  pattern: "^\\d{4}-\\d{2}-\\d{2}[Tt ]\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?([Zz]|[+-]\\d{2}:\\d{2})$",
});

export const OsInfoSchema = Type.Object({
  pretty_name: Type.String(),
  variant_id: Type.String(),
  version_id: Semver,
  build_id: Type.String(),
  arch: Type.String(),
});

const UpdateImageSchema = Type.Object({ arch: Type.String(), version: Semver, variant: Type.String() });
const StagedImageSchema = Type.Object({ image: UpdateImageSchema, next_to_boot: Type.Boolean() });
const CommandResultSchema = Type.Object({
  cmd_type: Type.Union([
    Type.Literal("refresh"),
    Type.Literal("prepare"),
    Type.Literal("activate"),
    Type.Literal("deactivate"),
  ]),
  cmd_status: Type.Union([Type.Literal("Success"), Type.Literal("Failed")]),
  timestamp: Rfc3339,
  exit_status: Type.Integer(),
  stderr: Type.String(),
});

export const UpdateStatusSchema = Type.Object({
  update_state: Type.Union([
    Type.Literal("Idle"),
    Type.Literal("Available"),
    Type.Literal("Staged"),
    Type.Literal("Ready"),
  ]),
  available_updates: Type.Array(Semver),
  chosen_update: Type.Union([UpdateImageSchema, Type.Null()]),
  active_partition: Type.Union([StagedImageSchema, Type.Null()]),
  staging_partition: Type.Union([StagedImageSchema, Type.Null()]),
  most_recent_command: Type.Union([CommandResultSchema, Type.Null()]),
});

// Precompiled at build time (src/model/validator-codegen.ts).
const osInfoValidator = compileCheck(OsInfoSchema);
const updateStatusValidator = compileCheck(UpdateStatusSchema);

interface Validator {
  Check(value: unknown): boolean;
  Errors(value: unknown): { instancePath: string; message: string }[];
}

function validate<T>(validator: Validator, what: string, value: unknown): T {
  if (validator.Check(value)) return value as T;
  const errors = validator.Errors(value).slice(0, 5);
  const first = errors[0];
  const where = first === undefined ? "" : `: ${first.instancePath || "/"} ${first.message}`;
  throw new BrupopError("BRUPOP_E_HOST_API", `malformed ${what} from host${where}`, {
    reason: "malformed-response",
    errors: errors.map((e) => `${e.instancePath || "/"} ${e.message}`),
  });
}

/** Validates a parsed `GET /os` body; BRUPOP_E_HOST_API when it does not match. */
export function parseOsInfo(value: unknown): OsInfo {
  return validate<OsInfo>(osInfoValidator, "OS info", value);
}

/** Validates a parsed `GET /updates/status` body; BRUPOP_E_HOST_API when it does not match. */
export function parseUpdateStatus(value: unknown): UpdateStatus {
  return validate<UpdateStatus>(updateStatusValidator, "update status", value);
}

// Compile-time guard: the hand-written interfaces and the schemas describe the same shapes.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _osInfoMatches: Same<Static<typeof OsInfoSchema>, OsInfo> = true;
const _statusMatches: Same<Static<typeof UpdateStatusSchema>, UpdateStatus> = true;
