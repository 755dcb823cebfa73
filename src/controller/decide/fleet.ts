// The controller's fleet decision, assembled once: the schedule gate, the UpdatePolicy (its holds,
// its limit over the environment's, its per-node filter) and, from them, the explanation of every
// node. Pure. Three callers read the same verdict the same way:
//   - the tick (stages.ts): decideFleet, then adopts the gate and plans with the limit and filter;
//   - Controller.explain: explainDecision on the last tick's decision;
//   - `brupop status` (status/core.ts): decideFleet on what it read, then explainDecision.
import type { RawPolicy } from "../../model/policy.js";
import type { BottlerocketShadow } from "../../model/shadow.js";
import type { Blocker } from "./blockers.js";
import type { ConcurrencyLimit, NodeLike, StartFilter } from "./decisions.js";
import { explainFleet, type Explanation } from "./explain.js";
import { evaluateGate, fleetDemand, type GateDecision, type RoundState } from "./gate.js";
import { decidePolicy, defaultFilter, type FleetHold, type PolicyDecision } from "./policy.js";
import type { UpdateSchedule } from "./schedule.js";
import type { Silent } from "./silence.js";

/** The UpdatePolicy as read: the object, none (undefined), or a failed read naming the policy. */
export type PolicyRead = RawPolicy | undefined | { unreadable: string };

export interface FleetInput {
  shadows: readonly BottlerocketShadow[];
  nodes: readonly NodeLike[];
  now: Date;
  /** The environment's schedule and its persisted trigger round (null: none). */
  schedule: UpdateSchedule;
  round: RoundState | null;
  /** The environment's limit (MAX_CONCURRENT_UPDATE): the policy's, when it sets one, wins. */
  maxConcurrent: ConcurrencyLimit;
  policy: PolicyRead;
  /** Compiled policy schedules (policy.ts); optional. */
  scheduleCache?: Map<string, UpdateSchedule | string> | undefined;
}

export interface FleetDecision {
  gate: GateDecision;
  /** The UpdatePolicy decided on and its decision (undefined: none, or it could not be read). */
  raw: RawPolicy | undefined;
  policy: PolicyDecision | undefined;
  /** Why no node may start now, beyond the gate (policy pause, halt, window, invalid, unreadable). */
  hold: FleetHold | undefined;
  /** The limit in force: the policy's over the environment's. */
  maxConcurrent: ConcurrencyLimit;
  filter: () => StartFilter;
  /** The policy could not be read. */
  unreadable: boolean;
}

export function decideFleet(input: FleetInput): FleetDecision {
  const gate = evaluateGate(input.schedule, input.round, input.now, fleetDemand(input.shadows));
  const none: FleetDecision = {
    gate,
    raw: undefined,
    policy: undefined,
    hold: undefined,
    maxConcurrent: input.maxConcurrent,
    filter: defaultFilter(input.nodes),
    unreadable: false,
  };
  const read = input.policy;
  if (read === undefined) return none;
  if ("unreadable" in read) {
    const message = `UpdatePolicy ${read.unreadable} could not be read`;
    return { ...none, unreadable: true, hold: { rule: "invalid", message } };
  }
  const policy = decidePolicy({
    policy: read,
    shadows: input.shadows,
    nodes: input.nodes,
    now: input.now,
    envMaxConcurrent: input.maxConcurrent,
    ...(input.scheduleCache !== undefined && { scheduleCache: input.scheduleCache }),
  });
  return {
    ...none,
    raw: read,
    policy,
    hold: policy.fleetHold,
    maxConcurrent: policy.maxConcurrent,
    filter: policy.filter,
  };
}

/** What the explanation adds to the decision: the controller's own node, the last tick's findings. */
export interface ExplainExtras {
  now: Date;
  controllerNodeName?: string | undefined;
  blocked?: ReadonlyMap<string, Blocker> | undefined;
  silent?: ReadonlyMap<string, Silent> | undefined;
}

/** Every node's verdict under `fleet`, in the order of `shadows`. */
export function explainDecision(
  shadows: readonly BottlerocketShadow[],
  fleet: Pick<FleetDecision, "gate" | "hold" | "maxConcurrent" | "filter">,
  extras: ExplainExtras,
): Explanation[] {
  const { gate } = fleet;
  return explainFleet(shadows, {
    ...extras,
    maxConcurrent: fleet.maxConcurrent,
    gate: { kind: gate.kind, updatesAllowed: gate.updatesAllowed, opensAt: gate.opensAt },
    policy: { hold: fleet.hold?.message, filter: fleet.filter },
  });
}
