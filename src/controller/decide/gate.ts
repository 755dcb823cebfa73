// Whether the schedule lets NEW updates start now (SPEC §3). Nodes already in progress always
// continue; this only gates candidates.
//
// - window schedule: updates may start iff `now` lies inside the window. Stateless.
// - trigger schedule: each fire time opens an update *round* that stays open until no node is
//   waiting (no candidate left, none in back-off, nothing active). Whether a round is open must
//   survive a controller restart (crash-only), so the state is a small persisted record: the fire
//   time of the latest round and whether it is still open. The controller stores it in a ConfigMap.
//
// Pure functions of (schedule, persisted state, now, fleet demand).
import type { BottlerocketShadow } from "../../model/shadow.js";
import { isActive } from "./decisions.js";
import type { ScheduleKind, UpdateSchedule } from "./schedule.js";

/** Persisted trigger-round state. */
export interface RoundState {
  /** Fire time (RFC 3339) of the latest round opened or acknowledged; null if none yet. */
  lastFire: string | null;
  /** True while that round is still open. */
  open: boolean;
}

/** What the fleet still needs, for deciding when a round is finished. */
export interface FleetDemand {
  /** Settled Idle nodes offered a newer version (including those still in crash back-off). */
  waiting: number;
  /** Nodes in the active set. */
  active: number;
}

export type GateEvent = "initialised" | "opened" | "closed";

export interface GateDecision {
  kind: ScheduleKind;
  updatesAllowed: boolean;
  /** When new updates may next start (null while allowed, or if the schedule never fires again). */
  opensAt: Date | null;
  /** Trigger schedules only: the state after this tick (persist it when `changed`). */
  round: RoundState | null;
  changed: boolean;
  events: GateEvent[];
}

/** Waiting = Idle, settled and offered a newer version (back-off ignored: it still needs an update). */
export function fleetDemand(shadows: readonly BottlerocketShadow[]): FleetDemand {
  let waiting = 0;
  let active = 0;
  for (const s of shadows) {
    if (isActive(s)) active++;
    else if (
      s.status !== undefined &&
      s.spec.state === "Idle" &&
      s.status.current_state === "Idle" &&
      s.status.current_version !== s.status.target_version
    )
      waiting++;
  }
  return { waiting, active };
}

function windowGate(schedule: UpdateSchedule, now: Date): GateDecision {
  const inside = schedule.isInWindow(now);
  let opensAt: Date | null = null;
  if (!inside) {
    const ms = schedule.msUntilOpen(now);
    opensAt = ms === null ? null : new Date(now.getTime() + ms);
  }
  return { kind: "window", updatesAllowed: inside, opensAt, round: null, changed: false, events: [] };
}

function sameRound(a: RoundState | null, b: RoundState): boolean {
  return a !== null && a.lastFire === b.lastFire && a.open === b.open;
}

/**
 * Trigger rounds. With no persisted state (first start) the latest past fire time is acknowledged
 * without opening a round, like upstream, which waits for the next fire time; a fire time that
 * passed while the controller was down but after the persisted one does open a round.
 */
export function triggerGate(
  schedule: UpdateSchedule,
  persisted: RoundState | null,
  now: Date,
  demand: FleetDemand,
): GateDecision {
  const events: GateEvent[] = [];
  const latest = schedule.previousFire(now);
  let round: RoundState;
  if (persisted === null) {
    round = { lastFire: latest?.toISOString() ?? null, open: false };
    events.push("initialised");
  } else if (
    latest !== null &&
    (persisted.lastFire === null || latest.getTime() > Date.parse(persisted.lastFire))
  ) {
    round = { lastFire: latest.toISOString(), open: true };
    events.push("opened");
  } else {
    round = { ...persisted };
  }
  if (round.open && demand.waiting === 0 && demand.active === 0) {
    round = { ...round, open: false };
    events.push("closed");
  }
  return {
    kind: "trigger",
    updatesAllowed: round.open,
    opensAt: round.open ? null : schedule.nextFire(now),
    round,
    changed: !sameRound(persisted, round),
    events,
  };
}

export function evaluateGate(
  schedule: UpdateSchedule,
  persisted: RoundState | null,
  now: Date,
  demand: FleetDemand,
): GateDecision {
  return schedule.kind === "window"
    ? windowGate(schedule, now)
    : triggerGate(schedule, persisted, now, demand);
}

// ---- persistence encoding (ConfigMap data) -------------------------------------------------------

export const ROUND_LAST_FIRE_KEY = "trigger-last-fire";
export const ROUND_OPEN_KEY = "trigger-round-open";
export const ROUND_EXPRESSION_KEY = "schedule";

export function roundStateToData(state: RoundState, expression: string): Record<string, string> {
  return {
    [ROUND_LAST_FIRE_KEY]: state.lastFire ?? "",
    [ROUND_OPEN_KEY]: String(state.open),
    [ROUND_EXPRESSION_KEY]: expression,
  };
}

/** null when the data holds no (valid) round state: the controller then starts afresh. */
export function roundStateFromData(data: Record<string, string> | undefined): RoundState | null {
  if (data === undefined) return null;
  const open = data[ROUND_OPEN_KEY];
  const lastFire = data[ROUND_LAST_FIRE_KEY];
  if ((open !== "true" && open !== "false") || lastFire === undefined) return null;
  if (lastFire !== "" && Number.isNaN(Date.parse(lastFire))) return null;
  return { lastFire: lastFire === "" ? null : lastFire, open: open === "true" };
}
