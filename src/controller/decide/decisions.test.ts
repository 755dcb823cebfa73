import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BottlerocketShadow, ShadowSpec, ShadowStatus } from "../../model/shadow.js";
import type { ShadowState } from "../../model/state.js";
import { describeChange } from "../act/spec-write.js";
import {
  backoffPassed,
  backoffThresholdMinutes,
  backoffUntil,
  isActive,
  nextSpec,
  orderCandidates,
  planTick,
  shadowsToDelete,
  type ConcurrencyLimit,
  type NodeLike,
} from "./decisions.js";
import { brs } from "../../../test/kit/shadows.js";

const NOW = new Date("2026-01-10T12:00:00.000Z");
const T0 = "2026-01-10T11:00:00.000Z";
const MIN = 60_000;

function shadow(
  name: string,
  spec: Partial<ShadowSpec> & { state: ShadowState },
  status?: Partial<ShadowStatus> & { current_state: ShadowState },
): BottlerocketShadow {
  return brs(name, {
    name,
    resourceVersion: `rv-${name}`,
    spec: spec.state,
    version: spec.version !== undefined ? spec.version : "1.20.0",
    transitionAt: spec.state_transition_timestamp !== undefined ? spec.state_transition_timestamp : T0,
    noStatus: status === undefined,
    ...(status !== undefined && { status }),
  });
}

const idleWithUpdate = (name: string, status: Partial<ShadowStatus> = {}) =>
  shadow(name, { state: "Idle", version: null }, { current_state: "Idle", ...status });
const idleUpToDate = (name: string) =>
  shadow(
    name,
    { state: "Idle", version: null, state_transition_timestamp: null },
    { current_state: "Idle", current_version: "1.20.0" },
  );

describe("nextSpec", () => {
  const now = NOW.toISOString();
  const table: [string, BottlerocketShadow, ShadowSpec | "unchanged"][] = [
    [
      "no status → default spec",
      shadow("a", { state: "RebootedIntoUpdate" }),
      { state: "Idle", state_transition_timestamp: null, version: null },
    ],
    [
      "Idle reached, update offered → StagedAndPerformedUpdate to target",
      idleWithUpdate("a"),
      { state: "StagedAndPerformedUpdate", state_transition_timestamp: now, version: "1.20.0" },
    ],
    ["Idle reached, up to date, default spec → unchanged", idleUpToDate("a"), "unchanged"],
    [
      "Idle reached on its target after a cycle → default spec (no version, no timestamp)",
      shadow("a", { state: "Idle" }, { current_state: "Idle", current_version: "1.20.0" }),
      { state: "Idle", state_transition_timestamp: null, version: null },
    ],
    [
      "StagedAndPerformedUpdate reached → RebootedIntoUpdate",
      shadow("a", { state: "StagedAndPerformedUpdate" }, { current_state: "StagedAndPerformedUpdate" }),
      { state: "RebootedIntoUpdate", state_transition_timestamp: now, version: "1.20.0" },
    ],
    [
      "RebootedIntoUpdate reached → MonitoringUpdate",
      shadow(
        "a",
        { state: "RebootedIntoUpdate" },
        { current_state: "RebootedIntoUpdate", current_version: "1.20.0" },
      ),
      { state: "MonitoringUpdate", state_transition_timestamp: now, version: "1.20.0" },
    ],
    [
      "MonitoringUpdate reached → Idle",
      shadow("a", { state: "MonitoringUpdate" }, { current_state: "MonitoringUpdate" }),
      { state: "Idle", state_transition_timestamp: now, version: "1.20.0" },
    ],
    [
      "ErrorReset reached → Idle",
      shadow("a", { state: "ErrorReset" }, { current_state: "ErrorReset" }),
      { state: "Idle", state_transition_timestamp: now, version: "1.20.0" },
    ],
    [
      "still working towards StagedAndPerformedUpdate → unchanged",
      shadow("a", { state: "StagedAndPerformedUpdate" }, { current_state: "Idle" }),
      "unchanged",
    ],
    [
      "still working towards RebootedIntoUpdate → unchanged",
      shadow("a", { state: "RebootedIntoUpdate" }, { current_state: "StagedAndPerformedUpdate" }),
      "unchanged",
    ],
    [
      "agent reports ErrorReset while working → Idle, keeps version",
      shadow("a", { state: "RebootedIntoUpdate" }, { current_state: "ErrorReset" }),
      { state: "Idle", state_transition_timestamp: now, version: "1.20.0" },
    ],
    [
      "ErrorReset status while spec Idle → unchanged (agent recovering)",
      shadow("a", { state: "Idle" }, { current_state: "ErrorReset" }),
      "unchanged",
    ],
  ];
  for (const [name, input, expected] of table) {
    it(name, () => assert.deepEqual(nextSpec(input, NOW), expected === "unchanged" ? input.spec : expected));
  }

  it("Idle with update but inside crash back-off → unchanged", () => {
    const s = idleWithUpdate("a", {
      crash_count: 2,
      state_transition_failure_timestamp: new Date(NOW.getTime() - 3 * MIN).toISOString(),
    });
    assert.deepEqual(nextSpec(s, NOW), s.spec);
  });
});

describe("crash back-off (upstream: whole minutes since the failure > 2^crash_count, or > 1440)", () => {
  it("threshold is 2^crash_count minutes, capped at 1440", () => {
    assert.deepEqual(
      [0, 1, 2, 5, 10, 11, 12, 40, 4294967295].map((c) => backoffThresholdMinutes(c)),
      [1, 2, 4, 32, 1024, 1440, 1440, 1440, 1440],
    );
  });
  // [crash_count, time since the failure, may retry]. Whole minutes must EXCEED the threshold.
  const S = 1000;
  const table: [number, number, boolean][] = [
    [0, 2 * MIN - 1, false], // 1 whole minute: not > 1
    [0, 2 * MIN, true], // 2 > 1
    [1, 2 * MIN, false], // 2 is not > 2 (our old rule let it go here)
    [1, 3 * MIN - 1, false], // still 2 whole minutes
    [1, 3 * MIN, true], // 3 > 2: the 180 s upstream really waits
    [2, 5 * MIN - S, false],
    [2, 5 * MIN, true],
    [10, 1025 * MIN - 1, false],
    [10, 1025 * MIN, true],
    [11, 1440 * MIN, false], // at the cap 1440 whole minutes are not enough
    [11, 1441 * MIN - 1, false],
    [11, 1441 * MIN, true],
    [40, 1440 * MIN, false],
    [40, 1441 * MIN, true],
    [4294967295, 1441 * MIN, true],
    [0, -5 * MIN, false], // a failure "in the future" (clock skew) holds the node
  ];
  for (const [crashCount, ago, passed] of table) {
    it(`crash_count ${crashCount}, failed ${ago / S} s ago → ${passed ? "may retry" : "waits"}`, () => {
      const failedAt = new Date(NOW.getTime() - ago).toISOString();
      const status = idleWithUpdate("a", {
        crash_count: crashCount,
        state_transition_failure_timestamp: failedAt,
      }).status;
      assert.ok(status);
      assert.equal(backoffPassed(status, NOW), passed);
      if (ago >= 0) {
        const until = backoffUntil(status);
        assert.ok(until !== null);
        assert.equal(until.getTime() <= NOW.getTime(), passed, "backoffUntil agrees with backoffPassed");
      }
    });
  }
  it("reads upstream's nanosecond +00:00 timestamps exactly (no millisecond rounding)", () => {
    // Failed at 11:57:00.000000400: exactly 3 min later is still 400 ns short of 3 whole minutes.
    const status = idleWithUpdate("a", {
      crash_count: 1,
      state_transition_failure_timestamp: "2026-01-10T11:57:00.000000400+00:00",
    }).status;
    assert.ok(status);
    assert.equal(backoffPassed(status, NOW), false);
    assert.equal(backoffPassed(status, new Date(NOW.getTime() + 1)), true);
    assert.deepEqual(backoffUntil(status), new Date(NOW.getTime() + 1));
    const offset = idleWithUpdate("a", {
      crash_count: 1,
      state_transition_failure_timestamp: "2026-01-10T13:57:00.000000000+02:00",
    }).status;
    assert.ok(offset && backoffPassed(offset, NOW));
    assert.deepEqual(backoffUntil(offset), NOW);
  });
  it("a node without a failure timestamp never waits", () => {
    const status = idleWithUpdate("a", { crash_count: 9 }).status;
    assert.ok(status && backoffPassed(status, NOW));
    assert.equal(backoffUntil(status), null);
  });
});

describe("isActive", () => {
  it("counts nodes outside Idle or still converging, not settled idle ones", () => {
    assert.equal(isActive(idleWithUpdate("a")), false);
    assert.equal(isActive(shadow("a", { state: "Idle" })), false);
    assert.equal(
      isActive(shadow("a", { state: "StagedAndPerformedUpdate" }, { current_state: "Idle" })),
      true,
    );
    assert.equal(isActive(shadow("a", { state: "Idle" }, { current_state: "MonitoringUpdate" })), true);
    assert.equal(isActive(shadow("a", { state: "Idle" }, { current_state: "ErrorReset" })), true);
  });
});

describe("orderCandidates", () => {
  it("orders by crash count, no-status last, the controller's node last, ties by name", () => {
    const shadows = [
      idleWithUpdate("brs-c", { crash_count: 1 }),
      shadow("brs-nostatus", { state: "Idle" }),
      idleWithUpdate("brs-self"),
      idleWithUpdate("brs-b"),
      idleWithUpdate("brs-a"),
      idleWithUpdate("brs-d", { crash_count: 5 }),
    ];
    assert.deepEqual(
      orderCandidates(shadows, "self").map((s) => s.metadata.name),
      ["brs-a", "brs-b", "brs-c", "brs-d", "brs-nostatus", "brs-self"],
    );
    assert.deepEqual(
      orderCandidates(shadows, undefined).map((s) => s.metadata.name),
      ["brs-a", "brs-b", "brs-self", "brs-c", "brs-d", "brs-nostatus"],
    );
  });
});

describe("planTick", () => {
  const plan = (shadows: BottlerocketShadow[], maxConcurrent: ConcurrencyLimit, updatesAllowed = true) =>
    planTick({ shadows, now: NOW, maxConcurrent, updatesAllowed, controllerNodeName: "n0" });

  it("starts as many candidates as the limit allows in one tick", () => {
    const shadows = ["brs-n1", "brs-n2", "brs-n3", "brs-n4"].map((n) => idleWithUpdate(n));
    const p = plan(shadows, 3);
    assert.deepEqual(
      p.changes.map((c) => [c.name, c.reason, c.to.state]),
      [
        ["brs-n1", "start", "StagedAndPerformedUpdate"],
        ["brs-n2", "start", "StagedAndPerformedUpdate"],
        ["brs-n3", "start", "StagedAndPerformedUpdate"],
      ],
    );
    assert.equal(p.activeCount, 3);
    assert.deepEqual(p.waitingForSlot, ["brs-n4"]);
    assert.equal(p.changes[0]?.resourceVersion, "rv-brs-n1");
  });

  it("counts in-progress and failed nodes against the limit and still progresses them", () => {
    const shadows = [
      shadow(
        "brs-busy",
        { state: "StagedAndPerformedUpdate" },
        { current_state: "StagedAndPerformedUpdate" },
      ),
      shadow("brs-err", { state: "RebootedIntoUpdate" }, { current_state: "ErrorReset" }),
      idleWithUpdate("brs-idle"),
    ];
    const p = plan(shadows, 2);
    assert.deepEqual(
      p.changes.map((c) => [c.name, c.reason, c.to.state]),
      [
        ["brs-busy", "progress", "RebootedIntoUpdate"],
        ["brs-err", "recover", "Idle"],
      ],
    );
    assert.deepEqual(p.waitingForSlot, ["brs-idle"]);
  });

  it("outside the schedule starts nothing but finishes nodes in progress", () => {
    const shadows = [
      shadow("brs-busy", { state: "MonitoringUpdate" }, { current_state: "MonitoringUpdate" }),
      idleWithUpdate("brs-idle"),
    ];
    const p = plan(shadows, "unlimited", false);
    assert.deepEqual(
      p.changes.map((c) => [c.name, c.to.state]),
      [["brs-busy", "Idle"]],
    );
    assert.deepEqual(p.waitingForSlot, []);
  });

  it("unlimited starts every candidate; up-to-date and backed-off nodes are not candidates", () => {
    const backedOff = idleWithUpdate("brs-b", {
      crash_count: 3,
      state_transition_failure_timestamp: NOW.toISOString(),
    });
    const p = plan(
      [idleWithUpdate("brs-a"), idleUpToDate("brs-c"), backedOff, idleWithUpdate("brs-d")],
      "unlimited",
    );
    assert.deepEqual(
      p.changes.map((c) => c.name),
      ["brs-a", "brs-d"],
    );
  });

  it("resets a status-less shadow to the default spec once, then leaves it alone", () => {
    const p = plan([shadow("brs-new", { state: "RebootedIntoUpdate" })], 1);
    assert.deepEqual(
      p.changes.map((c) => [c.reason, c.to]),
      [["initialise", { state: "Idle", state_transition_timestamp: null, version: null }]],
    );
    const settled = shadow("brs-new", { state: "Idle", state_transition_timestamp: null, version: null });
    assert.deepEqual(plan([settled], 1).changes, []);
  });

  it("resets a node Idle on its target to the default spec, even with the schedule closed", () => {
    const finished = shadow(
      "brs-done",
      { state: "Idle" },
      { current_state: "Idle", current_version: "1.20.0" },
    );
    for (const [limit, allowed] of [
      [1, true],
      [0, true],
      ["unlimited", false],
    ] as const) {
      const p = plan([finished], limit, allowed);
      assert.deepEqual(
        p.changes.map((c) => [c.name, c.reason, c.to]),
        [["brs-done", "reset", { state: "Idle", state_transition_timestamp: null, version: null }]],
      );
      assert.equal(p.activeCount, 0, "a reset takes no slot");
    }
    // Not while the agent still reports MonitoringUpdate, nor while an update is still offered.
    const converging = shadow(
      "brs-m",
      { state: "Idle" },
      { current_state: "MonitoringUpdate", current_version: "1.20.0" },
    );
    assert.deepEqual(
      plan([converging], 1).changes.map((c) => c.reason),
      [],
    );
    const backedOff = shadow(
      "brs-b",
      { state: "Idle" },
      { current_state: "Idle", crash_count: 1, state_transition_failure_timestamp: NOW.toISOString() },
    );
    assert.deepEqual(plan([backedOff], 1).changes, [], "a node waiting out its back-off keeps its spec");
  });

  it("MAX_CONCURRENT_UPDATE=0: nodes in progress finish, no node starts", () => {
    const shadows = [
      shadow(
        "brs-busy",
        { state: "RebootedIntoUpdate" },
        { current_state: "RebootedIntoUpdate", current_version: "1.20.0" },
      ),
      idleWithUpdate("brs-a"),
      idleWithUpdate("brs-b"),
    ];
    const p = plan(shadows, 0);
    assert.deepEqual(
      p.changes.map((c) => [c.name, c.reason, c.to.state]),
      [["brs-busy", "progress", "MonitoringUpdate"]],
    );
    assert.deepEqual(p.waitingForSlot, ["brs-a", "brs-b"]);
    const idle = plan([idleWithUpdate("brs-a")], 0);
    assert.deepEqual(idle.changes, []);
    assert.deepEqual(idle.waitingForSlot, ["brs-a"]);
  });

  it("puts the controller's own node last", () => {
    const p = plan([idleWithUpdate("brs-n0"), idleWithUpdate("brs-n9")], 1);
    assert.deepEqual(
      p.changes.map((c) => c.name),
      ["brs-n9"],
    );
    assert.deepEqual(p.waitingForSlot, ["brs-n0"]);
  });
});

describe("shadowsToDelete", () => {
  it("deletes shadows whose node lost the label, never those whose node is unknown", () => {
    const nodes: NodeLike[] = [
      { metadata: { name: "keep", labels: { "bottlerocket.aws/updater-interface-version": "2.0.0" } } },
      { metadata: { name: "lost", labels: {} } },
      { metadata: { name: "old", labels: { "bottlerocket.aws/updater-interface-version": "1.0.0" } } },
    ];
    const shadows = ["brs-keep", "brs-lost", "brs-old", "brs-gone", "not-a-shadow"].map((n) =>
      idleUpToDate(n),
    );
    assert.deepEqual(shadowsToDelete(shadows, nodes), ["brs-lost", "brs-old"]);
  });
});

describe("status.failure in the controller's changes and Events", () => {
  const failure = {
    state: "RebootedIntoUpdate",
    reason: "DrainFailed",
    message: "drain: HTTP 500",
    timestamp: NOW.toISOString(),
  } as const;

  it("a recover change carries the agent's failure; without one (upstream agent) it has none", () => {
    const p = planTick({
      shadows: [
        shadow("brs-ours", { state: "RebootedIntoUpdate" }, { current_state: "ErrorReset", failure }),
        shadow("brs-upstream", { state: "RebootedIntoUpdate" }, { current_state: "ErrorReset" }),
      ],
      now: NOW,
      maxConcurrent: "unlimited",
      updatesAllowed: true,
    });
    const byName = new Map(p.changes.map((c) => [c.name, c]));
    assert.deepEqual(byName.get("brs-ours")?.failure, failure);
    assert.equal(byName.get("brs-upstream")?.failure, undefined);
  });

  it("the Event message names the reason, the state and the error text", () => {
    const base = {
      name: "brs-a",
      resourceVersion: "1",
      from: { state: "RebootedIntoUpdate", version: "1.1.0", state_transition_timestamp: null },
      to: { state: "Idle", version: "1.1.0", state_transition_timestamp: null },
      reason: "recover",
    } as const;
    assert.equal(
      describeChange({ ...base, failure }),
      "update failed (DrainFailed reaching RebootedIntoUpdate: drain: HTTP 500); spec RebootedIntoUpdate → Idle (version 1.1.0)",
    );
    assert.equal(
      describeChange(base),
      "update failed (status ErrorReset); spec RebootedIntoUpdate → Idle (version 1.1.0)",
    );
  });

  it("a failure after the reboot, on the version the host runs, is said to be on the new version (issue 25)", () => {
    const unhealthy = {
      ...failure,
      state: "MonitoringUpdate",
      reason: "Unhealthy",
      message: "not Ready",
    } as const;
    const p = planTick({
      shadows: [
        shadow(
          "brs-new",
          { state: "MonitoringUpdate" },
          {
            current_state: "ErrorReset",
            current_version: "1.20.0",
            target_version: "1.20.0",
            failure: unhealthy,
          },
        ),
        shadow("brs-drain", { state: "RebootedIntoUpdate" }, { current_state: "ErrorReset", failure }),
      ],
      now: NOW,
      maxConcurrent: "unlimited",
      updatesAllowed: true,
    });
    const byName = new Map(p.changes.map((c) => [c.name, c]));
    const onNew = byName.get("brs-new");
    assert.ok(onNew);
    assert.equal(onNew.failedOnNewVersion, true);
    assert.match(describeChange(onNew), /^update failed on the new version after the reboot \(Unhealthy/);
    assert.equal(
      byName.get("brs-drain")?.failedOnNewVersion,
      undefined,
      "a drain failure is before the reboot",
    );
  });
});
