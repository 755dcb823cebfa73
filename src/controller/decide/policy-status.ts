// The UpdatePolicy's status as a pure function of the tick's decision (policy.ts) and the fleet:
// node counts, the Progressing/Paused/Halted conditions, the failure budget and the groups, and
// whether it changed enough to be written. policy-stage.ts writes it.
import {
  CLEAR_HALT_ANNOTATION,
  type PolicyCondition,
  type PolicyStatus,
  type RawPolicy,
} from "../../model/policy.js";
import type { BottlerocketShadow } from "../../model/shadow.js";
import { isCandidate, type TickPlan } from "./decisions.js";
import { isFailed, nodeOutcome } from "./outcome.js";
import { failedGroupText, type PolicyDecision } from "./policy.js";

interface ConditionInput {
  type: string;
  on: boolean;
  reason: string;
  message: string;
}

function condition(
  prev: readonly PolicyCondition[] | undefined,
  now: Date,
  c: ConditionInput,
): PolicyCondition {
  const status = c.on ? "True" : "False";
  const old = prev?.find((p) => p.type === c.type);
  const lastTransitionTime =
    old !== undefined && old.status === status ? old.lastTransitionTime : now.toISOString();
  return { type: c.type, status, reason: c.reason, message: c.message, lastTransitionTime };
}

/** Managed nodes per state after this tick's plan. */
export function nodeCounts(
  shadows: readonly BottlerocketShadow[],
  plan: Pick<TickPlan, "held" | "changes">,
  now: Date,
  fleetHeld: boolean,
): NonNullable<PolicyStatus["nodes"]> {
  const started = new Set(plan.changes.filter((c) => c.reason === "start").map((c) => c.name));
  const heldNames = new Set(plan.held.map((h) => h.name));
  const out = { total: shadows.length, upToDate: 0, updating: 0, waiting: 0, failed: 0, held: 0 };
  for (const s of shadows) {
    const name = s.metadata.name ?? "";
    const outcome = nodeOutcome(s, now);
    if (outcome.kind === "unreported") continue;
    if (isFailed(outcome)) out.failed++;
    else if (outcome.kind === "updating" || started.has(name)) out.updating++;
    else if (outcome.kind === "up-to-date") out.upToDate++;
    else if (heldNames.has(name) || (fleetHeld && isCandidate(s, now))) out.held++;
    else out.waiting++;
  }
  return out;
}

function progressing(d: PolicyDecision, counts: NonNullable<PolicyStatus["nodes"]>): ConditionInput {
  const hold = d.fleetHold;
  if (counts.updating > 0) {
    const finishing = hold === undefined ? "" : ` (finishing: ${hold.message})`;
    return {
      type: "Progressing",
      on: true,
      reason: "NodesUpdating",
      message: `${counts.updating} node(s) updating${finishing}`,
    };
  }
  const current = d.group?.status.find((g) => g.name === d.group?.current);
  const failed = failedGroupText(current);
  if (hold === undefined && failed !== undefined && current !== undefined) {
    return {
      type: "Progressing",
      on: false,
      reason: "GroupFailed",
      message: `group ${current.name} cannot finish and later groups wait: ${failed}`,
    };
  }
  return {
    type: "Progressing",
    on: false,
    reason: hold === undefined ? "NoneUpdating" : "Held",
    message: hold?.message ?? "no node is updating",
  };
}

function pausedCondition(d: PolicyDecision, finishing: number): ConditionInput {
  if (d.policy?.paused !== true)
    return { type: "Paused", on: false, reason: "NotPaused", message: "spec.paused is not set" };
  return {
    type: "Paused",
    on: true,
    reason: "PausedBySpec",
    message: `paused by UpdatePolicy ${d.name}: no node starts; ${finishing} node(s) still finishing`,
  };
}

function haltedCondition(d: PolicyDecision): ConditionInput {
  const b = d.budget;
  if (b === undefined)
    return { type: "Halted", on: false, reason: "NoFailureBudget", message: "no failure budget set" };
  if (b.haltedAt === undefined) {
    const n = new Set(b.failures.map((f) => f.node)).size;
    return {
      type: "Halted",
      on: false,
      reason: "WithinBudget",
      message: `${n} failed node(s) within the window`,
    };
  }
  const nodes = b.haltedNodes ?? [];
  const max = d.policy?.failureBudget?.maxFailures ?? "?";
  return {
    type: "Halted",
    on: true,
    reason: "FailureBudgetExhausted",
    message:
      `${nodes.length} node(s) failed within the failure budget's window (maxFailures ${max}): ${nodes.join(", ")}. ` +
      `No node starts until a person clears it: kubectl annotate updatepolicy ${d.name} ${CLEAR_HALT_ANNOTATION}="$(date +%s)" --overwrite`,
  };
}

/** The policy's status after this tick (conditions keep their transition times while unchanged). */
export function policyStatus(
  raw: RawPolicy,
  decision: PolicyDecision,
  counts: NonNullable<PolicyStatus["nodes"]>,
  now: Date,
): PolicyStatus {
  const prev = raw.status?.conditions;
  const finishing = decision.fleetHold !== undefined ? counts.updating + counts.failed : 0;
  const inputs = [
    progressing(decision, counts),
    pausedCondition(decision, finishing),
    haltedCondition(decision),
  ];
  if (decision.invalid !== undefined)
    inputs.push({ type: "Invalid", on: true, reason: "InvalidSpec", message: decision.invalid });
  const conditions = inputs.map((c) => condition(prev, now, c));
  const status: PolicyStatus = {
    conditions,
    nodes: counts,
    finishing,
    effectiveMaxConcurrent: String(decision.maxConcurrent),
  };
  if (raw.metadata?.generation !== undefined) status.observedGeneration = raw.metadata.generation;
  if (decision.window !== undefined) {
    status.windowOpen = decision.window.open;
    if (decision.window.opensAt !== null) status.nextWindowOpen = decision.window.opensAt.toISOString();
  }
  if (decision.budget !== undefined) status.failureBudget = decision.budget;
  if (decision.group !== undefined) {
    status.groups = decision.group.status;
    if (decision.group.current !== undefined) status.currentGroup = decision.group.current;
  }
  return status;
}

/** JSON with sorted keys (the API server re-encodes objects with its own key order). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (typeof v === "object" && v !== null) {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** Whether a status write is due (conditions keep their times while unchanged, so equal means equal). */
export function statusChanged(before: PolicyStatus | undefined, after: PolicyStatus): boolean {
  return canonical(before ?? {}) !== canonical(after);
}
