import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CLEAR_HALT_ANNOTATION,
  NODE_PAUSED_ANNOTATION,
  ZONE_LABEL,
  type RawPolicy,
} from "../../model/policy.js";
import type { BottlerocketShadow, ShadowStatus } from "../../model/shadow.js";
import type { ShadowState } from "../../model/state.js";
import { planTick, type NodeLike } from "./decisions.js";
import { explainFleet } from "./explain.js";
import { decidePolicy, evaluateBudget, resolveMaxConcurrent } from "./policy.js";
import { nodeCounts, policyStatus, statusChanged } from "./policy-status.js";
import { parseSchedule } from "./schedule.js";
import { PolicyMetrics } from "../act/policy-stage.js";
import { Registry } from "prom-client";
import { brs as shadow } from "../../../test/kit/shadows.js";

const NOW = new Date("2026-01-10T12:00:00.000Z");
const HOUR = 3_600_000;

function brs(name: string, state: ShadowState, status: Partial<ShadowStatus> = {}): BottlerocketShadow {
  return shadow(name, { spec: state, state, status });
}
const idle = (name: string, status: Partial<ShadowStatus> = {}) => brs(name, "Idle", status);
const updating = (name: string) => brs(name, "StagedAndPerformedUpdate");

function node(name: string, opts: { zone?: string; paused?: boolean } = {}): NodeLike {
  return {
    metadata: {
      name,
      labels: opts.zone === undefined ? {} : { [ZONE_LABEL]: opts.zone },
      ...(opts.paused === true && { annotations: { [NODE_PAUSED_ANNOTATION]: "true" } }),
    },
  };
}

function policy(spec: Record<string, unknown>, extra: Partial<RawPolicy> = {}): RawPolicy {
  return {
    metadata: { name: "default", generation: 1, resourceVersion: "5", ...extra.metadata },
    spec,
    ...extra,
  };
}

/** The names planTick starts under `spec`, for this fleet. */
function starts(
  spec: Record<string, unknown>,
  shadows: BottlerocketShadow[],
  nodes: NodeLike[] = [],
): string[] {
  const d = decidePolicy({ policy: policy(spec), shadows, nodes, now: NOW, envMaxConcurrent: 1 });
  const plan = planTick({
    shadows,
    now: NOW,
    maxConcurrent: d.maxConcurrent,
    updatesAllowed: d.fleetHold === undefined,
    startFilter: d.filter(),
  });
  return plan.changes.filter((c) => c.reason === "start").map((c) => c.name);
}

describe("UpdatePolicy: pause", () => {
  it("spec.paused: no node starts, nodes in progress keep moving, the hold names the policy", () => {
    const fleet = [idle("a"), idle("b"), brs("c", "StagedAndPerformedUpdate", {})];
    fleet[2] = { ...fleet[2]!, status: { ...fleet[2]!.status!, current_state: "StagedAndPerformedUpdate" } };
    assert.deepEqual(starts({ paused: true }, fleet), []);
    const d = decidePolicy({
      policy: policy({ paused: true }),
      shadows: fleet,
      nodes: [],
      now: NOW,
      envMaxConcurrent: 5,
    });
    assert.equal(d.fleetHold?.message, "paused by UpdatePolicy default");
    const plan = planTick({ shadows: fleet, now: NOW, maxConcurrent: 5, updatesAllowed: false });
    assert.deepEqual(
      plan.changes.map((c) => [c.name, c.reason]),
      [["brs-c", "progress"]],
    );
    const counts = nodeCounts(fleet, plan, NOW, true);
    assert.deepEqual(counts, { total: 3, upToDate: 0, updating: 1, waiting: 0, failed: 0, held: 2 });
    const status = policyStatus(policy({ paused: true }), d, counts, NOW);
    const paused = status.conditions?.find((c) => c.type === "Paused");
    assert.equal(paused?.status, "True");
    assert.match(
      paused?.message ?? "",
      /paused by UpdatePolicy default: no node starts; 1 node\(s\) still finishing/,
    );
    assert.equal(status.finishing, 1);
  });

  it("a Node annotated paused is held alone, also without any policy field", () => {
    const fleet = [idle("a"), idle("b")];
    assert.deepEqual(starts({ maxConcurrent: 5 }, fleet, [node("a", { paused: true }), node("b")]), [
      "brs-b",
    ]);
    const ex = explainFleet(fleet, {
      now: NOW,
      maxConcurrent: 5,
      gate: { kind: "window", updatesAllowed: true, opensAt: null },
      policy: {
        hold: undefined,
        filter: () =>
          decidePolicy({
            policy: policy({}),
            shadows: fleet,
            nodes: [node("a", { paused: true })],
            now: NOW,
            envMaxConcurrent: 5,
          }).filter(),
      },
    });
    assert.equal(ex[0]?.message, `paused by Node annotation ${NODE_PAUSED_ANNOTATION}=true`);
    assert.equal(ex[1]?.reason.kind, "starting");
  });

  it("explain names the policy rule for a fleet-wide hold", () => {
    const ex = explainFleet([idle("a")], {
      now: NOW,
      maxConcurrent: 1,
      gate: { kind: "window", updatesAllowed: true, opensAt: null },
      policy: {
        hold: "paused by UpdatePolicy default",
        filter: () => ({ hold: () => undefined, started: () => undefined }),
      },
    });
    assert.equal(ex[0]?.message, "paused by UpdatePolicy default");
  });
});

describe("UpdatePolicy: concurrency", () => {
  const table: [string, Parameters<typeof resolveMaxConcurrent>[0], number, number | "unlimited"][] = [
    ["unset: the environment's", undefined, 10, 1],
    ["count", { kind: "count", count: 3 }, 10, 3],
    ["25% of 10 rounds down", { kind: "percent", percent: 25 }, 10, 2],
    ["25% of 3 is at least one", { kind: "percent", percent: 25 }, 3, 1],
    ["100%", { kind: "percent", percent: 100 }, 7, 7],
  ];
  for (const [name, spec, eligible, want] of table)
    it(name, () => assert.equal(resolveMaxConcurrent(spec, eligible, 1), want));

  it("a percentage over the fleet limits starts", () => {
    const fleet = ["a", "b", "c", "d", "e", "f", "g", "h"].map((n) => idle(n));
    assert.equal(starts({ maxConcurrent: "25%" }, fleet).length, 2);
  });

  it("per zone: at most M per zone, counting nodes already updating (a failover sees them too)", () => {
    const fleet = [updating("a1"), idle("a2"), idle("a3"), idle("b1"), idle("b2"), idle("c1"), idle("n1")];
    const nodes = [
      node("a1", { zone: "za" }),
      node("a2", { zone: "za" }),
      node("a3", { zone: "za" }),
      node("b1", { zone: "zb" }),
      node("b2", { zone: "zb" }),
      node("c1", { zone: "zc" }),
      node("n1"),
    ];
    const got = starts({ maxConcurrent: 10, maxConcurrentPerZone: 1 }, fleet, nodes);
    assert.deepEqual(got.sort(), ["brs-b1", "brs-c1", "brs-n1"]);
    const d = decidePolicy({
      policy: policy({ maxConcurrentPerZone: 1 }),
      shadows: fleet,
      nodes,
      now: NOW,
      envMaxConcurrent: 10,
    });
    assert.equal(d.filter().hold(idle("a2")), "zone za full: 1 of maxConcurrentPerZone 1 updating");
  });
});

describe("UpdatePolicy: version pin", () => {
  it("holds a node whose host offers anything but the pinned version, starts one offered exactly it", () => {
    const fleet = [idle("a", { target_version: "1.21.0" }), idle("b", { target_version: "1.20.0" })];
    assert.deepEqual(starts({ maxConcurrent: 5, targetVersion: "1.20.0" }, fleet), ["brs-b"]);
    const d = decidePolicy({
      policy: policy({ targetVersion: "1.20.0" }),
      shadows: fleet,
      nodes: [],
      now: NOW,
      envMaxConcurrent: 5,
    });
    assert.match(
      d.filter().hold(fleet[0]!) ?? "",
      /^pinned to 1.20.0 by UpdatePolicy targetVersion \(its host offers 1.21.0/,
    );
  });
});

describe("UpdatePolicy: failure budget", () => {
  const failed = (name: string, at: Date) =>
    idle(name, { crash_count: 1, state_transition_failure_timestamp: at.toISOString() });
  const budget = { maxFailures: 2, windowMs: HOUR };

  it("trips at N distinct failed nodes within the window, and stays tripped", () => {
    const prev = { countingSince: new Date(NOW.getTime() - 2 * HOUR).toISOString(), failures: [] };
    const one = evaluateBudget(budget, prev, [failed("a", new Date(NOW.getTime() - 60_000))], NOW, undefined);
    assert.equal(one.tripped, false);
    assert.equal(one.next.failures.length, 1);
    // b's failure is older than the window: it does not count.
    const old = evaluateBudget(
      budget,
      one.next,
      [failed("b", new Date(NOW.getTime() - 2 * HOUR + 1))],
      NOW,
      undefined,
    );
    assert.equal(old.tripped, false);
    // a's record survives though a's shadow no longer shows it (it succeeded since).
    const two = evaluateBudget(budget, one.next, [idle("a"), failed("c", NOW)], NOW, undefined);
    assert.equal(two.tripped, true);
    assert.deepEqual(two.next.haltedNodes, ["a", "c"]);
    const later = evaluateBudget(budget, two.next, [], new Date(NOW.getTime() + 5 * HOUR), undefined);
    assert.equal(later.tripped, false);
    assert.equal(later.next.haltedAt, two.next.haltedAt, "halt persists until cleared");
  });

  it("failures before countingSince do not count (a new policy, or after a clear)", () => {
    const prev = { countingSince: NOW.toISOString(), failures: [] };
    const r = evaluateBudget(
      budget,
      prev,
      [failed("a", new Date(NOW.getTime() - 1000)), failed("b", new Date(NOW.getTime() - 1000))],
      NOW,
      undefined,
    );
    assert.equal(r.next.haltedAt, undefined);
  });

  it("a new clear-halt annotation value clears it and restarts the count; the same value again does nothing", () => {
    const halted = {
      countingSince: "2026-01-10T10:00:00.000Z",
      failures: [
        { node: "a", at: "2026-01-10T11:59:00.000Z" },
        { node: "b", at: "2026-01-10T11:59:00.000Z" },
      ],
      haltedAt: "2026-01-10T11:59:30.000Z",
      haltedNodes: ["a", "b"],
    };
    const stillFailed = [
      failed("a", new Date("2026-01-10T11:59:00.000Z")),
      failed("b", new Date("2026-01-10T11:59:00.000Z")),
    ];
    const c = evaluateBudget(budget, halted, stillFailed, NOW, "t1");
    assert.equal(c.cleared, true);
    assert.equal(c.next.haltedAt, undefined);
    assert.equal(c.next.clearedBy, "t1");
    assert.deepEqual(c.next.failures, []);
    const again = evaluateBudget(budget, { ...halted, clearedBy: "t1" }, stillFailed, NOW, "t1");
    assert.equal(again.cleared, false);
    assert.notEqual(again.next.haltedAt, undefined);
  });

  it("decidePolicy: a halted budget holds every start, names the nodes, and the status says how to clear", () => {
    const raw = policy(
      { failureBudget: { maxFailures: 1, window: "1h" } },
      { status: { failureBudget: { countingSince: "2026-01-10T11:00:00.000Z", failures: [] } } },
    );
    const fleet = [failed("x", new Date(NOW.getTime() - 1000)), idle("y")];
    const d = decidePolicy({ policy: raw, shadows: fleet, nodes: [], now: NOW, envMaxConcurrent: 1 });
    assert.equal(d.tripped, true);
    assert.equal(d.fleetHold?.rule, "halted");
    assert.match(
      d.fleetHold?.message ?? "",
      /halted by UpdatePolicy default: failure budget exhausted \(x failed\)/,
    );
    const st = policyStatus(raw, d, nodeCounts(fleet, { held: [], changes: [] }, NOW, true), NOW);
    const halted = st.conditions?.find((c) => c.type === "Halted");
    assert.equal(halted?.status, "True");
    assert.equal(halted?.reason, "FailureBudgetExhausted");
    assert.match(
      halted?.message ?? "",
      new RegExp(`kubectl annotate updatepolicy default ${CLEAR_HALT_ANNOTATION}`),
    );
  });
});

describe("UpdatePolicy: window in a time zone", () => {
  it("is read in spec.timeZone", () => {
    // 02:00-02:59 in New York = 07:00-07:59 UTC in January.
    const spec = { schedule: "* * 2 * * *", timeZone: "America/New_York" };
    const open = decidePolicy({
      policy: policy(spec),
      shadows: [],
      nodes: [],
      now: new Date("2026-01-10T07:30:00Z"),
      envMaxConcurrent: 1,
    });
    assert.equal(open.fleetHold, undefined);
    const closed = decidePolicy({
      policy: policy(spec),
      shadows: [],
      nodes: [],
      now: new Date("2026-01-10T02:30:00Z"),
      envMaxConcurrent: 1,
    });
    assert.equal(closed.fleetHold?.rule, "window");
    assert.equal(closed.window?.opensAt?.toISOString(), "2026-01-10T07:00:00.000Z");
    assert.match(
      closed.fleetHold?.message ?? "",
      /UpdatePolicy default window \(\* \* 2 \* \* \* in America\/New_York\) closed until 2026-01-10T07:00:00.000Z/,
    );
  });

  it("DST: a window in the skipped hour (02:xx on spring-forward day) never opens that day", () => {
    // Europe/Berlin jumps 02:00 → 03:00 on 2026-03-29 (01:00 UTC).
    const w = parseSchedule(
      "* * 2 * * *",
      new Date("2026-03-28T12:00:00Z"),
      "spec.schedule",
      "Europe/Berlin",
    );
    for (let t = Date.parse("2026-03-28T23:00:00Z"); t < Date.parse("2026-03-29T22:00:00Z"); t += 60_000)
      assert.equal(w.isInWindow(new Date(t)), false, new Date(t).toISOString());
    // The day before and after it opens at 02:00 local (01:00 UTC in winter, 00:00 UTC in summer).
    assert.equal(w.isInWindow(new Date("2026-03-28T01:30:00Z")), true);
    assert.equal(w.isInWindow(new Date("2026-03-30T00:30:00Z")), true);
    assert.equal(w.nextFire(new Date("2026-03-28T12:00:00Z"))?.toISOString(), "2026-03-30T00:00:00.000Z");
  });

  it("DST: a window in the repeated hour (02:xx on fall-back day) is open in both passes", () => {
    // Europe/Berlin goes 03:00 CEST → 02:00 CET on 2026-10-25: 02:xx local happens at 00:xx and 01:xx UTC.
    const w = parseSchedule(
      "* * 2 * * *",
      new Date("2026-10-24T12:00:00Z"),
      "spec.schedule",
      "Europe/Berlin",
    );
    assert.equal(w.isInWindow(new Date("2026-10-25T00:30:00Z")), true, "first 02:30 (CEST)");
    assert.equal(w.isInWindow(new Date("2026-10-25T01:30:00Z")), true, "second 02:30 (CET)");
    assert.equal(w.isInWindow(new Date("2026-10-25T02:30:00Z")), false, "03:30 CET");
  });

  it("a trigger-like schedule or a bad zone makes the policy Invalid (every start held)", () => {
    const trig = decidePolicy({
      policy: policy({ schedule: "0 0 2 * * *" }),
      shadows: [],
      nodes: [],
      now: NOW,
      envMaxConcurrent: 1,
    });
    assert.equal(trig.fleetHold?.rule, "invalid");
    assert.match(trig.invalid ?? "", /not a window/);
    const tz = decidePolicy({
      policy: policy({ timeZone: "Mars/Olympus" }),
      shadows: [],
      nodes: [],
      now: NOW,
      envMaxConcurrent: 1,
    });
    assert.equal(tz.fleetHold?.rule, "invalid");
    assert.match(tz.invalid ?? "", /spec.timeZone/);
  });
});

describe("UpdatePolicy status", () => {
  it("keeps condition times while unchanged, so an unchanged tick writes nothing", () => {
    const raw = policy({ paused: true });
    const d = decidePolicy({ policy: raw, shadows: [idle("a")], nodes: [], now: NOW, envMaxConcurrent: 1 });
    const counts = nodeCounts([idle("a")], { held: [], changes: [] }, NOW, true);
    const first = policyStatus(raw, d, counts, NOW);
    const later = new Date(NOW.getTime() + 60_000);
    const second = policyStatus({ ...raw, status: first }, d, counts, later);
    assert.equal(statusChanged(first, second), false);
    const unpaused = decidePolicy({
      policy: policy({}),
      shadows: [idle("a")],
      nodes: [],
      now: later,
      envMaxConcurrent: 1,
    });
    const third = policyStatus({ ...raw, status: first }, unpaused, counts, later);
    assert.equal(statusChanged(first, third), true);
    assert.equal(third.conditions?.find((c) => c.type === "Paused")?.lastTransitionTime, later.toISOString());
  });
});

describe("UpdatePolicy metrics", () => {
  it("paused, halted, window open and nodes per state", async () => {
    const registry = new Registry();
    const m = new PolicyMetrics(registry);
    const d = decidePolicy({
      policy: policy({ paused: true, schedule: "* * 2 * * *" }),
      shadows: [],
      nodes: [],
      now: NOW,
      envMaxConcurrent: 1,
    });
    m.set(d, { total: 3, upToDate: 1, updating: 0, waiting: 0, failed: 0, held: 2 });
    const text = await registry.metrics();
    assert.match(text, /^brupop_policy_paused 1$/m);
    assert.match(text, /^brupop_policy_halted 0$/m);
    assert.match(text, /^brupop_policy_window_open 0$/m);
    assert.match(text, /^brupop_policy_nodes\{state="held"\} 2$/m);
    m.set(undefined, undefined);
    assert.match(await registry.metrics(), /^brupop_policy_paused 0$/m);
    const grouped = decidePolicy({
      policy: policy({ groups: [{ name: "canary", matchLabels: { tier: "canary" } }] }),
      shadows: [idle("a")],
      nodes: [node("a")],
      now: NOW,
      envMaxConcurrent: 1,
    });
    m.set(grouped, undefined);
    const g = await registry.metrics();
    assert.match(g, /^brupop_policy_group_nodes\{group="canary",state="total"\} 0$/m);
    assert.match(g, /^brupop_policy_group_nodes\{group="\(rest\)",state="total"\} 1$/m);
  });
});

describe("UpdatePolicy: groups", () => {
  const canaryNode = (name: string): NodeLike => ({ metadata: { name, labels: { tier: "canary" } } });
  const groups = [{ name: "canary", matchLabels: { tier: "canary" }, maxConcurrent: 1, soak: "30m" }];
  const nodes = [canaryNode("c1"), canaryNode("c2"), node("r1"), node("r2")];

  it("the canary group goes first, one at a time; the rest waits for it", () => {
    const fleet = [idle("c1"), idle("c2"), idle("r1"), idle("r2")];
    assert.deepEqual(starts({ maxConcurrent: 5, groups }, fleet, nodes), ["brs-c1"]);
    const d = decidePolicy({
      policy: policy({ groups }),
      shadows: fleet,
      nodes,
      now: NOW,
      envMaxConcurrent: 5,
    });
    assert.equal(d.group?.current, "canary");
    assert.equal(d.maxConcurrent, 1);
    assert.equal(
      d.filter().hold(idle("r1")),
      "group (rest) waits for group canary to finish (UpdatePolicy groups)",
    );
  });

  it("a failed canary node keeps the next group waiting", () => {
    const failed = idle("c2", { crash_count: 1, state_transition_failure_timestamp: NOW.toISOString() });
    const fleet = [idle("c1", { current_version: "1.20.0" }), failed, idle("r1")];
    assert.deepEqual(starts({ maxConcurrent: 5, groups }, fleet, nodes), []);
  });

  // Issue 25: the canary that failed its health gate after the reboot runs the new version, but
  // is not up to date: its group never finishes, later groups wait, the status says why.
  const unhealthyOnNew = (name: string, annotations?: Record<string, string>) => {
    const s = idle(name, {
      current_version: "1.20.0",
      crash_count: 1,
      state_transition_failure_timestamp: NOW.toISOString(),
      failure: {
        state: "MonitoringUpdate",
        reason: "Unhealthy",
        message: "not Ready: DaemonSet pod kube-system/probe-x",
        timestamp: NOW.toISOString(),
      },
    });
    if (annotations !== undefined) s.metadata.annotations = annotations;
    return s;
  };

  it("a canary failed on the new version keeps its group unfinished and the next group waiting", () => {
    const fleet = [unhealthyOnNew("c1"), idle("c2", { current_version: "1.20.0" }), idle("r1"), idle("r2")];
    assert.deepEqual(starts({ maxConcurrent: 5, groups }, fleet, nodes), []);
    const later = new Date(NOW.getTime() + 10 * HOUR); // long past any back-off and soak
    const raw = policy({ groups });
    const d = decidePolicy({ policy: raw, shadows: fleet, nodes, now: later, envMaxConcurrent: 5 });
    assert.equal(d.group?.current, "canary");
    const canary = d.group?.status.find((g) => g.name === "canary");
    assert.deepEqual(canary, {
      name: "canary",
      nodes: 2,
      upToDate: 1,
      failed: 1,
      failedNodes: ["c1 (Unhealthy on 1.20.0)"],
    });
    assert.match(
      d.filter().hold(idle("r1")) ?? "",
      /waits for group canary to finish: c1 \(Unhealthy on 1\.20\.0\) failed/,
    );
    const plan = planTick({
      shadows: fleet,
      now: later,
      maxConcurrent: d.maxConcurrent,
      updatesAllowed: true,
      startFilter: d.filter(),
    });
    assert.deepEqual(plan.changes, []);
    const counts = nodeCounts(fleet, plan, later, false);
    assert.deepEqual(counts, { total: 4, upToDate: 1, updating: 0, waiting: 0, failed: 1, held: 2 });
    const st = policyStatus(raw, d, counts, later);
    const progressing = st.conditions?.find((c) => c.type === "Progressing");
    assert.equal(progressing?.reason, "GroupFailed");
    assert.match(progressing?.message ?? "", /accept-failure/);
    const why = explainFleet(fleet, {
      now: later,
      maxConcurrent: 5,
      gate: { kind: "window", updatesAllowed: true, opensAt: null },
      policy: { hold: undefined, filter: d.filter },
    });
    assert.equal(why[0]?.reason.kind, "failed-on-new-version");
    assert.match(why[0]?.message ?? "", /^failed on 1\.20\.0 after the reboot \(Unhealthy/);
  });

  it("accepting the canary's failure (annotation = its timestamp) lets the next group start", () => {
    const accepted = unhealthyOnNew("c1", { "brupop.bottlerocket.aws/accept-failure": NOW.toISOString() });
    const fleet = [accepted, idle("c2", { current_version: "1.20.0" }), idle("r1"), idle("r2")];
    const noSoak = groups.map(({ soak: _soak, ...g }) => g);
    const d = decidePolicy({
      policy: policy({ groups: noSoak }),
      shadows: fleet,
      nodes,
      now: NOW,
      envMaxConcurrent: 5,
    });
    assert.equal(d.group?.status.find((g) => g.name === "canary")?.upToDate, 2);
    assert.deepEqual(starts({ maxConcurrent: 5, groups: noSoak }, fleet, nodes), ["brs-r1", "brs-r2"]);
  });

  it("a failure budget of 1 trips on a health-gate failure after the reboot", () => {
    const raw = policy(
      { failureBudget: { maxFailures: 1, window: "1h" } },
      {
        status: {
          failureBudget: { countingSince: new Date(NOW.getTime() - HOUR).toISOString(), failures: [] },
        },
      },
    );
    const d = decidePolicy({
      policy: raw,
      shadows: [unhealthyOnNew("c1"), idle("r1")],
      nodes,
      now: NOW,
      envMaxConcurrent: 5,
    });
    assert.equal(d.tripped, true);
    assert.deepEqual(d.budget?.haltedNodes, ["c1"]);
    assert.equal(d.fleetHold?.rule, "halted");
  });

  it("after the canary group finished, the next waits out the soak (finishedAt kept in the status)", () => {
    const done = { current_version: "1.20.0" };
    const fleet = [idle("c1", done), idle("c2", done), idle("r1"), idle("r2")];
    const first = decidePolicy({
      policy: policy({ groups }),
      shadows: fleet,
      nodes,
      now: NOW,
      envMaxConcurrent: 5,
    });
    assert.equal(first.group?.current, "(rest)");
    assert.equal(first.group?.status[0]?.finishedAt, NOW.toISOString());
    assert.match(first.filter().hold(idle("r1")) ?? "", /group canary soaks until 2026-01-10T12:30:00.000Z/);
    const later = new Date(NOW.getTime() + 31 * 60_000);
    const raw = policy({ groups }, { status: { groups: first.group?.status ?? [] } });
    const d = decidePolicy({ policy: raw, shadows: fleet, nodes, now: later, envMaxConcurrent: 5 });
    assert.equal(d.filter().hold(idle("r1")), undefined);
    assert.equal(d.maxConcurrent, 5, "the rest group has the fleet's limit");
    const st = policyStatus(raw, d, nodeCounts(fleet, { held: [], changes: [] }, later, false), later);
    assert.equal(st.currentGroup, "(rest)");
  });
  it("a group's own window, read in the policy's time zone, holds its nodes while closed", () => {
    const fleet = [idle("c1"), idle("r1")];
    // 02:00–04:59 in Berlin = 01:00–03:59 UTC in January; NOW is 12:00 UTC.
    const nightly = [{ name: "canary", matchLabels: { tier: "canary" }, schedule: "* * 2-4 * * *" }];
    const spec = { maxConcurrent: 5, groups: nightly, timeZone: "Europe/Berlin" };
    const closed = decidePolicy({
      policy: policy(spec),
      shadows: fleet,
      nodes,
      now: NOW,
      envMaxConcurrent: 5,
    });
    assert.equal(closed.invalid, undefined);
    assert.equal(
      closed.filter().hold(idle("c1")),
      "group canary window (* * 2-4 * * * in Europe/Berlin) closed until 2026-01-11T01:00:00.000Z (UpdatePolicy groups)",
    );
    assert.deepEqual(starts(spec, fleet, nodes), []);
    const night = new Date("2026-01-11T01:30:00.000Z");
    const open = decidePolicy({
      policy: policy(spec),
      shadows: fleet,
      nodes,
      now: night,
      envMaxConcurrent: 5,
    });
    assert.equal(open.filter().hold(idle("c1")), undefined, "inside its window the canary starts");
  });

  it("a group schedule that is not a window makes the policy invalid, naming the group", () => {
    const bad = [{ name: "canary", matchLabels: { tier: "canary" }, schedule: "0 0 3 * * *" }];
    const d = decidePolicy({
      policy: policy({ groups: bad }),
      shadows: [idle("c1")],
      nodes,
      now: NOW,
      envMaxConcurrent: 5,
    });
    assert.match(d.invalid ?? "", /^spec\.groups\[0\]\.schedule: "0 0 3 \* \* \*" is not a window/);
    assert.equal(d.fleetHold?.rule, "invalid");
  });
});
