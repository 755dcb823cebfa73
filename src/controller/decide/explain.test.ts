import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BottlerocketShadow } from "../../model/shadow.js";
import {
  describeReason,
  explainFleet,
  explainNode,
  type ExplainContext,
  type WaitReason,
} from "./explain.js";
import { brs } from "../../../test/kit/shadows.js";

const NOW = new Date("2024-05-01T12:00:00Z");

const open = { kind: "window" as const, updatesAllowed: true, opensAt: null };
const ctx = (over: Partial<ExplainContext> = {}): ExplainContext => ({
  now: NOW,
  maxConcurrent: 1,
  gate: open,
  ...over,
});

describe("explain", () => {
  const cases: {
    name: string;
    fleet: BottlerocketShadow[];
    node: string;
    ctx: ExplainContext;
    want: WaitReason;
  }[] = [
    {
      name: "no status yet",
      fleet: [brs("a", { noStatus: true })],
      node: "a",
      ctx: ctx(),
      want: { kind: "no-status" },
    },
    {
      name: "nothing to do",
      fleet: [brs("a", { cur: "1.20.0", tgt: "1.20.0" })],
      node: "a",
      ctx: ctx(),
      want: { kind: "up-to-date", version: "1.20.0" },
    },
    {
      name: "in progress",
      fleet: [brs("a", { spec: "RebootedIntoUpdate", state: "StagedAndPerformedUpdate" })],
      node: "a",
      ctx: ctx(),
      want: {
        kind: "in-progress",
        current: "StagedAndPerformedUpdate",
        target: "RebootedIntoUpdate",
        version: "1.20.0",
      },
    },
    {
      name: "back-off: 2 crashes = more than 4 whole minutes (5 min) after the failure",
      fleet: [brs("a", { crashes: 2, failedAt: "2024-05-01T11:58:00Z" })],
      node: "a",
      ctx: ctx(),
      want: {
        kind: "backoff",
        until: new Date("2024-05-01T12:03:00Z"),
        crashCount: 2,
        targetVersion: "1.20.0",
      },
    },
    {
      name: "back-off over: starts",
      fleet: [brs("a", { crashes: 2, failedAt: "2024-05-01T11:55:00Z" })],
      node: "a",
      ctx: ctx(),
      want: { kind: "starting", targetVersion: "1.20.0" },
    },
    {
      name: "window closed until it opens",
      fleet: [brs("a")],
      node: "a",
      ctx: ctx({
        gate: { kind: "window", updatesAllowed: false, opensAt: new Date("2024-05-02T03:00:00Z") },
      }),
      want: {
        kind: "schedule-closed",
        schedule: "window",
        until: new Date("2024-05-02T03:00:00Z"),
        targetVersion: "1.20.0",
      },
    },
    {
      name: "trigger round closed until the next fire time",
      fleet: [brs("a")],
      node: "a",
      ctx: ctx({
        gate: { kind: "trigger", updatesAllowed: false, opensAt: new Date("2024-05-02T03:00:00Z") },
      }),
      want: {
        kind: "schedule-closed",
        schedule: "trigger",
        until: new Date("2024-05-02T03:00:00Z"),
        targetVersion: "1.20.0",
      },
    },
    {
      name: "concurrency full because another node is active",
      fleet: [brs("a"), brs("b", { spec: "StagedAndPerformedUpdate" })],
      node: "a",
      ctx: ctx(),
      want: { kind: "concurrency-full", active: 1, limit: 1, targetVersion: "1.20.0" },
    },
    {
      name: "concurrency full because a better-ranked candidate takes the last slot",
      fleet: [brs("a", { crashes: 1, failedAt: "2024-05-01T10:00:00Z" }), brs("b")],
      node: "a",
      ctx: ctx(),
      want: { kind: "concurrency-full", active: 1, limit: 1, targetVersion: "1.20.0" },
    },
    {
      name: "the better-ranked candidate starts",
      fleet: [brs("a", { crashes: 1, failedAt: "2024-05-01T10:00:00Z" }), brs("b")],
      node: "b",
      ctx: ctx(),
      want: { kind: "starting", targetVersion: "1.20.0" },
    },
    {
      name: "the controller's own node goes last",
      fleet: [brs("a"), brs("b")],
      node: "a",
      ctx: ctx({ controllerNodeName: "a" }),
      want: { kind: "concurrency-full", active: 1, limit: 1, targetVersion: "1.20.0" },
    },
    {
      name: "unlimited concurrency never blocks",
      fleet: [brs("a"), brs("b", { spec: "StagedAndPerformedUpdate" })],
      node: "a",
      ctx: ctx({ maxConcurrent: "unlimited" }),
      want: { kind: "starting", targetVersion: "1.20.0" },
    },
    {
      name: "a closed schedule is reported before concurrency",
      fleet: [brs("a"), brs("b", { spec: "StagedAndPerformedUpdate" })],
      node: "a",
      ctx: ctx({ gate: { kind: "window", updatesAllowed: false, opensAt: null } }),
      want: { kind: "schedule-closed", schedule: "window", until: null, targetVersion: "1.20.0" },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const e = explainNode(c.node, c.fleet, c.ctx);
      assert.ok(e, "explained");
      assert.deepEqual(e.reason, c.want);
      assert.equal(e.node, c.node);
      assert.equal(e.message, describeReason(c.want));
    });
  }

  it("explains every shadow in order and finds nodes by shadow name too", () => {
    const fleet = [brs("a"), brs("b", { noStatus: true })];
    assert.deepEqual(
      explainFleet(fleet, ctx()).map((e) => [e.shadow, e.reason.kind]),
      [
        ["brs-a", "starting"],
        ["brs-b", "no-status"],
      ],
    );
    assert.equal(explainNode("brs-b", fleet, ctx())?.node, "b");
    assert.equal(explainNode("zzz", fleet, ctx()), undefined);
  });

  it("writes readable messages", () => {
    const t = new Date("2024-05-02T03:00:00Z");
    assert.equal(
      describeReason({ kind: "schedule-closed", schedule: "window", until: t, targetVersion: "1.20.0" }),
      "update window closed until 2024-05-02T03:00:00.000Z",
    );
    assert.equal(
      describeReason({ kind: "concurrency-full", active: 2, limit: 2, targetVersion: "1.20.0" }),
      "concurrency limit reached: 2 of 2 nodes updating",
    );
    assert.match(
      describeReason({ kind: "in-progress", current: "ErrorReset", target: "Idle", version: null }),
      /failed; recovering/,
    );
  });
});

describe("explain: a failed attempt says why", () => {
  const failure = {
    state: "RebootedIntoUpdate" as const,
    reason: "DrainFailed",
    message: "pod default/web-0: PodDisruptionBudget web allows no disruption",
    timestamp: "2024-05-01T11:59:00Z",
  };
  it("carries status.failure into the in-progress ErrorReset reason and its message", () => {
    const shadow = brs("a", { spec: "Idle", version: "1.20.0", state: "ErrorReset", crashes: 1 });
    assert.ok(shadow.status !== undefined);
    shadow.status.failure = failure;
    const e = explainNode("a", [shadow], ctx());
    assert.deepEqual(e?.reason, {
      kind: "in-progress",
      current: "ErrorReset",
      target: "Idle",
      version: "1.20.0",
      failure,
    });
    assert.equal(
      e?.message,
      "update failed (DrainFailed reaching RebootedIntoUpdate: pod default/web-0: PodDisruptionBudget web allows no disruption); recovering to Idle",
    );
  });
  it("says only 'update failed' when the agent gave no reason (upstream's agent)", () => {
    const e = explainNode("a", [brs("a", { spec: "Idle", state: "ErrorReset", crashes: 1 })], ctx());
    assert.equal(e?.message, "update failed; recovering to Idle");
  });
});

describe("describeReason: MAX_CONCURRENT_UPDATE=0", () => {
  it("says updates are paused rather than 0 of 0 slots used", () => {
    assert.match(
      describeReason({ kind: "concurrency-full", active: 0, limit: 0, targetVersion: "1.20.0" }),
      /updates paused: MAX_CONCURRENT_UPDATE is 0/,
    );
  });
});

describe("explain: blockers and silent agents (issue 19)", () => {
  it("a blocked candidate says which pod or alert holds it", () => {
    const blocked = new Map([["brs-a", { kind: "pods" as const, pods: ["batch/job-1"] }]]);
    const [a, b] = explainFleet([brs("a"), brs("b")], ctx({ maxConcurrent: 2, blocked }));
    assert.deepEqual(a?.reason, {
      kind: "blocked",
      blocker: { kind: "pods", pods: ["batch/job-1"] },
      targetVersion: "1.20.0",
    });
    assert.equal(
      a?.message,
      "blocked by pod batch/job-1 on the node; starts updating to 1.20.0 once that clears",
    );
    assert.equal(b?.reason.kind, "starting");
    const alerts = new Map([["brs-a", { kind: "alerts" as const, alerts: ["NodeDown"] }]]);
    assert.match(
      explainNode("a", [brs("a")], ctx({ blocked: alerts }))?.message ?? "",
      /firing alert NodeDown/,
    );
  });

  it("an updating node whose agent is silent says for how long, in which state", () => {
    const silent = new Map([
      ["brs-a", { shadow: "brs-a", state: "StagedAndPerformedUpdate", forMs: 1_500_000 }],
    ]);
    const fleet = [brs("a", { spec: "RebootedIntoUpdate", state: "StagedAndPerformedUpdate" })];
    const e = explainNode("a", fleet, ctx({ silent }));
    assert.equal(
      e?.message,
      "agent silent for 25m00s in state StagedAndPerformedUpdate (asked for RebootedIntoUpdate)",
    );
    assert.match(explainNode("a", fleet, ctx())?.message ?? "", /^updating to 1.20.0/);
  });
  it("a node failed on the new version: the quarantine and how to end it (brupop accept NODE)", () => {
    const failed = brs("a", { cur: "1.20.0", crashes: 1, failedAt: "2024-05-01T11:59:00Z" });
    if (failed.status !== undefined)
      failed.status.failure = {
        state: "MonitoringUpdate",
        reason: "Unhealthy",
        message: "pod not Ready",
        timestamp: "2024-05-01T11:59:00Z",
      };
    const e = explainNode("a", [failed], ctx());
    assert.equal(e?.reason.kind, "failed-on-new-version");
    assert.match(
      e?.message ?? "",
      /^failed on 1\.20\.0 after the reboot \(Unhealthy reaching MonitoringUpdate: pod not Ready\); .*; with QUARANTINE_FAILED_NODES \(the default\) its agent keeps the node cordoned until then: brupop accept a ends it$/,
    );
  });
});
