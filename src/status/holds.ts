// What the controller holds a node for that status cannot see from shadows and Nodes alone, applied
// to the rows the core built (pure):
//   - blockers (BLOCKING_POD_SELECTOR, PROMETHEUS_URL): the verdicts the leader publishes in the
//     ConfigMap brupop-blockers (src/controller/act/blockers-publish.ts) turn a `starting` row into
//     `blocked`, naming the pods or alerts. A map written by another leader than the one that
//     published the settings is stale and ignored.
//   - the quarantine (QUARANTINE_FAILED_NODES): a node failed on the new version and cordoned with
//     brupop's marker is held cordoned by its agent until the failure is accepted.
import type { Blocker } from "../controller/decide/blockers.js";
import { blockersFromData } from "../controller/act/blockers-publish.js";
import { describeRow } from "./format.js";
import type { NodeInfo, ObjectRef } from "./inputs.js";
import type { NodeRow, RowReason } from "./model.js";

export interface HoldFacts {
  /** Data of the ConfigMap brupop-blockers (null/undefined: none). */
  blockers: Record<string, string> | null | undefined;
  /** The leader named by the published settings (null: unknown, the map is taken as is). */
  leader: string | null;
  nodes: ReadonlyMap<string, NodeInfo>;
  now: Date;
}

function podRef(text: string): ObjectRef {
  const slash = text.indexOf("/");
  return slash < 0
    ? { namespace: "", name: text }
    : { namespace: text.slice(0, slash), name: text.slice(slash + 1) };
}

/** The row reason for a controller's blocker verdict. */
export function blockedReason(b: Blocker): Extract<RowReason, { kind: "blocked" }> {
  const none = { pods: [], alerts: [], error: null };
  switch (b.kind) {
    case "pods":
      return { kind: "blocked", by: "pods", ...none, pods: b.pods.map(podRef) };
    case "alerts":
      return { kind: "blocked", by: "alerts", ...none, alerts: [...b.alerts] };
    case "check-failed":
      return {
        kind: "blocked",
        by: b.check === "pods" ? "pod-check-failed" : "alert-check-failed",
        ...none,
        error: b.error,
      };
  }
}

function withReason(row: NodeRow, reason: RowReason, now: Date): NodeRow {
  return { ...row, reason, message: describeRow(reason, row, now) };
}

/** The rows with the controller's holds applied (same order; rows it does not concern unchanged). */
export function applyHolds(rows: readonly NodeRow[], facts: HoldFacts): NodeRow[] {
  const published = blockersFromData(facts.blockers);
  const current = published !== undefined && (facts.leader === null || published.leader === facts.leader);
  const blocked = current ? published.blocked : new Map<string, Blocker>();
  return rows.map((row) => {
    const b = row.shadow === null ? undefined : blocked.get(row.shadow);
    if (row.reason.kind === "starting" && b !== undefined)
      return withReason(row, blockedReason(b), facts.now);
    if (row.reason.kind === "failed-on-new-version") {
      const node = facts.nodes.get(row.node);
      const quarantined = node?.cordoned === true && node.cordonedByBrupop;
      return withReason(row, { ...row.reason, quarantined }, facts.now);
    }
    return row;
  });
}
