// The controller's decisions as pure functions of (shadows, nodes, clock) → actions (SPEC §3).
// The controller rebuilds its whole view from its caches every tick and calls planTick; nothing
// here does I/O or keeps state between ticks, which is what makes a restart trivial.
import {
  DEFAULT_SPEC,
  failureOnNewVersion,
  specsEqual,
  type BottlerocketShadow,
  type ShadowFailure,
  type ShadowSpec,
  type ShadowStatus,
} from "../../model/shadow.js";
import { ON_SUCCESS } from "../../model/state.js";
import { dateCeil, epochNanos } from "../../model/time.js";
import {
  nodeNameForShadow,
  UPDATER_INTERFACE_LABEL,
  UPDATER_INTERFACE_VERSION,
} from "../../model/constants.js";

const MINUTE_NS = 60_000_000_000n;
/** Upstream's RETRY_MAX_DELAY_IN_MINUTES: past 24 h a failed node may always retry. */
export const BACKOFF_CAP_MINUTES = 24 * 60;

/**
 * Upstream's crash back-off (controller/src/statemachine.rs, exponential_backoff_time_with_upper_limit):
 * a failed node may retry once the WHOLE minutes elapsed since its failure are strictly greater than
 * 2^crash_count, or strictly greater than 1440. So the real wait is one minute longer than 2^n:
 * 2 min at crash count 0, 3 min at 1, 5 min at 2, ..., 1025 min at 10, and 1441 min from 11 on.
 * Returns that threshold (the whole minutes that are still NOT enough).
 */
export function backoffThresholdMinutes(crashCount: number): number {
  // 2^11 already exceeds the cap; clamping the exponent keeps huge counts finite.
  return Math.min(2 ** Math.min(Math.max(crashCount, 0), 11), BACKOFF_CAP_MINUTES);
}

/**
 * When the node may try again (the first instant at which the whole minutes since the failure
 * exceed the threshold), or null if it has no recorded failure. An unreadable failure timestamp
 * counts as none: upstream panics on it (and restarts forever); we let the node proceed.
 */
export function backoffUntil(status: ShadowStatus): Date | null {
  const failedAt = failureNanos(status);
  if (failedAt === undefined) return null;
  return dateCeil(failedAt + BigInt(backoffThresholdMinutes(status.crash_count) + 1) * MINUTE_NS);
}

function failureNanos(status: ShadowStatus): bigint | undefined {
  const ts = status.state_transition_failure_timestamp;
  return ts === null ? undefined : epochNanos(ts);
}

/** Whole minutes from the failure to `now`, truncated toward zero like chrono's num_minutes(). */
export function wholeMinutesSinceFailure(status: ShadowStatus, now: Date): number | null {
  const failedAt = failureNanos(status);
  if (failedAt === undefined) return null;
  return Number((BigInt(now.getTime()) * 1_000_000n - failedAt) / MINUTE_NS);
}

export function backoffPassed(status: ShadowStatus, now: Date): boolean {
  const minutes = wholeMinutesSinceFailure(status, now);
  return minutes === null || minutes > backoffThresholdMinutes(status.crash_count);
}

/** A node is active while its agent is still working or it is anywhere but Idle. */
export function isActive(shadow: BottlerocketShadow): boolean {
  const status = shadow.status;
  if (status === undefined) return false;
  return status.current_state !== "Idle" || status.current_state !== shadow.spec.state;
}

/** Idle, settled, and running the newest version offered. */
export function isSettledOnTarget(shadow: BottlerocketShadow): boolean {
  const status = shadow.status;
  return (
    status !== undefined &&
    shadow.spec.state === "Idle" &&
    status.current_state === "Idle" &&
    status.current_version === status.target_version
  );
}

/** Idle, settled, offered a newer version and out of back-off: may start an update. */
export function isCandidate(shadow: BottlerocketShadow, now: Date): boolean {
  const status = shadow.status;
  return (
    status !== undefined &&
    shadow.spec.state === "Idle" &&
    status.current_state === "Idle" &&
    status.current_version !== status.target_version &&
    backoffPassed(status, now)
  );
}

/**
 * The next spec for one shadow, ignoring fleet limits (upstream's determine_next_node_spec).
 * Returns the current spec when nothing should change.
 */
export function nextSpec(shadow: BottlerocketShadow, now: Date): ShadowSpec {
  const { spec, status } = shadow;
  const timestamp = now.toISOString();
  if (status === undefined) return { ...DEFAULT_SPEC };
  if (status.current_state !== spec.state) {
    // The agent is still working towards spec; only a failure report changes the plan: back to
    // Idle (once: re-stamping an Idle spec every tick would be a write per tick for nothing).
    if (status.current_state === "ErrorReset" && spec.state !== "Idle") {
      return { state: "Idle", state_transition_timestamp: timestamp, version: spec.version };
    }
    return spec;
  }
  if (spec.state === "Idle") {
    // Idle on its target: back to the default spec (no version, no timestamp), like upstream, so
    // `kubectl get brs` shows no target version on a finished node.
    if (status.current_version === status.target_version) return { ...DEFAULT_SPEC };
    if (backoffPassed(status, now)) {
      return {
        state: "StagedAndPerformedUpdate",
        state_transition_timestamp: timestamp,
        version: status.target_version,
      };
    }
    return spec;
  }
  return { state: ON_SUCCESS[spec.state], state_transition_timestamp: timestamp, version: spec.version };
}

export type ConcurrencyLimit = number | "unlimited";

function rank(shadow: BottlerocketShadow, controllerNodeName: string | undefined): [number, number, number] {
  const ownNode =
    controllerNodeName !== undefined && nodeNameForShadow(shadow.metadata.name ?? "") === controllerNodeName;
  return [ownNode ? 1 : 0, shadow.status === undefined ? 1 : 0, shadow.status?.crash_count ?? 0];
}

/**
 * Order in which idle nodes may start: lowest crash count first, shadows without status last, and
 * the node hosting the controller pod after every other (updating it restarts the controller).
 * Ties break by name so every replica and every tick agree.
 */
export function orderCandidates(
  shadows: readonly BottlerocketShadow[],
  controllerNodeName: string | undefined,
): BottlerocketShadow[] {
  return [...shadows].sort((a, b) => {
    const ra = rank(a, controllerNodeName);
    const rb = rank(b, controllerNodeName);
    for (let i = 0; i < ra.length; i++) {
      const d = (ra[i] ?? 0) - (rb[i] ?? 0);
      if (d !== 0) return d;
    }
    return (a.metadata.name ?? "").localeCompare(b.metadata.name ?? "");
  });
}

/**
 * initialise: a status-less shadow gets the default spec. progress: a node that reached its spec
 * moves on. recover: a failed node goes back to Idle. start: an idle node starts an update.
 * reset: a node Idle on its target gets the default spec back (upstream's behaviour after a cycle).
 */
export type SpecChangeReason = "initialise" | "progress" | "recover" | "start" | "reset";

export interface SpecChange {
  name: string;
  /** resourceVersion the decision was made on: the write must be conditional on it. */
  resourceVersion: string | undefined;
  from: ShadowSpec;
  to: ShadowSpec;
  reason: SpecChangeReason;
  /** Why the node failed, when its agent said (status.failure; brupop-ts agents only). */
  failure?: ShadowFailure;
  /** recover: the failure came after the reboot, on the version the host runs (model/shadow.ts). */
  failedOnNewVersion?: true;
}

export interface TickInput {
  shadows: readonly BottlerocketShadow[];
  now: Date;
  maxConcurrent: ConcurrencyLimit;
  /** Whether the schedule lets new updates start now (in-progress nodes always continue). */
  updatesAllowed: boolean;
  controllerNodeName?: string | undefined;
  /** Holds single nodes back (an UpdatePolicy's per-node pause and zone limit; policy.ts). */
  startFilter?: StartFilter | undefined;
}

/** Asked, in start order, about each candidate the schedule would let start. */
export interface StartFilter {
  /** Why `shadow` may not start now, naming the rule; undefined: it may. */
  hold(shadow: BottlerocketShadow): string | undefined;
  /** `shadow` starts in this tick (so its zone has one slot fewer). */
  started(shadow: BottlerocketShadow): void;
}

export interface TickPlan {
  changes: SpecChange[];
  /** Size of the active set after this tick's changes. */
  activeCount: number;
  /** Candidates that could not start because the concurrency limit is reached. */
  waitingForSlot: string[];
  /** Candidates the start filter held back, with its reason. */
  held: { name: string; reason: string }[];
}

function change(shadow: BottlerocketShadow, to: ShadowSpec, reason: SpecChangeReason): SpecChange {
  const out: SpecChange = {
    name: shadow.metadata.name ?? "",
    resourceVersion: shadow.metadata.resourceVersion,
    from: shadow.spec,
    to,
    reason,
  };
  const failure = shadow.status?.failure;
  if (reason === "recover" && failure !== undefined) out.failure = failure;
  if (reason === "recover" && shadow.status !== undefined && failureOnNewVersion(shadow.status) !== undefined)
    out.failedOnNewVersion = true;
  return out;
}

/** One controller tick: progress every active node, then start as many candidates as allowed. */
export function planTick(input: TickInput): TickPlan {
  const { shadows, now } = input;
  const changes: SpecChange[] = [];
  let activeCount = 0;
  for (const shadow of shadows) {
    if (shadow.status === undefined) {
      if (!specsEqual(shadow.spec, DEFAULT_SPEC))
        changes.push(change(shadow, { ...DEFAULT_SPEC }, "initialise"));
      continue;
    }
    if (!isActive(shadow)) {
      // Not an update and takes no slot, so neither the schedule nor the limit holds it back.
      if (isSettledOnTarget(shadow) && !specsEqual(shadow.spec, DEFAULT_SPEC))
        changes.push(change(shadow, { ...DEFAULT_SPEC }, "reset"));
      continue;
    }
    activeCount++;
    const next = nextSpec(shadow, now);
    if (!specsEqual(next, shadow.spec)) {
      changes.push(
        change(shadow, next, shadow.status.current_state === "ErrorReset" ? "recover" : "progress"),
      );
    }
  }
  const candidates = orderCandidates(
    shadows.filter((s) => isCandidate(s, now)),
    input.controllerNodeName,
  );
  const starts = input.updatesAllowed
    ? startCandidates(input, candidates, activeCount)
    : { changes: [], activeCount, waitingForSlot: [], held: [] };
  return { ...starts, changes: [...changes, ...starts.changes] };
}

/** Starts candidates in order while slots last and the start filter lets them. */
function startCandidates(
  input: TickInput,
  candidates: readonly BottlerocketShadow[],
  activeBefore: number,
): TickPlan {
  const limit = input.maxConcurrent === "unlimited" ? Infinity : input.maxConcurrent;
  const plan: TickPlan = { changes: [], activeCount: activeBefore, waitingForSlot: [], held: [] };
  for (const shadow of candidates) {
    const hold = input.startFilter?.hold(shadow);
    if (hold !== undefined) {
      plan.held.push({ name: shadow.metadata.name ?? "", reason: hold });
      continue;
    }
    if (plan.activeCount >= limit) {
      plan.waitingForSlot.push(shadow.metadata.name ?? "");
      continue;
    }
    plan.changes.push(change(shadow, nextSpec(shadow, input.now), "start"));
    plan.activeCount++;
    input.startFilter?.started(shadow);
  }
  return plan;
}

export interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

/**
 * Shadows whose Node still exists but no longer carries the updater-interface label: the
 * controller deletes them. Shadows of Nodes missing from the cache are left to the garbage
 * collector (their ownerReference), since a cache may lag behind the API.
 */
export function shadowsToDelete(
  shadows: readonly BottlerocketShadow[],
  nodes: readonly NodeLike[],
): string[] {
  const labelled = new Map<string, boolean>();
  for (const node of nodes) {
    const name = node.metadata?.name;
    if (name !== undefined)
      labelled.set(name, node.metadata?.labels?.[UPDATER_INTERFACE_LABEL] === UPDATER_INTERFACE_VERSION);
  }
  return shadows
    .filter((s) => {
      const nodeName = nodeNameForShadow(s.metadata.name ?? "");
      return nodeName !== undefined && labelled.get(nodeName) === false;
    })
    .map((s) => s.metadata.name ?? "");
}
