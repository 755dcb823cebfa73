// The UpdatePolicy custom resource (issue 18): the fleet's update policy as an object the controller
// watches, so it can change while the controller runs and say what it is doing (status).
//
// Cluster-scoped; the controller honours the one named `default` (CONTROLLER_POLICY_NAME). Without
// it, the environment variables and chart values decide, exactly as before. The spec is validated
// twice: by the API server (the CRD's OpenAPI schema, generated from these TypeBox schemas by
// policy-crd.ts) and
// by parsePolicySpec (a policy written before a schema change, or with a time zone or cron the
// schema cannot check, makes the policy Invalid, which holds every start: an operator who wrote a
// policy wants it obeyed, not ignored).
import type { Static } from "typebox";
import { API_GROUP } from "./constants.js";
import { SEMVER_PATTERN } from "./semver.js";
import { Type } from "./type-builders.js";

export const POLICY_KIND = "UpdatePolicy";
export const POLICY_PLURAL = "updatepolicies";
export const POLICY_SINGULAR = "updatepolicy";
export const POLICY_SHORT_NAME = "brupolicy";
export const POLICY_VERSION = "v1alpha1";
export const POLICY_API_VERSION = `${API_GROUP}/${POLICY_VERSION}`;
export const POLICY_CRD_NAME = `${POLICY_PLURAL}.${API_GROUP}`;
export const DEFAULT_POLICY_NAME = "default";
/** Collection path of the (cluster-scoped) policies. */
export const POLICY_COLLECTION_PATH = `/apis/${API_GROUP}/${POLICY_VERSION}/${POLICY_PLURAL}`;

/** On a Node: "true" holds just that node (it does not start an update; one in progress finishes). */
export const NODE_PAUSED_ANNOTATION = `${API_GROUP}/paused`;
/** On the policy: a new value (any) clears a failure-budget halt. */
export const CLEAR_HALT_ANNOTATION = `${API_GROUP}/clear-halt`;
export const ZONE_LABEL = "topology.kubernetes.io/zone";
/** The version pin on a BottlerocketShadow (the agent's contract: model/constants.ts). */
export { VERSION_LOCK_ANNOTATION } from "./constants.js";

const PERCENT_PATTERN = "^([1-9][0-9]?|100)%$";
const DURATION_PATTERN = "^([0-9]+(ms|s|m|h|d))+$";

export const FailureBudgetSchema = Type.Object(
  {
    maxFailures: Type.Integer({
      minimum: 1,
      description:
        "Halt once this many distinct nodes failed an update (reached ErrorReset) within `window`.",
    }),
    window: Type.String({
      pattern: DURATION_PATTERN,
      description: 'How far back failures count, e.g. "1h", "30m", "1d" (units ms, s, m, h, d).',
    }),
  },
  { additionalProperties: false },
);

export const GroupSchema = Type.Object(
  {
    name: Type.String({ description: "Shown in status and in why-waiting reasons." }),
    matchLabels: Type.Record(Type.String(), Type.String(), {
      description: "Node labels a node must all carry to be in this group.",
    }),
    maxConcurrent: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: "Nodes of this group updating at once (default: the fleet's).",
      }),
    ),
    soak: Type.Optional(
      Type.String({
        pattern: DURATION_PATTERN,
        description: "After this group finished, wait this long before the next group starts.",
      }),
    ),
    schedule: Type.Optional(
      Type.String({
        description:
          "This group's own update window (a cron window like spec.schedule, read in spec.timeZone): its nodes start only inside it, and inside the fleet's window if one is set.",
      }),
    ),
  },
  { additionalProperties: false },
);

export const PolicySpecSchema = Type.Object(
  {
    paused: Type.Optional(
      Type.Boolean({
        default: false,
        description: "true: no node starts an update; nodes already updating finish. Default false.",
      }),
    ),
    maxConcurrent: Type.Optional(
      Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: PERCENT_PATTERN })], {
        description:
          'Nodes updating at once: an integer, or a percentage of the managed nodes ("25%", rounded down, at least 1). Overrides MAX_CONCURRENT_UPDATE.',
      }),
    ),
    maxConcurrentPerZone: Type.Optional(
      Type.Integer({
        minimum: 1,
        description:
          "At most this many nodes of one zone (label topology.kubernetes.io/zone) update at once. Nodes without the label are not limited per zone.",
      }),
    ),
    schedule: Type.Optional(
      Type.String({
        description:
          "An update window as a cron expression (upstream's syntax: sec min hour day-of-month month day-of-week [year]), evaluated in `timeZone`. New updates start only inside it, in addition to SCHEDULER_CRON_EXPRESSION.",
      }),
    ),
    timeZone: Type.Optional(
      Type.String({
        default: "UTC",
        description: 'IANA time zone the schedule is read in, e.g. "Europe/Berlin". Default UTC.',
      }),
    ),
    failureBudget: Type.Optional(FailureBudgetSchema),
    groups: Type.Optional(
      Type.Array(GroupSchema, {
        default: [],
        description:
          "Waves, in order: a node belongs to the first group whose labels match (nodes matching none form a last group). A group's nodes start only once every earlier group is up to date with no failed node, and its soak has passed.",
      }),
    ),
    targetVersion: Type.Optional(
      Type.String({
        pattern: SEMVER_PATTERN,
        description:
          "Pin: nodes update to exactly this version, never past it (the controller writes it on each shadow as the annotation brupop.bottlerocket.aws/version-lock; the agent locks its host to it).",
      }),
    ),
  },
  { additionalProperties: false },
);
export type PolicySpec = Static<typeof PolicySpecSchema>;

export const PolicyConditionSchema = Type.Object({
  type: Type.String({ description: "Progressing, Paused, Halted or Invalid." }),
  status: Type.Enum(["True", "False", "Unknown"]),
  reason: Type.String(),
  message: Type.String(),
  lastTransitionTime: Type.String(),
});
export type PolicyCondition = Static<typeof PolicyConditionSchema>;

export const PolicyFailureSchema = Type.Object({
  node: Type.String(),
  at: Type.String({ description: "When the node failed (RFC 3339)." }),
});

export const PolicyStatusSchema = Type.Object({
  observedGeneration: Type.Optional(Type.Integer()),
  conditions: Type.Optional(Type.Array(PolicyConditionSchema)),
  nodes: Type.Optional(
    Type.Object(
      {
        total: Type.Integer(),
        upToDate: Type.Integer(),
        updating: Type.Integer(),
        waiting: Type.Integer(),
        failed: Type.Integer({
          description:
            "Failed nodes: before the reboot (retried after the crash back-off) or on the new version (not up to date until a later update succeeds or a person accepts the failure).",
        }),
        held: Type.Integer(),
      },
      { description: "Managed nodes per state, as of the controller's last tick." },
    ),
  ),
  finishing: Type.Optional(
    Type.Integer({ description: "While paused or halted: nodes still finishing an update begun before." }),
  ),
  effectiveMaxConcurrent: Type.Optional(Type.String({ description: "The concurrency limit in force." })),
  windowOpen: Type.Optional(Type.Boolean()),
  nextWindowOpen: Type.Optional(Type.String({ description: "When the schedule next opens (RFC 3339)." })),
  currentGroup: Type.Optional(Type.String({ description: "The group whose nodes may start now." })),
  groups: Type.Optional(
    Type.Array(
      Type.Object({
        name: Type.String(),
        nodes: Type.Integer(),
        upToDate: Type.Integer(),
        failed: Type.Optional(
          Type.Integer({
            description:
              "Failed nodes: before the reboot (they retry after back-off) or on the new version (until updated again or accepted).",
          }),
        ),
        failedNodes: Type.Optional(
          Type.Array(Type.String(), {
            description: "The failed nodes, each with why (keeps the group unfinished).",
          }),
        ),
        finishedAt: Type.Optional(
          Type.String({ description: "When every node of the group was up to date." }),
        ),
      }),
    ),
  ),
  failureBudget: Type.Optional(
    Type.Object({
      countingSince: Type.String({ description: "Failures before this instant do not count (RFC 3339)." }),
      failures: Type.Array(PolicyFailureSchema, { description: "Failures within the window." }),
      haltedAt: Type.Optional(Type.String()),
      haltedNodes: Type.Optional(Type.Array(Type.String())),
      clearedBy: Type.Optional(
        Type.String({ description: "The clear-halt annotation value that last cleared a halt." }),
      ),
    }),
  ),
});
export type PolicyStatus = Static<typeof PolicyStatusSchema>;

/** An UpdatePolicy as read from the API (spec not yet trusted). */
export interface RawPolicy {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generation?: number;
    resourceVersion?: string;
    uid?: string;
    annotations?: Record<string, string>;
    managedFields?: unknown[];
  };
  spec?: unknown;
  status?: PolicyStatus;
}

/** The spec, checked and with its values decoded. */
export interface ParsedPolicy {
  paused: boolean;
  maxConcurrent: { kind: "count"; count: number } | { kind: "percent"; percent: number } | undefined;
  maxConcurrentPerZone: number | undefined;
  schedule: string | undefined;
  timeZone: string;
  failureBudget: { maxFailures: number; windowMs: number } | undefined;
  targetVersion: string | undefined;
  groups: ParsedGroup[];
}

export interface ParsedGroup {
  name: string;
  matchLabels: Record<string, string>;
  maxConcurrent: number | undefined;
  soakMs: number;
  /** Its own window (cron), read in the policy's time zone; checked by the controller (policy.ts). */
  schedule: string | undefined;
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "1h30m" → 5 400 000; undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (!new RegExp(DURATION_PATTERN).test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/([0-9]+)(ms|s|m|h|d)/g)) total += Number(m[1]) * (UNIT_MS[m[2] ?? ""] ?? 0);
  return total;
}

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

type FieldParser = (value: unknown, out: ParsedPolicy) => string | undefined;

function parseGroup(g: unknown, at: string, into: ParsedGroup[]): string | undefined {
  if (!isRecord(g)) return `${at}: must be an object`;
  const name = g["name"];
  if (typeof name !== "string" || name === "") return `${at}.name: must be a non-empty string`;
  if (into.some((x) => x.name === name)) return `${at}.name: "${name}" is used twice`;
  const labels = g["matchLabels"];
  if (!isRecord(labels) || !Object.values(labels).every((x) => typeof x === "string"))
    return `${at}.matchLabels: must map label names to values`;
  const max = g["maxConcurrent"];
  if (max !== undefined && !isInt(max, 1)) return `${at}.maxConcurrent: must be an integer ≥ 1`;
  const soakMs =
    g["soak"] === undefined ? 0 : typeof g["soak"] === "string" ? parseDuration(g["soak"]) : undefined;
  if (soakMs === undefined) return `${at}.soak: must be a duration like "30m"`;
  const schedule = g["schedule"];
  if (schedule !== undefined && typeof schedule !== "string")
    return `${at}.schedule: must be a cron expression`;
  into.push({ name, matchLabels: labels as Record<string, string>, maxConcurrent: max, soakMs, schedule });
  return undefined;
}

const isInt = (v: unknown, min: number): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= min;

/** One decoder per spec field; each returns the problem, if any. */
const FIELD_PARSERS: Readonly<Record<keyof PolicySpec, FieldParser>> = {
  paused(v, out) {
    if (typeof v !== "boolean") return "spec.paused: must be true or false";
    out.paused = v;
    return undefined;
  },
  maxConcurrent(v, out) {
    if (isInt(v, 0)) out.maxConcurrent = { kind: "count", count: v };
    else if (typeof v === "string" && new RegExp(PERCENT_PATTERN).test(v))
      out.maxConcurrent = { kind: "percent", percent: Number(v.slice(0, -1)) };
    else return 'spec.maxConcurrent: must be an integer ≥ 0 or a percentage "1%".."100%"';
    return undefined;
  },
  maxConcurrentPerZone(v, out) {
    if (!isInt(v, 1)) return "spec.maxConcurrentPerZone: must be an integer ≥ 1";
    out.maxConcurrentPerZone = v;
    return undefined;
  },
  schedule(v, out) {
    if (typeof v !== "string") return "spec.schedule: must be a cron expression";
    out.schedule = v;
    return undefined;
  },
  timeZone(v, out) {
    if (typeof v !== "string" || !isValidTimeZone(v))
      return `spec.timeZone: ${JSON.stringify(v)} is not an IANA time zone`;
    out.timeZone = v;
    return undefined;
  },
  failureBudget(v, out) {
    if (!isRecord(v)) return "spec.failureBudget: must be an object";
    const max = v["maxFailures"];
    if (!isInt(max, 1)) return "spec.failureBudget.maxFailures: must be an integer ≥ 1";
    const windowMs = typeof v["window"] === "string" ? parseDuration(v["window"]) : undefined;
    if (windowMs === undefined || windowMs <= 0)
      return 'spec.failureBudget.window: must be a duration like "1h" or "30m"';
    out.failureBudget = { maxFailures: max, windowMs };
    return undefined;
  },
  groups(v, out) {
    if (!Array.isArray(v)) return "spec.groups: must be a list";
    const groups: ParsedGroup[] = [];
    for (const [i, g] of v.entries()) {
      const error = parseGroup(g, `spec.groups[${i}]`, groups);
      if (error !== undefined) return error;
    }
    out.groups = groups;
    return undefined;
  },
  targetVersion(v, out) {
    if (typeof v !== "string" || !new RegExp(SEMVER_PATTERN).test(v))
      return "spec.targetVersion: must be a semantic version like 1.20.0";
    out.targetVersion = v;
    return undefined;
  },
};

/**
 * The decoded policy of an empty spec, from the schema: each field's `default` (the schema's only;
 * the CRD does not carry them, so the API server stores what was written), else undefined. Only
 * fields whose decoded form is their written form may have one (a test checks the keys).
 */
export function policyDefaults(): ParsedPolicy {
  const fields = PolicySpecSchema.properties as Record<string, { default?: unknown }>;
  return Object.fromEntries(
    Object.entries(fields).map(([key, schema]) => [key, structuredClone(schema.default)]),
  ) as unknown as ParsedPolicy;
}

/**
 * Checks and decodes a policy spec; returns the first problem as `spec.<field>: ...` text. The cron
 * expression is checked by the caller (it needs the schedule parser and a clock).
 */
export function parsePolicySpec(spec: unknown): { policy: ParsedPolicy } | { error: string } {
  const s = spec ?? {};
  if (!isRecord(s)) return { error: "spec: must be an object" };
  const out = policyDefaults();
  for (const [key, value] of Object.entries(s)) {
    if (!Object.hasOwn(FIELD_PARSERS, key)) return { error: `spec.${key}: unknown field` };
    if (value === undefined) continue;
    const error = FIELD_PARSERS[key as keyof PolicySpec](value, out);
    if (error !== undefined) return { error };
  }
  return { policy: out };
}
