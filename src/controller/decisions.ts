// The controller's decisions as pure functions of (shadows, nodes, clock) → actions (SPEC §3).
// The controller rebuilds its whole view from its caches every tick and calls planTick; nothing
// here does I/O or keeps state between ticks, which is what makes a restart trivial.
import {
  DEFAULT_SPEC,
  specsEqual,
  type BottlerocketShadow,
  type ShadowSpec,
  type ShadowStatus,
} from "../model/shadow.js";
import { ON_SUCCESS } from "../model/state.js";
import { nodeNameForShadow, UPDATER_INTERFACE_LABEL, UPDATER_INTERFACE_VERSION } from "../model/constants.js";

const MINUTE_MS = 60_000;
export const MAX_BACKOFF_MS = 24 * 60 * MINUTE_MS;

/** Crash back-off: `2^crash_count` minutes after the last failure, capped at 24 h. */
export function backoffMs(crashCount: number): number {
  // 2^11 minutes already exceeds 24 h; clamp the exponent so huge counts cannot overflow.
  return Math.min(2 ** Math.min(crashCount, 11) * MINUTE_MS, MAX_BACKOFF_MS);
}

/** When the node may try again, or null if it has no recorded failure. */
export function backoffUntil(status: ShadowStatus): Date | null {
  if (status.state_transition_failure_timestamp === null) return null;
  const failedAt = Date.parse(status.state_transition_failure_timestamp);
  if (Number.isNaN(failedAt)) return null;
  return new Date(failedAt + backoffMs(status.crash_count));
}

export function backoffPassed(status: ShadowStatus, now: Date): boolean {
  const until = backoffUntil(status);
  return until === null || now.getTime() >= until.getTime();
}

/** A node is active while its agent is still working or it is anywhere but Idle. */
export function isActive(shadow: BottlerocketShadow): boolean {
  const status = shadow.status;
  if (status === undefined) return false;
  return status.current_state !== "Idle" || status.current_state !== shadow.spec.state;
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
    if (status.current_version !== status.target_version && backoffPassed(status, now)) {
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

export type SpecChangeReason = "initialise" | "progress" | "recover" | "start";

export interface SpecChange {
  name: string;
  /** resourceVersion the decision was made on: the write must be conditional on it. */
  resourceVersion: string | undefined;
  from: ShadowSpec;
  to: ShadowSpec;
  reason: SpecChangeReason;
}

export interface TickInput {
  shadows: readonly BottlerocketShadow[];
  now: Date;
  maxConcurrent: ConcurrencyLimit;
  /** Whether the schedule lets new updates start now (in-progress nodes always continue). */
  updatesAllowed: boolean;
  controllerNodeName?: string | undefined;
}

export interface TickPlan {
  changes: SpecChange[];
  /** Size of the active set after this tick's changes. */
  activeCount: number;
  /** Candidates that could not start because the concurrency limit is reached. */
  waitingForSlot: string[];
}

function change(shadow: BottlerocketShadow, to: ShadowSpec, reason: SpecChangeReason): SpecChange {
  return {
    name: shadow.metadata.name ?? "",
    resourceVersion: shadow.metadata.resourceVersion,
    from: shadow.spec,
    to,
    reason,
  };
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
    if (!isActive(shadow)) continue;
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
  const limit = input.maxConcurrent === "unlimited" ? Infinity : input.maxConcurrent;
  const waitingForSlot: string[] = [];
  if (input.updatesAllowed) {
    for (const shadow of candidates) {
      if (activeCount >= limit) {
        waitingForSlot.push(shadow.metadata.name ?? "");
        continue;
      }
      changes.push(change(shadow, nextSpec(shadow, now), "start"));
      activeCount++;
    }
  }
  return { changes, activeCount, waitingForSlot };
}

export interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string> };
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
