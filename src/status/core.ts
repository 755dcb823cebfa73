// The pure core of `brupop status`: (shadows, nodes, controller state, drain facts, now) → one row per
// managed node saying where it is and WHY.
//
// The schedule and concurrency verdicts come from the controller's own functions (evaluateGate,
// explainFleet → planTick), fed with the settings the leader published, so status cannot disagree
// with what the controller does. On top of those, status adds what only an observer of nodes and
// pods can tell: a drain held up by a PodDisruptionBudget, and an agent that has gone silent (spec
// ≠ status past the state's time allowance, or its node NotReady / gone).
import { isActive } from "../controller/decide/decisions.js";
import { isFailed, nodeOutcome } from "../controller/decide/outcome.js";
import type { WaitReason } from "../controller/decide/explain.js";
import { decideFleet, explainDecision } from "../controller/decide/fleet.js";
import { fleetDemand, type GateDecision } from "../controller/decide/gate.js";
import type { PolicyDecision } from "../controller/decide/policy.js";
import type { RawPolicy } from "../model/policy.js";
import { nodeNameForShadow } from "../model/constants.js";
import { parseShadow, type BottlerocketShadow } from "../model/shadow.js";
import { TIME_ALLOWANCE_SECONDS } from "../model/state.js";
import { describeRow, type RowFacts } from "./format.js";
import { applyHolds } from "./holds.js";
import {
  blockingPdbs,
  nodeInfo,
  type DrainView,
  type NodeInfo,
  type RawNode,
  type RawShadow,
  type StatusInput,
} from "./inputs.js";
import {
  STATUS_API_VERSION,
  STATUS_KIND,
  type ControllerStatus,
  type FleetStatus,
  type NodeRow,
  type Phase,
  type RowReason,
  type PolicySummary,
  type Summary,
} from "./model.js";
import { resolveSettings, type EffectiveSettings } from "./settings.js";

const ATTENTION: ReadonlySet<RowReason["kind"]> = new Set([
  "agent-silent",
  "pdb-blocking",
  "invalid",
  "failed-on-new-version",
]);

interface Parsed {
  shadows: BottlerocketShadow[];
  invalid: { name: string; error: string }[];
}

function parseAll(raw: readonly RawShadow[]): Parsed {
  const out: Parsed = { shadows: [], invalid: [] };
  for (const r of raw) {
    try {
      out.shadows.push(parseShadow(r));
    } catch (err) {
      out.invalid.push({
        name: r.metadata?.name ?? "",
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
  return out;
}

function nodeMap(raw: readonly RawNode[]): Map<string, NodeInfo> {
  const map = new Map<string, NodeInfo>();
  for (const n of raw) {
    const info = nodeInfo(n);
    if (info !== undefined) map.set(info.name, info);
  }
  return map;
}

const nodeOf = (shadowName: string): string => nodeNameForShadow(shadowName) ?? shadowName;

/** The agent is draining: asked to reboot, not there yet, and it has cordoned the node. */
export function isDraining(shadow: BottlerocketShadow, node: NodeInfo | undefined): boolean {
  const s = shadow.status;
  return (
    s !== undefined &&
    shadow.spec.state === "RebootedIntoUpdate" &&
    s.current_state !== "RebootedIntoUpdate" &&
    s.current_state !== "ErrorReset" &&
    node?.cordoned === true
  );
}

/** Nodes whose pods and PDBs the caller should fetch (only these; a fleet-wide pod LIST is costly). */
export function drainingNodes(shadows: readonly RawShadow[], nodes: readonly RawNode[]): string[] {
  const infos = nodeMap(nodes);
  return parseAll(shadows)
    .shadows.filter((s) => isDraining(s, infos.get(nodeOf(s.metadata.name ?? ""))))
    .map((s) => nodeOf(s.metadata.name ?? ""))
    .sort();
}

function notReady(node: NodeInfo): RowReason | undefined {
  return node.ready === false
    ? { kind: "agent-silent", cause: "node-not-ready", since: node.notReadySince, allowanceSeconds: null }
    : undefined;
}

/** Reason for a node in the active set. */
function activeReason(
  shadow: BottlerocketShadow & { status: NonNullable<BottlerocketShadow["status"]> },
  node: NodeInfo,
  drain: DrainView | undefined,
  now: Date,
): RowReason {
  const { spec, status } = shadow;
  if (isDraining(shadow, node) && drain !== undefined && !("error" in drain)) {
    const blocked = blockingPdbs(drain);
    if (blocked.pdbs.length > 0) return { kind: "pdb-blocking", ...blocked };
  }
  const allowance = TIME_ALLOWANCE_SECONDS[spec.state];
  const since = spec.state_transition_timestamp;
  const sinceMs = since === null ? NaN : Date.parse(since);
  const deadline =
    allowance === null || Number.isNaN(sinceMs) ? null : new Date(sinceMs + allowance * 1000).toISOString();
  if (status.current_state !== spec.state && deadline !== null && now.getTime() > Date.parse(deadline)) {
    return { kind: "agent-silent", cause: "timeout", since, allowanceSeconds: allowance };
  }
  // NotReady is expected while the node reboots into the update, within its allowance.
  const rebooting = spec.state === "RebootedIntoUpdate" && status.current_state !== spec.state;
  if (!rebooting) {
    const silent = notReady(node);
    if (silent !== undefined) return silent;
  }
  return { kind: "updating", since, deadline };
}

function waitingReason(reason: WaitReason): RowReason {
  switch (reason.kind) {
    case "up-to-date":
      return { kind: "up-to-date" };
    case "failed-on-new-version":
      return { kind: "failed-on-new-version", version: reason.version, accept: reason.accept ?? null };
    case "backoff":
      return { kind: "backoff", until: reason.until.toISOString(), crashCount: reason.crashCount };
    case "schedule-closed":
      return {
        kind: "schedule-closed",
        schedule: reason.schedule,
        until: reason.until?.toISOString() ?? null,
      };
    case "concurrency-full":
      return { kind: "concurrency-full", active: reason.active, limit: reason.limit };
    case "no-status":
      return { kind: "no-status" };
    case "policy-hold":
      return { kind: "policy-hold", rule: reason.message };
    case "starting":
    case "blocked": // only the controller knows its blockers (status passes none to explainFleet)
    case "in-progress": // handled by activeReason; listed for exhaustiveness
      return { kind: "starting" };
  }
}

/** The row's phase from the node's outcome (outcome.ts): the same notion the controller counts by. */
function phaseOf(shadow: BottlerocketShadow, now: Date): Phase {
  const outcome = nodeOutcome(shadow, now);
  if (isFailed(outcome)) return "failed";
  switch (outcome.kind) {
    case "updating":
      return "updating";
    case "up-to-date":
      return "up-to-date";
    default:
      return "waiting";
  }
}

function factsOf(shadow: BottlerocketShadow, node: NodeInfo | undefined): RowFacts {
  const { spec, status } = shadow;
  const facts = emptyFacts(node);
  facts.state.target = spec.state;
  if (status === undefined) return facts;
  // Headed for: the version the controller asked for while updating, else the newest offered.
  const headedFor = isActive(shadow) ? (spec.version ?? status.target_version) : status.target_version;
  facts.state.current = status.current_state;
  facts.version = { current: status.current_version, target: headedFor };
  facts.crashCount = status.crash_count;
  if (status.failure !== undefined) facts.failure = status.failure;
  return facts;
}

function makeRow(
  base: { node: string; shadow: string | null; phase: Phase; reason: RowReason; facts: RowFacts },
  now: Date,
  note?: string,
): NodeRow {
  const message = describeRow(base.reason, base.facts, now);
  return {
    node: base.node,
    shadow: base.shadow,
    ...base.facts,
    phase: base.phase,
    attention: ATTENTION.has(base.reason.kind),
    reason: base.reason,
    message: note === undefined ? message : `${message} (${note})`,
  };
}

function shadowRow(
  shadow: BottlerocketShadow,
  verdict: WaitReason,
  node: NodeInfo | undefined,
  drain: DrainView | undefined,
  now: Date,
): NodeRow {
  const name = shadow.metadata.name ?? "";
  const facts = factsOf(shadow, node);
  const base = { node: nodeOf(name), shadow: name, phase: phaseOf(shadow, now), facts };
  if (node === undefined) {
    const reason: RowReason = {
      kind: "agent-silent",
      cause: "node-missing",
      since: null,
      allowanceSeconds: null,
    };
    return makeRow({ ...base, reason }, now);
  }
  if (verdict.kind === "in-progress" && shadow.status !== undefined) {
    const reason = activeReason({ ...shadow, status: shadow.status }, node, drain, now);
    const note =
      reason.kind === "updating" && isDraining(shadow, node) && drain !== undefined && "error" in drain
        ? `could not check PodDisruptionBudgets: ${drain.error}`
        : undefined;
    return makeRow({ ...base, reason }, now, note);
  }
  return makeRow({ ...base, reason: notReady(node) ?? waitingReason(verdict) }, now);
}

function emptyFacts(node: NodeInfo | undefined): RowFacts {
  return {
    state: { current: null, target: null },
    version: { current: null, target: null },
    crashCount: null,
    cordoned: node?.cordoned ?? null,
    ready: node?.ready ?? null,
  };
}

function controllerStatus(settings: EffectiveSettings, gate: GateDecision): ControllerStatus {
  return {
    settingsKnown: settings.known,
    note: settings.note,
    leader: settings.leader,
    leaderSince: settings.leaderSince,
    node: settings.controllerNode,
    maxConcurrent: settings.maxConcurrent,
    schedule: {
      expression: settings.schedule.expression,
      kind: settings.schedule.kind,
      updatesAllowed: gate.updatesAllowed,
      opensAt: gate.opensAt?.toISOString() ?? null,
      round: gate.round === null ? null : { lastFire: gate.round.lastFire, open: gate.round.open },
    },
  };
}

function summarise(rows: readonly NodeRow[], active: number, settings: EffectiveSettings): Summary {
  const count = (p: (r: NodeRow) => boolean) => rows.filter(p).length;
  return {
    nodes: rows.length,
    upToDate: count((r) => r.phase === "up-to-date"),
    updating: count((r) => r.phase === "updating"),
    waiting: count((r) => r.phase === "waiting"),
    failed: count((r) => r.phase === "failed"),
    needAttention: count((r) => r.attention),
    active,
    limit: settings.maxConcurrent,
  };
}

export function buildFleetStatus(input: StatusInput): FleetStatus {
  const { now } = input;
  const settings = resolveSettings(input.controllerState, input.controllerStateError, now);
  const nodes = nodeMap(input.nodes);
  const { shadows, invalid } = parseAll(input.shadows);
  const demand = fleetDemand(shadows);
  // Exactly what the controller would decide now, including opening a trigger round that is due.
  const fleet = decideFleet({
    shadows,
    nodes: input.nodes,
    now,
    schedule: settings.schedule,
    round: settings.round,
    maxConcurrent: settings.maxConcurrent,
    policy: input.policy ?? undefined,
  });
  const { gate, policy } = fleet;
  const verdicts = explainDecision(shadows, fleet, {
    now,
    controllerNodeName: settings.controllerNode ?? undefined,
  });

  const rows: NodeRow[] = shadows.map((shadow, i) => {
    const nodeName = nodeOf(shadow.metadata.name ?? "");
    const verdict = verdicts[i]?.reason ?? { kind: "no-status" };
    return shadowRow(shadow, verdict, nodes.get(nodeName), input.drain.get(nodeName), now);
  });
  for (const bad of invalid) {
    const nodeName = nodeOf(bad.name);
    const facts = emptyFacts(nodes.get(nodeName));
    const reason: RowReason = { kind: "invalid", error: bad.error };
    rows.push(makeRow({ node: nodeName, shadow: bad.name, phase: "waiting", reason, facts }, now));
  }
  const covered = new Set(rows.map((r) => r.node));
  for (const node of nodes.values()) {
    if (!node.labelled || covered.has(node.name)) continue;
    const reason: RowReason = { kind: "no-shadow" };
    rows.push(
      makeRow({ node: node.name, shadow: null, phase: "waiting", reason, facts: emptyFacts(node) }, now),
    );
  }
  rows.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  // What only the controller knows (its blockers) and the agent's quarantine (holds.ts).
  const shown = applyHolds(rows, { blockers: input.blockers, leader: settings.leader, nodes, now });

  return {
    apiVersion: STATUS_API_VERSION,
    kind: STATUS_KIND,
    namespace: input.namespace,
    generatedAt: now.toISOString(),
    controller: controllerStatus(settings, gate),
    summary: summarise(shown, demand.active, settings),
    nodes: shown,
    ...(policy !== undefined && { policy: policySummary(input.policy ?? {}, policy) }),
  };
}

function policySummary(raw: RawPolicy, d: PolicyDecision): PolicySummary {
  return {
    name: d.name,
    hold: d.fleetHold?.message ?? null,
    maxConcurrent: d.maxConcurrent,
    conditions: (raw.status?.conditions ?? []).map(({ type, status, reason, message }) => ({
      type,
      status,
      reason,
      message,
    })),
    nextWindowOpen: d.window?.opensAt?.toISOString() ?? null,
  };
}
