import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildFleetStatus, drainingNodes } from "./core.js";
import type { DrainView, RawNode, RawShadow } from "./inputs.js";
import type { NodeRow, RowReason } from "./model.js";
import { SETTINGS_UNKNOWN_NOTE } from "./settings.js";
import {
  ago,
  asked,
  input,
  node,
  NOW,
  pdb,
  pod,
  settings,
  shadow,
  TO,
  upToDate,
} from "../../test/kit/status-fixtures.js";

interface Case {
  name: string;
  shadows: RawShadow[];
  nodes: RawNode[];
  state?: Record<string, string> | null;
  drain?: Record<string, DrainView>;
  /** The row checked. */
  node: string;
  reason: RowReason;
  message: string | RegExp;
  phase: NodeRow["phase"];
  attention?: boolean;
}

const webPod = pod("web", "web-0", { app: "web" });
const draining = (n: string, secondsAgo = 30) =>
  shadow(
    n,
    { state: "RebootedIntoUpdate", state_transition_timestamp: ago(secondsAgo), version: TO },
    { current_state: "StagedAndPerformedUpdate" },
  );
const WINDOW_3AM = "* * 3 * * * *";
const TRIGGER_3AM = "0 0 3 * * * *";

const CASES: Case[] = [
  {
    name: "up to date",
    shadows: [upToDate("a")],
    nodes: [node("a")],
    node: "a",
    reason: { kind: "up-to-date" },
    message: "up to date",
    phase: "up-to-date",
  },
  {
    name: "updating within the state's time allowance",
    shadows: [asked("a", "StagedAndPerformedUpdate", 60, "Idle")],
    nodes: [node("a")],
    node: "a",
    reason: { kind: "updating", since: ago(60), deadline: ago(60 - 720) },
    message: "updating to 1.20.0: Idle -> StagedAndPerformedUpdate",
    phase: "updating",
  },
  {
    name: "reached its spec state: the controller moves it on (never 'silent', however old)",
    shadows: [asked("a", "StagedAndPerformedUpdate", 3600, "StagedAndPerformedUpdate")],
    nodes: [node("a")],
    node: "a",
    reason: { kind: "updating", since: ago(3600), deadline: ago(3600 - 720) },
    message: "reached StagedAndPerformedUpdate; the controller moves it on at its next tick",
    phase: "updating",
  },
  {
    name: "agent silent: spec ≠ status past the allowance (720 s for StagedAndPerformedUpdate)",
    shadows: [asked("a", "StagedAndPerformedUpdate", 13 * 60, "Idle")],
    nodes: [node("a")],
    node: "a",
    reason: { kind: "agent-silent", cause: "timeout", since: ago(13 * 60), allowanceSeconds: 720 },
    message: "agent silent: asked for StagedAndPerformedUpdate 13m ago, allowance 12m; still Idle",
    phase: "updating",
    attention: true,
  },
  {
    name: "agent silent: 121 s to get back to Idle after MonitoringUpdate (allowance 120 s)",
    shadows: [asked("a", "Idle", 121, "MonitoringUpdate")],
    nodes: [node("a")],
    node: "a",
    reason: { kind: "agent-silent", cause: "timeout", since: ago(121), allowanceSeconds: 120 },
    message: /^agent silent: asked for Idle 2m ago, allowance 2m; still MonitoringUpdate$/,
    phase: "updating",
    attention: true,
  },
  {
    // Issue 25: it runs the new version, but its health gate failed after the reboot.
    name: "failed on the new version (health gate): not up to date, needs attention, says how to accept",
    shadows: [
      shadow("a", undefined, {
        current_version: TO,
        crash_count: 1,
        state_transition_failure_timestamp: ago(40),
        failure: {
          state: "MonitoringUpdate",
          reason: "Unhealthy",
          message: "not Ready: DaemonSet pod kube-system/probe-a",
          timestamp: ago(40),
        },
      }),
    ],
    nodes: [node("a")],
    node: "a",
    reason: {
      kind: "failed-on-new-version",
      version: TO,
      accept: `kubectl annotate brs brs-a -n ns brupop.bottlerocket.aws/accept-failure=${ago(40)} --overwrite`,
      quarantined: false,
    },
    message: new RegExp(
      `^failed on ${TO.replace(/\./g, "\\.")} after the reboot \\(Unhealthy reaching MonitoringUpdate: not Ready: DaemonSet pod kube-system/probe-a\\); not up to date`,
    ),
    phase: "failed",
    attention: true,
  },
  {
    name: "failed update recovering",
    shadows: [
      shadow(
        "a",
        { state: "Idle", state_transition_timestamp: ago(30), version: TO },
        { current_state: "ErrorReset", crash_count: 1 },
      ),
    ],
    nodes: [node("a")],
    node: "a",
    reason: { kind: "updating", since: ago(30), deadline: ago(30 - 120) },
    message: "update failed; recovering (ErrorReset -> Idle)",
    phase: "failed",
  },
  {
    name: "failed update recovering, with the agent's reason",
    shadows: [
      shadow(
        "a",
        { state: "Idle", state_transition_timestamp: ago(30), version: TO },
        {
          current_state: "ErrorReset",
          crash_count: 1,
          failure: {
            state: "RebootedIntoUpdate",
            reason: "DrainFailed",
            message: "drain: HTTP 500",
            timestamp: ago(31),
          },
        },
      ),
    ],
    nodes: [node("a")],
    node: "a",
    reason: { kind: "updating", since: ago(30), deadline: ago(30 - 120) },
    message:
      "update failed (DrainFailed reaching RebootedIntoUpdate: drain: HTTP 500); recovering (ErrorReset -> Idle)",
    phase: "failed",
  },
  {
    name: "agent silent: node NotReady (even when up to date)",
    shadows: [upToDate("a")],
    nodes: [node("a", { ready: false, readySince: ago(600) })],
    node: "a",
    reason: { kind: "agent-silent", cause: "node-not-ready", since: ago(600), allowanceSeconds: null },
    message: "agent silent: node NotReady since 2030-06-01T11:50:00Z (10m ago)",
    phase: "up-to-date",
    attention: true,
  },
  {
    name: "agent silent: node NotReady while staging",
    shadows: [asked("a", "StagedAndPerformedUpdate", 60, "Idle")],
    nodes: [node("a", { ready: false })],
    node: "a",
    reason: { kind: "agent-silent", cause: "node-not-ready", since: ago(600), allowanceSeconds: null },
    message: /^agent silent: node NotReady since/,
    phase: "updating",
    attention: true,
  },
  {
    name: "NotReady while rebooting into the update is expected (within the allowance)",
    shadows: [draining("a", 120)],
    nodes: [node("a", { ready: false, cordoned: true })],
    drain: { a: { pods: [], pdbs: [] } },
    node: "a",
    reason: { kind: "updating", since: ago(120), deadline: ago(120 - 600) },
    message: "rebooting into 1.20.0 (node NotReady)",
    phase: "updating",
  },
  {
    name: "rebooting past its allowance (600 s) is agent silent",
    shadows: [draining("a", 601)],
    nodes: [node("a", { ready: false, cordoned: true })],
    node: "a",
    reason: { kind: "agent-silent", cause: "timeout", since: ago(601), allowanceSeconds: 600 },
    message:
      /^agent silent: asked for RebootedIntoUpdate 10m ago, allowance 10m; still StagedAndPerformedUpdate$/,
    phase: "updating",
    attention: true,
  },
  {
    name: "agent silent: node gone",
    shadows: [upToDate("a")],
    nodes: [],
    node: "a",
    reason: { kind: "agent-silent", cause: "node-missing", since: null, allowanceSeconds: null },
    message: "agent silent: node not found",
    phase: "up-to-date",
    attention: true,
  },
  {
    name: "PDB blocking the drain (named)",
    shadows: [draining("a")],
    nodes: [node("a", { cordoned: true })],
    drain: { a: { pods: [webPod], pdbs: [pdb("web", "web-pdb", { app: "web" }, 0)] } },
    node: "a",
    reason: {
      kind: "pdb-blocking",
      pdbs: [{ namespace: "web", name: "web-pdb" }],
      pods: [{ namespace: "web", name: "web-0" }],
    },
    message: "drain blocked by PodDisruptionBudget web/web-pdb (0 disruptions allowed; pod web/web-0)",
    phase: "updating",
    attention: true,
  },
  {
    name: "PDB blocking wins over the allowance running out",
    shadows: [draining("a", 3600)],
    nodes: [node("a", { cordoned: true })],
    drain: { a: { pods: [webPod], pdbs: [pdb("web", "web-pdb", { app: "web" }, undefined)] } },
    node: "a",
    reason: {
      kind: "pdb-blocking",
      pdbs: [{ namespace: "web", name: "web-pdb" }],
      pods: [{ namespace: "web", name: "web-0" }],
    },
    message: /^drain blocked by PodDisruptionBudget web\/web-pdb/,
    phase: "updating",
    attention: true,
  },
  {
    name: "PDB that still allows a disruption: just draining",
    shadows: [draining("a")],
    nodes: [node("a", { cordoned: true })],
    drain: { a: { pods: [webPod], pdbs: [pdb("web", "web-pdb", { app: "web" }, 1)] } },
    node: "a",
    reason: { kind: "updating", since: ago(30), deadline: ago(30 - 600) },
    message: "draining, then rebooting into 1.20.0",
    phase: "updating",
  },
  {
    name: "PDB over a DaemonSet pod does not block (the drain skips it)",
    shadows: [draining("a")],
    nodes: [node("a", { cordoned: true })],
    drain: {
      a: {
        pods: [
          pod("web", "ds-0", { app: "web" }, { metadata: { ownerReferences: [{ kind: "DaemonSet" }] } }),
        ],
        pdbs: [pdb("web", "web-pdb", { app: "web" }, 0)],
      },
    },
    node: "a",
    reason: { kind: "updating", since: ago(30), deadline: ago(30 - 600) },
    message: "draining, then rebooting into 1.20.0",
    phase: "updating",
  },
  {
    name: "PDB in another namespace does not block",
    shadows: [draining("a")],
    nodes: [node("a", { cordoned: true })],
    drain: { a: { pods: [webPod], pdbs: [pdb("other", "web-pdb", { app: "web" }, 0)] } },
    node: "a",
    reason: { kind: "updating", since: ago(30), deadline: ago(30 - 600) },
    message: "draining, then rebooting into 1.20.0",
    phase: "updating",
  },
  {
    name: "not cordoned yet: not draining, no PDB verdict",
    shadows: [draining("a")],
    nodes: [node("a")],
    drain: { a: { pods: [webPod], pdbs: [pdb("web", "web-pdb", { app: "web" }, 0)] } },
    node: "a",
    reason: { kind: "updating", since: ago(30), deadline: ago(30 - 600) },
    message: "updating to 1.20.0: StagedAndPerformedUpdate -> RebootedIntoUpdate",
    phase: "updating",
  },
  {
    name: "PDBs unreadable: draining, with a note",
    shadows: [draining("a")],
    nodes: [node("a", { cordoned: true })],
    drain: { a: { error: "forbidden: cannot list pods" } },
    node: "a",
    reason: { kind: "updating", since: ago(30), deadline: ago(30 - 600) },
    message:
      "draining, then rebooting into 1.20.0 (could not check PodDisruptionBudgets: forbidden: cannot list pods)",
    phase: "updating",
  },
  {
    name: "back-off until T (upstream: more than 2^3 whole minutes, so 9 min after the failure)",
    shadows: [shadow("a", {}, { crash_count: 3, state_transition_failure_timestamp: ago(60) })],
    nodes: [node("a")],
    node: "a",
    reason: { kind: "backoff", until: "2030-06-01T12:08:00.000Z", crashCount: 3 },
    message: "back-off until 2030-06-01T12:08:00Z (in 8m) after 3 failed attempts",
    phase: "failed",
  },
  {
    name: "back-off names the agent's last failure (status.failure)",
    shadows: [
      shadow(
        "a",
        {},
        {
          crash_count: 3,
          state_transition_failure_timestamp: ago(60),
          failure: {
            state: "StagedAndPerformedUpdate",
            reason: "HostCommandFailed",
            message: "host prepare failed (exit 1): no space left on device",
            timestamp: ago(60),
          },
        },
      ),
    ],
    nodes: [node("a")],
    node: "a",
    reason: { kind: "backoff", until: "2030-06-01T12:08:00.000Z", crashCount: 3 },
    message:
      "back-off until 2030-06-01T12:08:00Z (in 8m) after 3 failed attempts; last: HostCommandFailed reaching StagedAndPerformedUpdate: host prepare failed (exit 1): no space left on device",
    phase: "failed",
  },
  {
    name: "window closed until T",
    shadows: [shadow("a")],
    nodes: [node("a")],
    state: settings({ schedule: WINDOW_3AM }),
    node: "a",
    reason: { kind: "schedule-closed", schedule: "window", until: "2030-06-02T03:00:00.000Z" },
    message: "window closed until 2030-06-02T03:00:00Z (in 15h)",
    phase: "waiting",
  },
  {
    name: "waiting for the next trigger round at T (today's round done)",
    shadows: [shadow("a")],
    nodes: [node("a")],
    state: settings({ schedule: TRIGGER_3AM }, { lastFire: "2030-06-01T03:00:00.000Z", open: false }),
    node: "a",
    reason: { kind: "schedule-closed", schedule: "trigger", until: "2030-06-02T03:00:00.000Z" },
    message: "waiting for the next trigger round at 2030-06-02T03:00:00Z (in 15h)",
    phase: "waiting",
  },
  {
    name: "trigger schedule, nothing persisted yet: the controller waits for the next fire time",
    shadows: [shadow("a")],
    nodes: [node("a")],
    state: settings({ schedule: TRIGGER_3AM }),
    node: "a",
    reason: { kind: "schedule-closed", schedule: "trigger", until: "2030-06-02T03:00:00.000Z" },
    message: /^waiting for the next trigger round at 2030-06-02T03:00:00Z/,
    phase: "waiting",
  },
  {
    name: "trigger round still open: starting",
    shadows: [shadow("a")],
    nodes: [node("a")],
    state: settings({ schedule: TRIGGER_3AM }, { lastFire: "2030-06-01T03:00:00.000Z", open: true }),
    node: "a",
    reason: { kind: "starting" },
    message: "starts updating to 1.20.0 at the controller's next tick",
    phase: "waiting",
  },
  {
    name: "a fire time after the persisted one opens a round (as the controller's next tick will)",
    shadows: [shadow("a")],
    nodes: [node("a")],
    state: settings({ schedule: TRIGGER_3AM }, { lastFire: "2030-05-31T03:00:00.000Z", open: false }),
    node: "a",
    reason: { kind: "starting" },
    message: /^starts updating/,
    phase: "waiting",
  },
  {
    name: "concurrency full (n of limit)",
    shadows: [asked("a", "StagedAndPerformedUpdate", 10, "Idle"), shadow("b")],
    nodes: [node("a"), node("b")],
    state: settings({ maxConcurrent: 1 }),
    node: "b",
    reason: { kind: "concurrency-full", active: 1, limit: 1 },
    message: "concurrency full (1 of 1 updating)",
    phase: "waiting",
  },
  {
    name: "the controller's own node goes last",
    shadows: [shadow("a"), shadow("b")],
    nodes: [node("a"), node("b")],
    state: settings({ maxConcurrent: 1, controllerNode: "a" }),
    node: "a",
    reason: { kind: "concurrency-full", active: 1, limit: 1 },
    message: "concurrency full (1 of 1 updating)",
    phase: "waiting",
  },
  {
    name: "starting: nothing holds it back",
    shadows: [shadow("a")],
    nodes: [node("a")],
    node: "a",
    reason: { kind: "starting" },
    message: "starts updating to 1.20.0 at the controller's next tick",
    phase: "waiting",
  },
  {
    name: "no status yet",
    shadows: [shadow("a", {}, null)],
    nodes: [node("a")],
    node: "a",
    reason: { kind: "no-status" },
    message: "waiting for the agent's first status report",
    phase: "waiting",
  },
  {
    name: "labelled node without a shadow",
    shadows: [],
    nodes: [node("a")],
    node: "a",
    reason: { kind: "no-shadow" },
    message: "no BottlerocketShadow yet (is the brupop agent running on this node?)",
    phase: "waiting",
  },
  {
    name: "invalid shadow",
    shadows: [shadow("a", {}, { current_state: "Bogus" as "Idle" })],
    nodes: [node("a")],
    node: "a",
    reason: { kind: "invalid", error: "" },
    message: /^invalid BottlerocketShadow: .*current_state/,
    phase: "waiting",
    attention: true,
  },
];

describe("buildFleetStatus: one WHY per node", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const status = buildFleetStatus(input(c.shadows, c.nodes, { state: c.state, drain: c.drain }));
      const row = status.nodes.find((r) => r.node === c.node);
      assert.ok(row, `no row for ${c.node}: ${JSON.stringify(status.nodes)}`);
      if (c.reason.kind === "invalid") assert.equal(row.reason.kind, "invalid");
      else assert.deepEqual(row.reason, c.reason);
      if (typeof c.message === "string") assert.equal(row.message, c.message);
      else assert.match(row.message, c.message);
      assert.equal(row.phase, c.phase);
      assert.equal(row.attention, c.attention === true);
    });
  }
});

describe("buildFleetStatus: rows, settings and summary", () => {
  it("fills the columns: states, version headed for, crash count, cordoned", () => {
    const status = buildFleetStatus(
      input(
        [
          shadow(
            "a",
            { state: "StagedAndPerformedUpdate", state_transition_timestamp: ago(5), version: "1.19.5" },
            { crash_count: 2 },
          ),
          upToDate("b"),
        ],
        [node("a", { cordoned: true }), node("b")],
      ),
    );
    const [a, b] = status.nodes;
    assert.deepEqual(a?.state, { current: "Idle", target: "StagedAndPerformedUpdate" });
    // While updating, the version asked for (spec.version), not the newest offered.
    assert.deepEqual(a?.version, { current: "1.19.0", target: "1.19.5" });
    assert.equal(a?.crashCount, 2);
    assert.equal(a?.cordoned, true);
    assert.equal(a?.shadow, "brs-a");
    assert.deepEqual(b?.version, { current: TO, target: TO });
    assert.equal(b?.cordoned, false);
    assert.equal(b?.ready, true);
  });

  it("sorts rows by node name; unlabelled nodes without a shadow are not managed", () => {
    const status = buildFleetStatus(
      input(
        [upToDate("c"), upToDate("a")],
        [node("a"), node("b"), node("c"), node("x", { labelled: false })],
      ),
    );
    assert.deepEqual(
      status.nodes.map((r) => [r.node, r.reason.kind]),
      [
        ["a", "up-to-date"],
        ["b", "no-shadow"],
        ["c", "up-to-date"],
      ],
    );
  });

  it("summarises phases, attention, active set and limit", () => {
    const status = buildFleetStatus(
      input(
        [
          upToDate("a"),
          asked("b", "StagedAndPerformedUpdate", 10, "Idle"),
          asked("c", "StagedAndPerformedUpdate", 3600, "Idle"),
          shadow("d"),
          shadow("e", {}, { crash_count: 1, state_transition_failure_timestamp: ago(1) }),
        ],
        ["a", "b", "c", "d", "e"].map((n) => node(n)),
      ),
    );
    assert.deepEqual(status.summary, {
      nodes: 5,
      upToDate: 1,
      updating: 2,
      waiting: 1,
      failed: 1,
      needAttention: 1,
      active: 2,
      limit: 2,
    });
    assert.equal(status.nodes.find((r) => r.node === "d")?.reason.kind, "concurrency-full");
  });

  it("reports the published settings and the schedule verdict", () => {
    const status = buildFleetStatus(
      input([shadow("a")], [node("a")], {
        state: settings({
          maxConcurrent: "unlimited",
          schedule: WINDOW_3AM,
          controllerNode: "a",
          leader: "ctl-1",
        }),
      }),
    );
    assert.equal(status.apiVersion, "brupop.bottlerocket.aws/status-v1");
    assert.equal(status.kind, "FleetStatus");
    assert.equal(status.generatedAt, NOW.toISOString());
    assert.deepEqual(status.controller, {
      settingsKnown: true,
      note: null,
      leader: "ctl-1",
      leaderSince: ago(3600),
      node: "a",
      maxConcurrent: "unlimited",
      schedule: {
        expression: WINDOW_3AM,
        kind: "window",
        updatesAllowed: false,
        opensAt: "2030-06-02T03:00:00.000Z",
        round: null,
      },
    });
  });

  it("without published settings: says so and explains with the controller's defaults (limit 1, always open)", () => {
    for (const state of [
      null,
      { "trigger-last-fire": "", "trigger-round-open": "false", schedule: TRIGGER_3AM },
    ]) {
      const status = buildFleetStatus(
        input([asked("a", "StagedAndPerformedUpdate", 10, "Idle"), shadow("b")], [node("a"), node("b")], {
          state,
        }),
      );
      assert.equal(status.controller.settingsKnown, false);
      assert.equal(status.controller.note, SETTINGS_UNKNOWN_NOTE);
      assert.equal(status.controller.maxConcurrent, 1);
      assert.equal(status.controller.schedule.expression, "* * * * * * *");
      assert.deepEqual(status.nodes[1]?.reason, { kind: "concurrency-full", active: 1, limit: 1 });
    }
  });

  it("an unreadable ConfigMap is not fatal: defaults with the reason", () => {
    const status = buildFleetStatus({
      ...input([upToDate("a")], [node("a")], { state: null }),
      controllerStateError: "forbidden: cannot get configmaps",
    });
    assert.equal(status.controller.settingsKnown, false);
    assert.equal(status.controller.note, `${SETTINGS_UNKNOWN_NOTE}: forbidden: cannot get configmaps`);
    assert.equal(status.nodes[0]?.reason.kind, "up-to-date");
  });
});

describe("drainingNodes", () => {
  it("names only cordoned nodes asked to reboot that have not yet", () => {
    const shadows = [
      draining("a"),
      draining("b"), // not cordoned
      shadow("c", { state: "RebootedIntoUpdate", version: TO }, { current_state: "RebootedIntoUpdate" }), // done
      shadow("d", { state: "RebootedIntoUpdate", version: TO }, { current_state: "ErrorReset" }), // failed
      asked("e", "StagedAndPerformedUpdate", 10, "Idle"),
      { metadata: { name: "brs-f" }, spec: { state: "Nope" } }, // invalid: skipped
    ];
    const nodes = ["a", "c", "d", "e", "f"].map((n) => node(n, { cordoned: true })).concat(node("b"));
    assert.deepEqual(drainingNodes(shadows, nodes), ["a"]);
  });
});
