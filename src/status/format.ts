// Human text for `brupop status`: timestamps, durations and the WHY message of each row. Pure.
import { describeBlocker, type Blocker } from "../controller/decide/blockers.js";
import { describeFailure } from "../model/shadow.js";
import type { NodeRow, RowReason } from "./model.js";
import type { ObjectRef } from "./inputs.js";

/** RFC 3339 in whole seconds, rounded up (an "until" shown must never be earlier than the real one). */
export function formatTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace(/\.000Z$/, "Z");
}

/** Compact duration like kubectl's ages: 45s, 12m, 2h13m, 3d4h. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
}

/** "2030-01-01T03:00:00Z (in 2h13m)" / "... (5m ago)". */
export function timeWithRelative(iso: string, now: Date): string {
  const diff = Date.parse(iso) - now.getTime();
  if (Number.isNaN(diff)) return iso;
  const rel = diff >= 0 ? `in ${formatDuration(diff)}` : `${formatDuration(-diff)} ago`;
  return `${formatTime(iso)} (${rel})`;
}

function refs(list: readonly ObjectRef[], max = 2): string {
  const shown = list.slice(0, max).map((r) => `${r.namespace}/${r.name}`);
  return list.length > max ? `${shown.join(", ")} +${list.length - max} more` : shown.join(", ");
}

/** The parts of a row the message mentions besides its reason. */
export type RowFacts = Pick<
  NodeRow,
  "state" | "version" | "crashCount" | "cordoned" | "ready" | "failure"
> & {
  node?: string;
};

/** The controller's Blocker (blockers.ts) a `blocked` row reason stands for. */
export function blockerOf(reason: Extract<RowReason, { kind: "blocked" }>): Blocker {
  switch (reason.by) {
    case "pods":
      return { kind: "pods", pods: reason.pods.map((p) => `${p.namespace}/${p.name}`) };
    case "alerts":
      return { kind: "alerts", alerts: reason.alerts };
    case "pod-check-failed":
      return { kind: "check-failed", check: "pods", error: reason.error ?? "" };
    case "alert-check-failed":
      return { kind: "check-failed", check: "alerts", error: reason.error ?? "" };
  }
}

function updatingMessage(row: RowFacts): string {
  const { current, target } = row.state;
  const to = row.version.target;
  if (current === "ErrorReset")
    return `update failed${failedWhy(row)}; recovering (ErrorReset -> ${target ?? "?"})`;
  if (current === target) return `reached ${current ?? "?"}; the controller moves it on at its next tick`;
  if (target === "RebootedIntoUpdate") {
    if (row.ready === false) return `rebooting into ${to ?? "the update"} (node NotReady)`;
    if (row.cordoned === true) return `draining, then rebooting into ${to ?? "the update"}`;
  }
  if (target === "Idle" && current === "MonitoringUpdate") return "update done; returning to Idle";
  return `updating${to === null ? "" : ` to ${to}`}: ${current ?? "?"} -> ${target ?? "?"}`;
}

function silentMessage(
  reason: Extract<RowReason, { kind: "agent-silent" }>,
  row: RowFacts,
  now: Date,
): string {
  switch (reason.cause) {
    case "node-missing":
      return "agent silent: node not found";
    case "node-not-ready":
      return reason.since === null
        ? "agent silent: node NotReady"
        : `agent silent: node NotReady since ${timeWithRelative(reason.since, now)}`;
    case "timeout": {
      const asked =
        reason.since === null ? "" : ` ${formatDuration(now.getTime() - Date.parse(reason.since))} ago`;
      const allowance =
        reason.allowanceSeconds === null
          ? ""
          : `, allowance ${formatDuration(reason.allowanceSeconds * 1000)}`;
      return `agent silent: asked for ${row.state.target ?? "?"}${asked}${allowance}; still ${row.state.current ?? "?"}`;
    }
  }
}

function scheduleMessage(reason: Extract<RowReason, { kind: "schedule-closed" }>, now: Date): string {
  if (reason.until === null) return "update schedule never opens again";
  return reason.schedule === "window"
    ? `window closed until ${timeWithRelative(reason.until, now)}`
    : `waiting for the next trigger round at ${timeWithRelative(reason.until, now)}`;
}

function pdbMessage(reason: Extract<RowReason, { kind: "pdb-blocking" }>): string {
  const noun = reason.pdbs.length === 1 ? "PodDisruptionBudget" : "PodDisruptionBudgets";
  const pods = reason.pods.length === 1 ? "pod" : "pods";
  return `drain blocked by ${noun} ${refs(reason.pdbs)} (0 disruptions allowed; ${pods} ${refs(reason.pods)})`;
}

function failedWhy(row: RowFacts): string {
  return row.failure === undefined ? "" : ` (${describeFailure(row.failure)})`;
}

function lastFailure(row: RowFacts): string {
  return row.failure === undefined ? "" : `; last: ${describeFailure(row.failure)}`;
}

function failedOnNewMessage(
  reason: Extract<RowReason, { kind: "failed-on-new-version" }>,
  row: RowFacts,
): string {
  const failed = `failed on ${reason.version} after the reboot${failedWhy(row)}`;
  if (reason.quarantined === true)
    return `${failed}; quarantined: kept cordoned until a newer release updates it or the failure is accepted (brupop accept ${row.node ?? "NODE"})`;
  return `${failed}; not up to date until a newer release updates it or the failure is accepted${reason.accept === null ? "" : ` (${reason.accept})`}`;
}

export function describeRow(reason: RowReason, row: RowFacts, now: Date): string {
  switch (reason.kind) {
    case "up-to-date":
      return "up to date";
    case "failed-on-new-version":
      return failedOnNewMessage(reason, row);
    case "updating":
      return updatingMessage(row);
    case "starting":
      return `starts updating to ${row.version.target ?? "?"} at the controller's next tick`;
    case "blocked":
      return `${describeBlocker(blockerOf(reason))}; starts updating to ${row.version.target ?? "?"} once that clears`;
    case "schedule-closed":
      return scheduleMessage(reason, now);
    case "concurrency-full":
      return `concurrency full (${reason.active} of ${reason.limit} updating)`;
    case "policy-hold":
      return reason.rule;
    case "backoff":
      return `back-off until ${timeWithRelative(reason.until, now)} after ${reason.crashCount} failed attempt${reason.crashCount === 1 ? "" : "s"}${lastFailure(row)}`;
    case "pdb-blocking":
      return pdbMessage(reason);
    case "agent-silent":
      return silentMessage(reason, row, now);
    case "no-status":
      return "waiting for the agent's first status report";
    case "no-shadow":
      return "no BottlerocketShadow yet (is the brupop agent running on this node?)";
    case "invalid":
      return `invalid BottlerocketShadow: ${reason.error}`;
  }
}
