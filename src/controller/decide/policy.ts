// The UpdatePolicy's rules as pure functions (issue 18): what the policy allows this tick (pause,
// failure-budget halt, window in a time zone, concurrency as a count or a percentage, per-zone and
// per-node holds) and the status that says so. No I/O: policy-source.ts reads and writes the
// object, policy-stage.ts wires both into the tick.
//
// Crash-only like the rest of the controller: everything is recomputed every tick from the shadows,
// the Nodes and the policy object; the only memory is the policy's own status (the failure
// budget's recorded failures and halt), so a restart or a failover carries on where it was.
import { nodeNameForShadow } from "../../model/constants.js";
import { ACCEPT_FAILURE_ANNOTATION } from "../../model/constants.js";
import {
  CLEAR_HALT_ANNOTATION,
  NODE_PAUSED_ANNOTATION,
  parsePolicySpec,
  ZONE_LABEL,
  type ParsedGroup,
  type ParsedPolicy,
  type PolicyStatus,
  type RawPolicy,
} from "../../model/policy.js";
import type { BottlerocketShadow } from "../../model/shadow.js";
import { epochNanos } from "../../model/time.js";
import { isActive, type ConcurrencyLimit, type NodeLike, type StartFilter } from "./decisions.js";
import { isFailed, nodeOutcome, type NodeOutcome } from "./outcome.js";
import { parseSchedule, type UpdateSchedule } from "./schedule.js";

export type FleetHoldRule = "paused" | "halted" | "window" | "invalid";

export interface FleetHold {
  rule: FleetHoldRule;
  /** Names the policy and the rule, e.g. "paused by UpdatePolicy default". */
  message: string;
}

export type FailureBudgetStatus = NonNullable<PolicyStatus["failureBudget"]>;

/** What the policy decides for one tick. */
export interface PolicyDecision {
  name: string;
  /** Why no node may start now (undefined: the policy lets them, subject to the filter). */
  fleetHold: FleetHold | undefined;
  maxConcurrent: ConcurrencyLimit;
  /** Per-node holds: the Node annotation and the per-zone limit. */
  filter: () => StartFilter;
  /** The policy's window, if it has one. */
  window: { open: boolean; opensAt: Date | null } | undefined;
  /** The failure budget's state after this tick (undefined: no budget). */
  budget: FailureBudgetStatus | undefined;
  /** The budget tripped in this tick (an Event is due). */
  tripped: boolean;
  /** A person cleared a halt in this tick. */
  cleared: boolean;
  invalid: string | undefined;
  policy: ParsedPolicy | undefined;
  /** The waves (undefined: no groups). */
  group?: GroupGate | undefined;
}

export interface PolicyInput {
  policy: RawPolicy;
  shadows: readonly BottlerocketShadow[];
  nodes: readonly NodeLike[];
  now: Date;
  /** MAX_CONCURRENT_UPDATE (used when the policy sets no maxConcurrent). */
  envMaxConcurrent: ConcurrencyLimit;
  /** Compiled schedules by `expression\0zone` (compiling croner every tick is wasteful). */
  scheduleCache?: Map<string, UpdateSchedule | string>;
}

function policyName(p: RawPolicy): string {
  return p.metadata?.name ?? "default";
}

/** A percentage of the managed nodes, rounded down, at least one; or the count as given. */
export function resolveMaxConcurrent(
  spec: ParsedPolicy["maxConcurrent"],
  eligible: number,
  env: ConcurrencyLimit,
): ConcurrencyLimit {
  if (spec === undefined) return env;
  if (spec.kind === "count") return spec.count;
  return Math.max(1, Math.floor((spec.percent * eligible) / 100));
}

export function zoneOf(node: NodeLike | undefined): string | undefined {
  const zone = node?.metadata?.labels?.[ZONE_LABEL];
  return zone === undefined || zone === "" ? undefined : zone;
}

export function nodePaused(node: NodeLike | undefined): boolean {
  return node?.metadata?.annotations?.[NODE_PAUSED_ANNOTATION] === "true";
}

/**
 * The per-node start filter: a Node annotated paused never starts; with a per-zone limit, a zone
 * with `perZone` nodes active (counted from the shadows, so also right after a failover) takes
 * no more. Each call returns a fresh filter (it counts the starts of one plan).
 */
export function nodeFilter(
  shadows: readonly BottlerocketShadow[],
  nodes: readonly NodeLike[],
  opts: { perZone?: number | undefined; pin?: string | undefined; group?: GroupGate | undefined } = {},
): StartFilter {
  const { perZone, pin, group } = opts;
  const byName = new Map<string, NodeLike>();
  for (const n of nodes) if (n.metadata?.name !== undefined) byName.set(n.metadata.name, n);
  const nodeOf = (s: BottlerocketShadow) => byName.get(nodeNameForShadow(s.metadata.name ?? "") ?? "");
  const activeInZone = new Map<string, number>();
  if (perZone !== undefined) {
    for (const s of shadows) {
      const zone = zoneOf(nodeOf(s));
      if (zone !== undefined && isActive(s)) activeInZone.set(zone, (activeInZone.get(zone) ?? 0) + 1);
    }
  }
  return {
    hold(shadow) {
      const node = nodeOf(shadow);
      if (nodePaused(node)) return `paused by Node annotation ${NODE_PAUSED_ANNOTATION}=true`;
      const waitsForGroup = group?.hold(node);
      if (waitsForGroup !== undefined) return waitsForGroup;
      const offered = shadow.status?.target_version;
      if (pin !== undefined && offered !== pin)
        return `pinned to ${pin} by UpdatePolicy targetVersion (its host offers ${offered ?? "?"}; waiting for the agent to apply the version lock)`;
      const zone = zoneOf(node);
      if (perZone !== undefined && zone !== undefined) {
        const active = activeInZone.get(zone) ?? 0;
        if (active >= perZone)
          return `zone ${zone} full: ${active} of maxConcurrentPerZone ${perZone} updating`;
      }
      return undefined;
    },
    started(shadow) {
      const zone = zoneOf(nodeOf(shadow));
      if (perZone !== undefined && zone !== undefined)
        activeInZone.set(zone, (activeInZone.get(zone) ?? 0) + 1);
    },
  };
}

export type GroupStatus = NonNullable<PolicyStatus["groups"]>[number];

/** Which wave may start now, and why the others wait. */
export interface GroupGate {
  /** The group whose nodes may start ("(rest)": the nodes in no group; undefined: all done). */
  current: string | undefined;
  maxConcurrent: number | undefined;
  hold(node: NodeLike | undefined): string | undefined;
  status: GroupStatus[];
}

export const REST_GROUP = "(rest)";

function matches(node: NodeLike | undefined, labels: Record<string, string>): boolean {
  const have = node?.metadata?.labels ?? {};
  return Object.entries(labels).every(([k, v]) => have[k] === v);
}

/**
 * The waves: a node is in the first group whose labels it carries (else in the last, "(rest)").
 * The current group is the first with a node not up to date; a later group's nodes wait for it, and
 * every earlier group's soak must have passed since it finished (finishedAt, kept in the status).
 * A failed node is not up to date, so a failure keeps the next group waiting.
 */
export function evaluateGroups(
  groups: readonly ParsedGroup[],
  prev: readonly GroupStatus[] | undefined,
  fleet: { shadows: readonly BottlerocketShadow[]; nodes: readonly NodeLike[] },
  now: Date,
  opts: { windows?: readonly (UpdateSchedule | undefined)[]; timeZone?: string } = {},
): GroupGate {
  const { shadows, nodes } = fleet;
  const indexOf = (node: NodeLike | undefined): number => {
    const i = groups.findIndex((g) => matches(node, g.matchLabels));
    return i === -1 ? groups.length : i;
  };
  const names = [...groups.map((g) => g.name), REST_GROUP];
  const status = groupCounts(names, { shadows, nodes }, indexOf, now);
  for (const g of status) {
    if (g.nodes !== g.upToDate) continue;
    g.finishedAt = prev?.find((p) => p.name === g.name)?.finishedAt ?? now.toISOString();
  }
  const currentIndex = status.findIndex((g) => g.finishedAt === undefined);
  if (currentIndex === -1)
    return { current: undefined, maxConcurrent: undefined, status, hold: () => undefined };
  const current = names[currentIndex] ?? "";
  const soak = soaking(groups, status.slice(0, currentIndex), now);
  return {
    current,
    maxConcurrent: groups[currentIndex]?.maxConcurrent,
    status,
    hold(node) {
      const i = indexOf(node);
      const name = names[i] ?? "";
      if (i > currentIndex)
        return `group ${name} waits for group ${current} ${unfinished(status[currentIndex])} (UpdatePolicy groups)`;
      if (soak !== undefined)
        return `group ${name} waits: group ${soak.group} soaks until ${soak.until.toISOString()} (UpdatePolicy groups)`;
      const window = opts.windows?.[i];
      if (window !== undefined && !window.isInWindow(now)) {
        const next = window.nextFire(now);
        const until = next === null ? "never opens again" : `closed until ${next.toISOString()}`;
        return `group ${name} window (${groups[i]?.schedule ?? ""} in ${opts.timeZone ?? "UTC"}) ${until} (UpdatePolicy groups)`;
      }
      return undefined;
    },
  };
}

/** Why the current group is not finished: its failed nodes, named, or "to finish". */
export function unfinished(g: GroupStatus | undefined): string {
  const failed = failedGroupText(g);
  return failed === undefined ? "to finish" : `to finish: ${failed}`;
}

export function failedGroupText(g: GroupStatus | undefined): string | undefined {
  const failed = g?.failedNodes ?? [];
  if (failed.length === 0) return undefined;
  return (
    `${failed.join(", ")} failed (a failed node is not up to date; a later successful update of it, ` +
    `or a person accepting the failure with the ${ACCEPT_FAILURE_ANNOTATION} annotation, lets the group finish)`
  );
}

/** Nodes, up-to-date nodes and failed nodes per group (from each node's outcome). */
function groupCounts(
  names: readonly string[],
  fleet: { shadows: readonly BottlerocketShadow[]; nodes: readonly NodeLike[] },
  indexOf: (node: NodeLike | undefined) => number,
  now: Date,
): GroupStatus[] {
  const byName = new Map<string, NodeLike>();
  for (const n of fleet.nodes) if (n.metadata?.name !== undefined) byName.set(n.metadata.name, n);
  const status: GroupStatus[] = names.map((name) => ({ name, nodes: 0, upToDate: 0, failed: 0 }));
  for (const s of fleet.shadows) {
    const nodeName = nodeNameForShadow(s.metadata.name ?? "") ?? "";
    const g = status[indexOf(byName.get(nodeName))];
    if (g === undefined) continue;
    g.nodes++;
    const outcome = nodeOutcome(s, now);
    if (outcome.kind === "up-to-date") g.upToDate++;
    else if (isFailed(outcome)) {
      g.failed = (g.failed ?? 0) + 1;
      g.failedNodes = [
        ...(g.failedNodes ?? []),
        describeFailedNode(nodeName || (s.metadata.name ?? ""), outcome),
      ];
    }
  }
  for (const g of status) g.failedNodes?.sort();
  return status;
}

/** "node-1 (Unhealthy on 1.20.0)" / "node-2 (HostCommandFailed; retries after back-off)". */
function describeFailedNode(node: string, o: NodeOutcome): string {
  if (o.kind === "failed-on-new-version") return `${node} (${o.failure.reason} on ${o.version})`;
  if (o.kind === "failed-before-reboot")
    return `${node} (${o.failure?.reason ?? "failed"} before the reboot; retries after back-off)`;
  return node;
}

/** The latest end of a finished group's soak still ahead, if any. */
function soaking(
  groups: readonly ParsedGroup[],
  finished: readonly GroupStatus[],
  now: Date,
): { group: string; until: Date } | undefined {
  let out: { group: string; until: Date } | undefined;
  finished.forEach((g, i) => {
    const until = Date.parse(g.finishedAt ?? "") + (groups[i]?.soakMs ?? 0);
    if (until > now.getTime() && (out === undefined || until > out.until.getTime()))
      out = { group: g.name, until: new Date(until) };
  });
  return out;
}

/** Without a policy object: only the Node annotation holds (the one rule that needs none). */
export function defaultFilter(nodes: readonly NodeLike[]): () => StartFilter {
  return () => nodeFilter([], nodes);
}

function failureTime(s: BottlerocketShadow): string | undefined {
  const st = s.status;
  if (st === undefined) return undefined;
  return st.state_transition_failure_timestamp ?? st.failure?.timestamp ?? undefined;
}

function ms(ts: string): number | undefined {
  const n = epochNanos(ts);
  return n === undefined ? undefined : Number(n / 1_000_000n);
}

/**
 * The failure budget after this tick. Failures are the shadows' failure timestamps (set by the
 * agent when a node reaches ErrorReset) at or after `countingSince` and within the window, merged
 * with the ones recorded before (a node that failed and then succeeded clears its timestamp; the
 * record keeps the failure). Distinct failed nodes ≥ maxFailures halts, until a person sets a new
 * value on the clear-halt annotation, which restarts the count at that instant.
 */
export function evaluateBudget(
  budget: { maxFailures: number; windowMs: number },
  prev: FailureBudgetStatus | undefined,
  shadows: readonly BottlerocketShadow[],
  now: Date,
  clearToken: string | undefined,
): { next: FailureBudgetStatus; tripped: boolean; cleared: boolean } {
  const nowIso = now.toISOString();
  let next: FailureBudgetStatus = prev
    ? { ...prev, failures: [...prev.failures] }
    : { countingSince: nowIso, failures: [] };
  let cleared = false;
  if (clearToken !== undefined && clearToken !== "" && clearToken !== next.clearedBy) {
    if (next.haltedAt !== undefined) {
      next = { countingSince: nowIso, failures: [], clearedBy: clearToken };
      cleared = true;
    } else next.clearedBy = clearToken;
  }
  const since = Math.max(ms(next.countingSince) ?? 0, now.getTime() - budget.windowMs);
  const seen = new Set<string>();
  const failures: FailureBudgetStatus["failures"] = [];
  const add = (node: string, at: string) => {
    const t = ms(at);
    if (t === undefined || t < since || seen.has(`${node}\0${at}`)) return;
    seen.add(`${node}\0${at}`);
    failures.push({ node, at });
  };
  for (const f of next.failures) add(f.node, f.at);
  for (const s of shadows) {
    const at = failureTime(s);
    const node = nodeNameForShadow(s.metadata.name ?? "") ?? s.metadata.name ?? "";
    if (at !== undefined) add(node, at);
  }
  failures.sort((a, b) => a.at.localeCompare(b.at) || a.node.localeCompare(b.node));
  next.failures = failures;
  let tripped = false;
  if (next.haltedAt === undefined) {
    const nodes = [...new Set(failures.map((f) => f.node))].sort();
    if (nodes.length >= budget.maxFailures) {
      next.haltedAt = nowIso;
      next.haltedNodes = nodes;
      tripped = true;
    }
  }
  return { next, tripped, cleared };
}

function windowOf(
  expression: string | undefined,
  timeZone: string,
  field: string,
  now: Date,
  cache: Map<string, UpdateSchedule | string> | undefined,
): UpdateSchedule | string | undefined {
  if (expression === undefined) return undefined;
  const key = `${expression}\0${timeZone}\0${field}`;
  const hit = cache?.get(key);
  if (hit !== undefined) return hit;
  let out: UpdateSchedule | string;
  try {
    const schedule = parseSchedule(expression, now, field, timeZone);
    out =
      schedule.kind === "window"
        ? schedule
        : `${field}: "${expression}" is not a window (it fires at single instants); use a range of seconds like "* * 2-4 * * *"`;
  } catch (err) {
    out = err instanceof Error ? err.message : String(err);
  }
  cache?.set(key, out);
  return out;
}

/** The rule that holds every start (halt, then pause, then window), if any. */
function fleetHoldOf(
  name: string,
  policy: ParsedPolicy,
  budget: FailureBudgetStatus | undefined,
  window: PolicyDecision["window"],
): FleetHold | undefined {
  if (budget?.haltedAt !== undefined) {
    const nodes = (budget.haltedNodes ?? []).join(", ");
    return {
      rule: "halted",
      message: `halted by UpdatePolicy ${name}: failure budget exhausted (${nodes} failed)`,
    };
  }
  if (policy.paused) return { rule: "paused", message: `paused by UpdatePolicy ${name}` };
  if (window !== undefined && !window.open) {
    const until =
      window.opensAt === null ? "never opens again" : `closed until ${window.opensAt.toISOString()}`;
    return {
      rule: "window",
      message: `UpdatePolicy ${name} window (${policy.schedule ?? ""} in ${policy.timeZone}) ${until}`,
    };
  }
  return undefined;
}

/** What the policy allows this tick. */
export function decidePolicy(input: PolicyInput): PolicyDecision {
  const { policy: raw, shadows, nodes, now } = input;
  const name = policyName(raw);
  const base = {
    name,
    maxConcurrent: input.envMaxConcurrent,
    filter: defaultFilter(nodes),
    window: undefined,
    budget: raw.status?.failureBudget,
    tripped: false,
    cleared: false,
  };
  const parsed = parsePolicySpec(raw.spec);
  if ("error" in parsed) {
    return {
      ...base,
      fleetHold: { rule: "invalid", message: `UpdatePolicy ${name} is invalid (${parsed.error})` },
      invalid: parsed.error,
      policy: undefined,
    };
  }
  const policy = parsed.policy;
  const win = windowOf(policy.schedule, policy.timeZone, "spec.schedule", now, input.scheduleCache);
  const groupWindows = policy.groups.map((g, i) =>
    windowOf(g.schedule, policy.timeZone, `spec.groups[${i}].schedule`, now, input.scheduleCache),
  );
  const badGroupWindow = groupWindows.find((w) => typeof w === "string");
  if (typeof win === "string" || badGroupWindow !== undefined) {
    const error = typeof win === "string" ? win : String(badGroupWindow);
    return {
      ...base,
      fleetHold: { rule: "invalid", message: `UpdatePolicy ${name} is invalid (${error})` },
      invalid: error,
      policy,
    };
  }
  const fleetMax = resolveMaxConcurrent(policy.maxConcurrent, shadows.length, input.envMaxConcurrent);
  const group =
    policy.groups.length === 0
      ? undefined
      : evaluateGroups(policy.groups, raw.status?.groups, { shadows, nodes }, now, {
          windows: groupWindows.map((w) => (typeof w === "string" ? undefined : w)),
          timeZone: policy.timeZone,
        });
  const filter = () =>
    nodeFilter(shadows, nodes, { perZone: policy.maxConcurrentPerZone, pin: policy.targetVersion, group });
  let budget: FailureBudgetStatus | undefined;
  let tripped = false;
  let cleared = false;
  if (policy.failureBudget !== undefined) {
    const clearToken = raw.metadata?.annotations?.[CLEAR_HALT_ANNOTATION];
    ({
      next: budget,
      tripped,
      cleared,
    } = evaluateBudget(policy.failureBudget, raw.status?.failureBudget, shadows, now, clearToken));
  }
  const window =
    win === undefined
      ? undefined
      : { open: win.isInWindow(now), opensAt: win.isInWindow(now) ? null : win.nextFire(now) };
  const fleetHold = fleetHoldOf(name, policy, budget, window);
  const groupMax = group?.maxConcurrent;
  const maxConcurrent =
    groupMax === undefined ? fleetMax : fleetMax === "unlimited" ? groupMax : Math.min(fleetMax, groupMax);
  return {
    name,
    fleetHold,
    maxConcurrent,
    filter,
    group,
    window,
    budget,
    tripped,
    cleared,
    invalid: undefined,
    policy,
  };
}
