import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Blocker } from "../controller/decide/blockers.js";
import { blockersToData } from "../controller/act/blockers-publish.js";
import { CORDONED_BY_BRUPOP_ANNOTATION } from "../k8s/cordon-marker.js";
import { buildFleetStatus } from "./core.js";
import { slimNode, type RawNode, type RawShadow } from "./inputs.js";
import type { RowReason } from "./model.js";
import { ago, input, node, settings, shadow, TO, upToDate } from "../../test/kit/status-fixtures.js";

const LEADER = "brupop-controller-0"; // the leader of settings()
const waiting = (n: string) => shadow(n); // 1.19.0 offered 1.20.0, Idle: the controller would start it
const failedOnNew = (n: string) =>
  shadow(
    n,
    {},
    {
      current_version: TO,
      crash_count: 1,
      state_transition_failure_timestamp: ago(40),
      failure: {
        state: "MonitoringUpdate",
        reason: "Unhealthy",
        message: "pod not Ready",
        timestamp: ago(40),
      },
    },
  );
const quarantinedNode = (n: string): RawNode => {
  const raw = node(n, { cordoned: true });
  raw.metadata = { ...raw.metadata, annotations: { [CORDONED_BY_BRUPOP_ANNOTATION]: "true" } };
  return raw;
};

interface Case {
  name: string;
  shadows: RawShadow[];
  nodes: RawNode[];
  blocked?: [string, Blocker][];
  /** Who wrote the verdicts (default: the leader of the settings). */
  writer?: string;
  reason: RowReason;
  message: string | RegExp;
}

const CASES: Case[] = [
  {
    name: "a blocking pod on the node: named (namespace/name)",
    shadows: [waiting("a")],
    nodes: [node("a")],
    blocked: [["brs-a", { kind: "pods", pods: ["batch/backup-0"] }]],
    reason: {
      kind: "blocked",
      by: "pods",
      pods: [{ namespace: "batch", name: "backup-0" }],
      alerts: [],
      error: null,
    },
    message: `blocked by pod batch/backup-0 on the node; starts updating to ${TO} once that clears`,
  },
  {
    name: "firing alerts: named",
    shadows: [waiting("a")],
    nodes: [node("a")],
    blocked: [["brs-a", { kind: "alerts", alerts: ["NodeDiskFull", "Paging"] }]],
    reason: { kind: "blocked", by: "alerts", pods: [], alerts: ["NodeDiskFull", "Paging"], error: null },
    message: /^blocked by firing alerts NodeDiskFull, Paging; starts updating/,
  },
  {
    name: "a failed alert check blocks, with its error",
    shadows: [waiting("a")],
    nodes: [node("a")],
    blocked: [["brs-a", { kind: "check-failed", check: "alerts", error: "HTTP 503" }]],
    reason: { kind: "blocked", by: "alert-check-failed", pods: [], alerts: [], error: "HTTP 503" },
    message: /^blocked: could not check for blocking alerts \(HTTP 503\)/,
  },
  {
    name: "a failed pod check blocks, with its error",
    shadows: [waiting("a")],
    nodes: [node("a")],
    blocked: [["brs-a", { kind: "check-failed", check: "pods", error: "HTTP 403" }]],
    reason: { kind: "blocked", by: "pod-check-failed", pods: [], alerts: [], error: "HTTP 403" },
    message: /^blocked: could not check for blocking pods \(HTTP 403\)/,
  },
  {
    name: "verdicts of another (stale) leader are ignored",
    shadows: [waiting("a")],
    nodes: [node("a")],
    blocked: [["brs-a", { kind: "pods", pods: ["batch/backup-0"] }]],
    writer: "brupop-controller-old",
    reason: { kind: "starting" },
    message: /^starts updating to/,
  },
  {
    name: "a verdict for a node that is no longer starting (up to date) is ignored",
    shadows: [upToDate("a")],
    nodes: [node("a")],
    blocked: [["brs-a", { kind: "pods", pods: ["batch/backup-0"] }]],
    reason: { kind: "up-to-date" },
    message: "up to date",
  },
  {
    name: "quarantine: failed on the new version and cordoned by brupop; says how to end it",
    shadows: [failedOnNew("a")],
    nodes: [quarantinedNode("a")],
    reason: {
      kind: "failed-on-new-version",
      version: TO,
      accept: `kubectl annotate brs brs-a -n ns brupop.bottlerocket.aws/accept-failure=${ago(40)} --overwrite`,
      quarantined: true,
    },
    message: `failed on ${TO} after the reboot (Unhealthy reaching MonitoringUpdate: pod not Ready); quarantined: kept cordoned until a newer release updates it or the failure is accepted (brupop accept a)`,
  },
  {
    name: "failed on the new version, cordoned by a person (no brupop marker): not the quarantine",
    shadows: [failedOnNew("a")],
    nodes: [node("a", { cordoned: true })],
    reason: {
      kind: "failed-on-new-version",
      version: TO,
      accept: `kubectl annotate brs brs-a -n ns brupop.bottlerocket.aws/accept-failure=${ago(40)} --overwrite`,
      quarantined: false,
    },
    message:
      /; not up to date until a newer release updates it or the failure is accepted \(kubectl annotate/,
  },
  {
    name: "quarantine seen through the watch cache's slimmed Node",
    shadows: [failedOnNew("a")],
    nodes: [slimNode(quarantinedNode("a"))],
    reason: {
      kind: "failed-on-new-version",
      version: TO,
      accept: `kubectl annotate brs brs-a -n ns brupop.bottlerocket.aws/accept-failure=${ago(40)} --overwrite`,
      quarantined: true,
    },
    message: /; quarantined: kept cordoned .*\(brupop accept a\)$/,
  },
];

describe("brupop status: the controller's holds (blockers, quarantine)", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const blockers =
        c.blocked === undefined ? null : blockersToData(c.writer ?? LEADER, new Map(c.blocked));
      const status = buildFleetStatus({ ...input(c.shadows, c.nodes, { state: settings() }), blockers });
      const row = status.nodes.find((r) => r.node === "a");
      assert.deepEqual(row?.reason, c.reason);
      if (typeof c.message === "string") assert.equal(row?.message, c.message);
      else assert.match(row?.message ?? "", c.message);
    });
  }

  it("a blocked node is waiting, not attention; only the blocked one changes", () => {
    const blockers = blockersToData(
      LEADER,
      new Map<string, Blocker>([["brs-a", { kind: "pods", pods: ["x/y"] }]]),
    );
    const status = buildFleetStatus({
      ...input([waiting("a"), waiting("b")], [node("a"), node("b")], {
        state: settings({ maxConcurrent: 3 }),
      }),
      blockers,
    });
    assert.deepEqual(
      status.nodes.map((r) => [r.node, r.reason.kind, r.phase, r.attention]),
      [
        ["a", "blocked", "waiting", false],
        ["b", "starting", "waiting", false],
      ],
    );
  });
});
