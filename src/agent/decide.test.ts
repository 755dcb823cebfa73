import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FAILURE_MESSAGE_MAX, type ShadowStatus } from "../model/shadow.js";
import { V2_STATES, type ShadowState } from "../model/state.js";
import {
  decide,
  hostUpdateFacts,
  type Decision,
  type DecisionInput,
  type HealthFacts,
  type HostFacts,
  type HostUpdateFacts,
  type NodeFacts,
  type PodHealth,
  type Step,
} from "./decide.js";
import {
  failureRecord,
  failureStatus,
  initialStatus,
  statusChanged,
  stepFailureReason,
  successStatus,
} from "./status.js";

const OLD = "1.19.0";
const NEW = "1.20.0";
const OTHER = "1.21.0";

const status = (state: ShadowState, extra: Partial<ShadowStatus> = {}): ShadowStatus => ({
  current_version: OLD,
  target_version: NEW,
  current_state: state,
  crash_count: 0,
  state_transition_failure_timestamp: null,
  ...extra,
});

const upd = (
  state: HostUpdateFacts["state"],
  staged: HostUpdateFacts["staged"] = null,
  chosenVersion: string | null = NEW,
): HostUpdateFacts => ({ state, chosenVersion, staged });

const HOST = {
  uninitialised: { version: OLD, update: null },
  idle: { version: OLD, update: upd("Idle", null, null) },
  available: { version: OLD, update: upd("Available") },
  availableOther: { version: OLD, update: upd("Available", null, OTHER) },
  staged: { version: OLD, update: upd("Staged", { version: NEW, nextToBoot: false }) },
  stagedOther: { version: OLD, update: upd("Staged", { version: OTHER, nextToBoot: false }) },
  ready: { version: OLD, update: upd("Ready", { version: NEW, nextToBoot: true }) },
  readyOther: { version: OLD, update: upd("Ready", { version: OTHER, nextToBoot: true }, OTHER) },
  // What a real host shows after a boot into NEW failed and it came back on OLD: the status was
  // rebuilt at boot (no staging partition), NEW still offered.
  rolledBack: { version: OLD, update: upd("Available") },
  onNew: { version: NEW, update: null },
} satisfies Record<string, HostFacts>;

const CLEAN: NodeFacts = { cordonedByBrupop: false, excludedFromLb: false };
const CORDONED: NodeFacts = { cordonedByBrupop: true, excludedFromLb: true };

interface Row {
  name: string;
  spec: ShadowState;
  version?: string | null;
  status: ShadowState;
  host: HostFacts;
  node?: NodeFacts | undefined;
  done?: Step[];
  lb?: boolean;
  expect: Decision["kind"] | Step;
  /** For fail/wait/assert: a fragment of the reason. */
  reason?: RegExp;
}

function input(row: Row): DecisionInput {
  return {
    spec: {
      state: row.spec,
      version: row.version === undefined ? NEW : row.version,
      state_transition_timestamp: null,
    },
    status: status(row.status),
    host: row.host,
    node: "node" in row ? row.node : CLEAN,
    done: new Set(row.done ?? []),
    manageLbExclusion: row.lb ?? false,
  };
}

function label(d: Decision): string {
  return d.kind === "step" ? d.step : d.kind;
}

const ROWS: Row[] = [
  // --- spec ErrorReset: never valid ---
  ...V2_STATES.map((s): Row => ({
    name: `spec ErrorReset, status ${s}`,
    spec: "ErrorReset",
    status: s,
    host: HOST.ready,
    expect: "assert",
  })),

  // --- reached states ---
  ...(["Idle", "StagedAndPerformedUpdate", "RebootedIntoUpdate", "MonitoringUpdate"] as const).map(
    (s): Row => ({ name: `reached ${s}`, spec: s, status: s, host: HOST.idle, expect: "report" }),
  ),
  {
    name: "reached Idle, node unknown",
    spec: "Idle",
    status: "Idle",
    host: HOST.idle,
    node: undefined,
    expect: "report",
  },
  {
    name: "reached Idle with a stale brupop cordon",
    spec: "Idle",
    status: "Idle",
    host: HOST.idle,
    node: CORDONED,
    expect: "uncordon",
  },
  {
    name: "… after uncordoning",
    spec: "Idle",
    status: "Idle",
    host: HOST.idle,
    node: CORDONED,
    done: ["uncordon"],
    expect: "report",
  },
  {
    name: "reached MonitoringUpdate with a stale brupop cordon",
    spec: "MonitoringUpdate",
    status: "MonitoringUpdate",
    host: HOST.onNew,
    node: CORDONED,
    expect: "uncordon",
  },
  {
    name: "reached ErrorReset?? (spec ErrorReset) stays an assertion",
    spec: "ErrorReset",
    status: "ErrorReset",
    host: HOST.idle,
    expect: "assert",
  },

  // --- status ErrorReset: only the controller moves on ---
  ...(["StagedAndPerformedUpdate", "RebootedIntoUpdate", "MonitoringUpdate"] as const).map((s): Row => ({
    name: `status ErrorReset, spec ${s}`,
    spec: s,
    status: "ErrorReset",
    host: HOST.ready,
    expect: "wait",
    reason: /controller/,
  })),

  // --- spec Idle: recover / finish ---
  {
    name: "Idle after ErrorReset: uncordon",
    node: CORDONED,
    spec: "Idle",
    status: "ErrorReset",
    host: HOST.ready,
    expect: "uncordon",
  },
  {
    name: "Idle after ErrorReset: then report (no LB management)",
    node: CORDONED,
    spec: "Idle",
    status: "ErrorReset",
    host: HOST.ready,
    done: ["uncordon"],
    expect: "report",
  },
  {
    name: "Idle after ErrorReset: then lift LB exclusion",
    node: CORDONED,
    spec: "Idle",
    status: "ErrorReset",
    host: HOST.ready,
    done: ["uncordon"],
    lb: true,
    expect: "removeExclusionFromLb",
  },
  {
    name: "Idle after ErrorReset: done",
    node: CORDONED,
    spec: "Idle",
    status: "ErrorReset",
    host: HOST.ready,
    done: ["uncordon", "removeExclusionFromLb"],
    lb: true,
    expect: "report",
  },
  {
    name: "Idle after MonitoringUpdate: make sure uncordoned",
    node: CORDONED,
    spec: "Idle",
    status: "MonitoringUpdate",
    host: HOST.onNew,
    expect: "uncordon",
  },
  {
    name: "Idle after MonitoringUpdate: report",
    node: CORDONED,
    spec: "Idle",
    status: "MonitoringUpdate",
    host: HOST.onNew,
    done: ["uncordon"],
    expect: "report",
  },
  {
    name: "Idle while status StagedAndPerformedUpdate (operator rollback): uncordon",
    node: CORDONED,
    spec: "Idle",
    status: "StagedAndPerformedUpdate",
    host: HOST.ready,
    expect: "uncordon",
  },

  // --- spec MonitoringUpdate ---
  {
    name: "MonitoringUpdate: uncordon",
    node: CORDONED,
    spec: "MonitoringUpdate",
    status: "RebootedIntoUpdate",
    host: HOST.onNew,
    expect: "uncordon",
  },
  {
    name: "MonitoringUpdate: lift LB exclusion",
    node: CORDONED,
    spec: "MonitoringUpdate",
    status: "RebootedIntoUpdate",
    host: HOST.onNew,
    done: ["uncordon"],
    lb: true,
    expect: "removeExclusionFromLb",
  },
  {
    name: "MonitoringUpdate: report",
    node: CORDONED,
    spec: "MonitoringUpdate",
    status: "RebootedIntoUpdate",
    host: HOST.onNew,
    done: ["uncordon"],
    expect: "report",
  },

  // Undo steps only when the Node shows brupop's changes (issue 26: no uncordon call on every loop).
  {
    name: "MonitoringUpdate on a clean node: no uncordon, report",
    spec: "MonitoringUpdate",
    status: "RebootedIntoUpdate",
    host: HOST.onNew,
    node: CLEAN,
    lb: true,
    expect: "report",
  },
  {
    name: "MonitoringUpdate, cordoned but not excluded: uncordon, then nothing to lift",
    spec: "MonitoringUpdate",
    status: "RebootedIntoUpdate",
    host: HOST.onNew,
    node: { cordonedByBrupop: true, excludedFromLb: false },
    done: ["uncordon"],
    lb: true,
    expect: "report",
  },
  {
    name: "MonitoringUpdate, excluded but not cordoned: lift the exclusion only",
    spec: "MonitoringUpdate",
    status: "RebootedIntoUpdate",
    host: HOST.onNew,
    node: { cordonedByBrupop: false, excludedFromLb: true },
    lb: true,
    expect: "removeExclusionFromLb",
  },
  {
    name: "MonitoringUpdate, Node not in the cache yet: uncordon to be sure",
    spec: "MonitoringUpdate",
    status: "RebootedIntoUpdate",
    host: HOST.onNew,
    node: undefined,
    expect: "uncordon",
  },
  {
    name: "Idle after ErrorReset on a clean node: report at once",
    spec: "Idle",
    status: "ErrorReset",
    host: HOST.ready,
    node: CLEAN,
    lb: true,
    expect: "report",
  },

  // --- spec StagedAndPerformedUpdate ---
  {
    name: "stage: no version",
    spec: "StagedAndPerformedUpdate",
    version: null,
    status: "Idle",
    host: HOST.available,
    expect: "fail",
    reason: /version/,
  },
  {
    name: "stage: host already runs it",
    spec: "StagedAndPerformedUpdate",
    status: "Idle",
    host: HOST.onNew,
    expect: "report",
  },
  {
    name: "stage: uninitialised host → refresh",
    spec: "StagedAndPerformedUpdate",
    status: "Idle",
    host: HOST.uninitialised,
    expect: "refresh",
  },
  {
    name: "stage: still uninitialised after refresh",
    spec: "StagedAndPerformedUpdate",
    status: "Idle",
    host: HOST.uninitialised,
    done: ["refresh"],
    expect: "fail",
  },
  {
    name: "stage: Idle host → refresh",
    spec: "StagedAndPerformedUpdate",
    status: "Idle",
    host: HOST.idle,
    expect: "refresh",
  },
  {
    name: "stage: Idle host after refresh → nothing offered",
    spec: "StagedAndPerformedUpdate",
    status: "Idle",
    host: HOST.idle,
    done: ["refresh"],
    expect: "fail",
    reason: /no update/,
  },
  {
    name: "stage: Available with the wanted version → prepare",
    spec: "StagedAndPerformedUpdate",
    status: "Idle",
    host: HOST.available,
    expect: "prepare",
  },
  {
    name: "stage: Available with another version → refresh",
    spec: "StagedAndPerformedUpdate",
    status: "Idle",
    host: HOST.availableOther,
    expect: "refresh",
  },
  {
    name: "stage: still another version after refresh → fail",
    spec: "StagedAndPerformedUpdate",
    status: "Idle",
    host: HOST.availableOther,
    done: ["refresh"],
    expect: "fail",
    reason: /1\.21\.0.*1\.20\.0/,
  },
  {
    name: "stage: Staged wanted → activate",
    spec: "StagedAndPerformedUpdate",
    status: "Idle",
    host: HOST.staged,
    expect: "activate",
  },
  {
    name: "stage: Staged wanted after activate (?) → fail",
    spec: "StagedAndPerformedUpdate",
    status: "Idle",
    host: HOST.staged,
    done: ["prepare", "activate"],
    expect: "fail",
  },
  {
    name: "stage: Staged other, chosen wanted → prepare",
    spec: "StagedAndPerformedUpdate",
    status: "Idle",
    host: { ...HOST.stagedOther, update: { ...HOST.stagedOther.update, chosenVersion: NEW } },
    expect: "prepare",
  },
  {
    name: "stage: prepare did not stage the wanted version → fail",
    spec: "StagedAndPerformedUpdate",
    status: "Idle",
    host: { ...HOST.stagedOther, update: { ...HOST.stagedOther.update, chosenVersion: NEW } },
    done: ["prepare"],
    expect: "fail",
    reason: /did not stage/,
  },
  {
    name: "stage: Ready with wanted next to boot → report (resume after restart)",
    spec: "StagedAndPerformedUpdate",
    status: "Idle",
    host: HOST.ready,
    expect: "report",
  },
  {
    name: "stage: Ready with another version → deactivate",
    spec: "StagedAndPerformedUpdate",
    status: "Idle",
    host: HOST.readyOther,
    expect: "deactivate",
  },
  {
    name: "stage: still Ready with another version after deactivate → fail",
    spec: "StagedAndPerformedUpdate",
    status: "Idle",
    host: HOST.readyOther,
    done: ["deactivate"],
    expect: "fail",
  },
  {
    name: "stage: from MonitoringUpdate status (odd) acts the same",
    spec: "StagedAndPerformedUpdate",
    status: "MonitoringUpdate",
    host: HOST.available,
    expect: "prepare",
  },

  // --- spec RebootedIntoUpdate ---
  {
    name: "reboot: no version",
    spec: "RebootedIntoUpdate",
    version: null,
    status: "StagedAndPerformedUpdate",
    host: HOST.ready,
    expect: "fail",
  },
  {
    name: "reboot: host runs the version → uncordon",
    node: CORDONED,
    spec: "RebootedIntoUpdate",
    status: "StagedAndPerformedUpdate",
    host: HOST.onNew,
    expect: "uncordon",
  },
  {
    name: "reboot: host runs the version → lift LB exclusion",
    node: CORDONED,
    spec: "RebootedIntoUpdate",
    status: "StagedAndPerformedUpdate",
    host: HOST.onNew,
    lb: true,
    done: ["uncordon"],
    expect: "removeExclusionFromLb",
  },
  {
    name: "reboot: host runs the version → report",
    spec: "RebootedIntoUpdate",
    status: "StagedAndPerformedUpdate",
    host: HOST.onNew,
    done: ["uncordon"],
    expect: "report",
  },
  {
    name: "reboot: uninitialised host → refresh first",
    spec: "RebootedIntoUpdate",
    status: "StagedAndPerformedUpdate",
    host: HOST.uninitialised,
    expect: "refresh",
  },
  {
    name: "reboot: host not Ready → fail before draining",
    spec: "RebootedIntoUpdate",
    status: "StagedAndPerformedUpdate",
    host: HOST.staged,
    expect: "fail",
    reason: /not ready/,
  },
  {
    name: "reboot: host Available → fail",
    spec: "RebootedIntoUpdate",
    status: "StagedAndPerformedUpdate",
    host: HOST.available,
    expect: "fail",
  },
  {
    name: "reboot: came back on the old version → fail (rollback)",
    spec: "RebootedIntoUpdate",
    status: "StagedAndPerformedUpdate",
    host: HOST.rolledBack,
    node: CORDONED,
    done: ["refresh"],
    expect: "fail",
    reason: /rolled back/,
  },
  {
    name: "reboot: staged but not activated (no boot since) → fail, no rollback hint",
    spec: "RebootedIntoUpdate",
    status: "StagedAndPerformedUpdate",
    host: { version: OLD, update: upd("Staged", { version: NEW, nextToBoot: false }) },
    expect: "fail",
    reason: /^(?![\s\S]*rolled back)[\s\S]*not ready to reboot/,
  },
  {
    name: "reboot: Available and nothing staged before any stage was reported → no rollback hint",
    spec: "RebootedIntoUpdate",
    status: "Idle",
    host: HOST.available,
    expect: "fail",
    reason: /^(?![\s\S]*rolled back)[\s\S]*not ready to reboot/,
  },
  {
    name: "reboot: Ready with another version → fail",
    spec: "RebootedIntoUpdate",
    status: "StagedAndPerformedUpdate",
    host: HOST.readyOther,
    expect: "fail",
  },
  {
    name: "reboot: Ready → cordon and drain",
    spec: "RebootedIntoUpdate",
    status: "StagedAndPerformedUpdate",
    host: HOST.ready,
    expect: "cordonAndDrain",
  },
  {
    name: "reboot: drained → reboot",
    spec: "RebootedIntoUpdate",
    status: "StagedAndPerformedUpdate",
    host: HOST.ready,
    done: ["cordonAndDrain"],
    expect: "reboot",
  },
  {
    name: "reboot: requested → halt",
    spec: "RebootedIntoUpdate",
    status: "StagedAndPerformedUpdate",
    host: HOST.ready,
    done: ["cordonAndDrain", "reboot"],
    expect: "halt",
  },
  {
    name: "reboot with LB: exclude first",
    spec: "RebootedIntoUpdate",
    status: "StagedAndPerformedUpdate",
    host: HOST.ready,
    lb: true,
    expect: "excludeFromLb",
  },
  {
    name: "reboot with LB: then wait",
    spec: "RebootedIntoUpdate",
    status: "StagedAndPerformedUpdate",
    host: HOST.ready,
    lb: true,
    done: ["excludeFromLb"],
    expect: "waitBeforeDrain",
  },
  {
    name: "reboot with LB: then drain",
    spec: "RebootedIntoUpdate",
    status: "StagedAndPerformedUpdate",
    host: HOST.ready,
    lb: true,
    done: ["excludeFromLb", "waitBeforeDrain"],
    expect: "cordonAndDrain",
  },
  {
    name: "reboot: a node cordoned meanwhile changes nothing",
    spec: "RebootedIntoUpdate",
    status: "StagedAndPerformedUpdate",
    host: HOST.ready,
    node: CORDONED,
    expect: "cordonAndDrain",
  },
];

describe("decide: the decision table", () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const d = decide(input(row));
      assert.equal(label(d), row.expect, JSON.stringify(d));
      if (row.reason !== undefined) {
        assert.ok("reason" in d, `expected a reason: ${JSON.stringify(d)}`);
        assert.match(d.reason, row.reason);
      }
    });
  }
});

/** A tiny host model: what each step does to the facts (like the simulator). */
function applyStep(step: Step, host: HostFacts, offered: string | null): HostFacts {
  const u = host.update ?? upd("Idle", null, null);
  switch (step) {
    case "refresh":
      return {
        ...host,
        update: {
          ...u,
          chosenVersion: offered,
          state:
            u.state === "Idle" || u.state === "Available"
              ? offered === null
                ? "Idle"
                : "Available"
              : u.state,
        },
      };
    case "prepare":
      return {
        ...host,
        update: { ...u, state: "Staged", staged: { version: u.chosenVersion ?? "?", nextToBoot: false } },
      };
    case "activate":
      return {
        ...host,
        update: { ...u, state: "Ready", staged: u.staged && { ...u.staged, nextToBoot: true } },
      };
    case "deactivate":
      return {
        ...host,
        update: { ...u, state: "Staged", staged: u.staged && { ...u.staged, nextToBoot: false } },
      };
    default:
      return host;
  }
}

function walk(
  spec: ShadowState,
  start: HostFacts,
  offered: string | null,
): { steps: Step[]; end: Decision; host: HostFacts } {
  const done = new Set<Step>();
  let host = start;
  for (let i = 0; i < 20; i++) {
    const d = decide({
      spec: { state: spec, version: NEW, state_transition_timestamp: null },
      status: status(spec === "StagedAndPerformedUpdate" ? "Idle" : "StagedAndPerformedUpdate"),
      host,
      node: CLEAN,
      done,
      manageLbExclusion: false,
    });
    if (d.kind !== "step") return { steps: [...done], end: d, host };
    done.add(d.step);
    host = applyStep(d.step, host, offered);
  }
  throw new Error("decisions did not converge");
}

describe("decide: walking StagedAndPerformedUpdate from every host state", () => {
  const starts: [string, HostFacts, Step[]][] = [
    ["uninitialised (after a boot)", HOST.uninitialised, ["refresh", "prepare", "activate"]],
    ["Idle", HOST.idle, ["refresh", "prepare", "activate"]],
    ["Available", HOST.available, ["prepare", "activate"]],
    ["Available with an older choice", HOST.availableOther, ["refresh", "prepare", "activate"]],
    ["Staged (agent restarted after prepare)", HOST.staged, ["activate"]],
    ["Ready (agent restarted after activate)", HOST.ready, []],
    [
      "Ready with another version",
      { ...HOST.readyOther, update: { ...HOST.readyOther.update, chosenVersion: NEW } },
      ["deactivate", "prepare", "activate"],
    ],
  ];
  for (const [name, start, steps] of starts) {
    it(`${name}: ${steps.join(" → ") || "nothing to do"} → report`, () => {
      const r = walk("StagedAndPerformedUpdate", start, NEW);
      assert.deepEqual(r.steps, steps);
      assert.equal(r.end.kind, "report");
      assert.deepEqual(r.host.update?.staged, { version: NEW, nextToBoot: true });
      assert.equal(r.host.update?.state, "Ready");
    });
  }

  it("a host that offers nothing ends in a failure, never a silent pass", () => {
    const r = walk("StagedAndPerformedUpdate", HOST.uninitialised, null);
    assert.equal(r.end.kind, "fail");
  });

  it("RebootedIntoUpdate from an activated host: drain, reboot, halt", () => {
    const r = walk("RebootedIntoUpdate", HOST.ready, NEW);
    assert.deepEqual(r.steps, ["cordonAndDrain", "reboot"]);
    assert.equal(r.end.kind, "halt");
  });
});

describe("hostUpdateFacts", () => {
  it("reduces the host status", () => {
    assert.equal(hostUpdateFacts(null), null);
    const image = { arch: "x86_64", variant: "aws-k8s-1.33", version: NEW };
    assert.deepEqual(
      hostUpdateFacts({
        update_state: "Ready",
        available_updates: [OTHER, NEW, OLD],
        chosen_update: image,
        active_partition: { image: { ...image, version: OLD }, next_to_boot: false },
        staging_partition: { image, next_to_boot: true },
        most_recent_command: null,
      }),
      { state: "Ready", chosenVersion: NEW, staged: { version: NEW, nextToBoot: true } },
    );
  });
});

describe("status", () => {
  const T = "2025-01-01T00:00:00.000Z";

  it("initialStatus: Idle, host versions, no crashes", () => {
    assert.deepEqual(initialStatus(OLD, NEW), status("Idle"));
  });

  it("successStatus keeps the crash record on every step but the completed cycle", () => {
    const crashed = { crash_count: 2, state_transition_failure_timestamp: T };
    const pairs: [ShadowState, ShadowState][] = [
      ["Idle", "StagedAndPerformedUpdate"],
      ["StagedAndPerformedUpdate", "RebootedIntoUpdate"],
      ["RebootedIntoUpdate", "MonitoringUpdate"],
      ["ErrorReset", "Idle"],
      ["Idle", "Idle"],
    ];
    for (const [from, to] of pairs) {
      const next = successStatus(status(from, crashed), to, OLD, NEW);
      assert.equal(next.current_state, to);
      assert.equal(next.crash_count, 2, `${from} → ${to}`);
      assert.equal(next.state_transition_failure_timestamp, T, `${from} → ${to}`);
    }
  });

  it("successStatus: MonitoringUpdate → Idle resets crash_count and the failure timestamp", () => {
    const next = successStatus(
      status("MonitoringUpdate", { crash_count: 3, state_transition_failure_timestamp: T }),
      "Idle",
      NEW,
      NEW,
    );
    assert.deepEqual(next, { ...status("Idle"), current_version: NEW, target_version: NEW });
  });

  it("successStatus takes the versions given", () => {
    const next = successStatus(status("StagedAndPerformedUpdate"), "RebootedIntoUpdate", NEW, OTHER);
    assert.equal(next.current_version, NEW);
    assert.equal(next.target_version, OTHER);
  });

  it("failureStatus: ErrorReset, one more crash, stamped now", () => {
    const now = new Date("2025-02-03T04:05:06.789Z");
    const next = failureStatus(
      status("StagedAndPerformedUpdate", { crash_count: 1, state_transition_failure_timestamp: T }),
      OLD,
      NEW,
      now,
    );
    assert.deepEqual(next, {
      ...status("ErrorReset"),
      crash_count: 2,
      state_transition_failure_timestamp: "2025-02-03T04:05:06.789Z",
    });
  });

  it("failureStatus carries the failure record when given one", () => {
    const now = new Date("2025-02-03T04:05:06.789Z");
    const failure = failureRecord("RebootedIntoUpdate", "DrainFailed", "drain: HTTP 500", now);
    const next = failureStatus(status("MonitoringUpdate"), OLD, NEW, now, failure);
    assert.deepEqual(next.failure, {
      state: "RebootedIntoUpdate",
      reason: "DrainFailed",
      message: "drain: HTTP 500",
      timestamp: "2025-02-03T04:05:06.789Z",
    });
    assert.equal("failure" in failureStatus(status("Idle"), OLD, NEW, now), false, "absent, not undefined");
  });

  it("failureRecord: trims, cuts long text, never empty", () => {
    const now = new Date(0);
    assert.equal(failureRecord("Idle", "Timeout", "  slow \n", now).message, "slow");
    assert.equal(failureRecord("Idle", "Timeout", "", now).message, "Timeout");
    const long = failureRecord(
      "Idle",
      "HostCommandFailed",
      "x".repeat(FAILURE_MESSAGE_MAX + 50),
      now,
    ).message;
    assert.equal(long.length, FAILURE_MESSAGE_MAX);
    assert.ok(long.endsWith("…"));
  });

  it("stepFailureReason: host commands, the drain, other apiserver calls", () => {
    const table: [Step, string][] = [
      ["refresh", "HostCommandFailed"],
      ["prepare", "HostCommandFailed"],
      ["activate", "HostCommandFailed"],
      ["deactivate", "HostCommandFailed"],
      ["reboot", "HostCommandFailed"],
      ["cordonAndDrain", "DrainFailed"],
      ["excludeFromLb", "ApiserverCallFailed"],
      ["waitBeforeDrain", "ApiserverCallFailed"],
      ["uncordon", "ApiserverCallFailed"],
      ["removeExclusionFromLb", "ApiserverCallFailed"],
    ];
    for (const [step, reason] of table) assert.equal(stepFailureReason(step), reason, step);
  });

  it("successStatus keeps the failure with the crash record and drops it after a completed cycle", () => {
    const failure = failureRecord(
      "StagedAndPerformedUpdate",
      "HostCommandFailed",
      "prepare failed",
      new Date(0),
    );
    const failed = {
      ...status("ErrorReset", { crash_count: 1, state_transition_failure_timestamp: T }),
      failure,
    };
    const idle = successStatus(failed, "Idle", OLD, NEW);
    assert.deepEqual(idle.failure, failure);
    const staged = successStatus(idle, "StagedAndPerformedUpdate", OLD, NEW);
    assert.deepEqual(staged.failure, failure);
    const done = successStatus({ ...staged, current_state: "MonitoringUpdate" }, "Idle", NEW, NEW);
    assert.equal("failure" in done, false);
  });

  it("statusChanged: only a real difference is written", () => {
    assert.equal(statusChanged(undefined, status("Idle")), true);
    assert.equal(statusChanged(status("Idle"), status("Idle")), false);
    assert.equal(statusChanged(status("Idle"), { ...status("Idle") }), false);
    for (const change of [
      { current_version: NEW },
      { target_version: OTHER },
      { current_state: "StagedAndPerformedUpdate" as const },
      { crash_count: 1 },
      { state_transition_failure_timestamp: T },
    ]) {
      assert.equal(statusChanged(status("Idle"), status("Idle", change)), true, JSON.stringify(change));
    }
  });
});

describe("decide: per-state time limits", () => {
  const ASKED = "2025-01-01T00:00:00.000Z";
  const LIMITS = {
    StagedAndPerformedUpdate: 720_000,
    RebootedIntoUpdate: 600_000,
    MonitoringUpdate: 300_000,
  };
  interface LimitRow {
    name: string;
    row: Row;
    /** Seconds since the controller asked. */
    after: number;
    limits?: typeof LIMITS | Record<string, number>;
    asked?: string | null;
    expect: Decision["kind"] | Step;
  }
  const staging: Row = {
    name: "",
    spec: "StagedAndPerformedUpdate",
    status: "Idle",
    host: HOST.available,
    expect: "prepare",
  };
  const draining: Row = {
    name: "",
    spec: "RebootedIntoUpdate",
    status: "StagedAndPerformedUpdate",
    host: HOST.ready,
    expect: "cordonAndDrain",
  };
  const TABLE: LimitRow[] = [
    { name: "within the limit: the step", row: staging, after: 720, expect: "prepare" },
    { name: "past the limit: Timeout instead of the step", row: staging, after: 721, expect: "fail" },
    {
      name: "limit 0: never enforced (upstream)",
      row: staging,
      after: 10_000,
      limits: { StagedAndPerformedUpdate: 0 },
      expect: "prepare",
    },
    {
      name: "no limits configured: never enforced",
      row: staging,
      after: 10_000,
      limits: {},
      expect: "prepare",
    },
    {
      name: "no spec timestamp: nothing to measure from",
      row: staging,
      after: 10_000,
      asked: null,
      expect: "prepare",
    },
    {
      name: "unparseable spec timestamp: not enforced",
      row: staging,
      after: 10_000,
      asked: "yesterday",
      expect: "prepare",
    },
    { name: "reboot past its limit before the drain", row: draining, after: 601, expect: "fail" },
    {
      name: "already there: reported, however late",
      row: { ...staging, host: HOST.ready, expect: "report" },
      after: 10_000,
      expect: "report",
    },
    {
      name: "rebooted late into the update: the uncordon still runs (undo steps are never cut short)",
      row: { ...draining, host: HOST.onNew, node: CORDONED, expect: "uncordon" },
      after: 10_000,
      expect: "uncordon",
    },
    {
      name: "MonitoringUpdate late: only undo work, never a Timeout",
      row: {
        name: "",
        spec: "MonitoringUpdate",
        status: "RebootedIntoUpdate",
        host: HOST.onNew,
        node: CORDONED,
        expect: "uncordon",
      },
      after: 10_000,
      expect: "uncordon",
    },
    {
      name: "ErrorReset waiting for the controller: waits, no second failure",
      row: {
        name: "",
        spec: "StagedAndPerformedUpdate",
        status: "ErrorReset",
        host: HOST.available,
        expect: "wait",
      },
      after: 10_000,
      expect: "wait",
    },
    {
      name: "Idle is never limited (the way back)",
      row: {
        name: "",
        spec: "Idle",
        status: "ErrorReset",
        host: HOST.idle,
        node: CORDONED,
        expect: "uncordon",
      },
      after: 10_000,
      limits: { Idle: 1 },
      expect: "uncordon",
    },
  ];
  for (const t of TABLE) {
    it(t.name, () => {
      const base = input(t.row);
      const asked = t.asked === undefined ? ASKED : t.asked;
      const d = decide({
        ...base,
        spec: { ...base.spec, state_transition_timestamp: asked },
        now: new Date(Date.parse(ASKED) + t.after * 1000),
        timeLimitsMs: t.limits ?? LIMITS,
      });
      assert.equal(label(d), t.expect, JSON.stringify(d));
    });
  }

  it("the Timeout names the state, the limit and how long ago it was asked", () => {
    const base = input(staging);
    const d = decide({
      ...base,
      spec: { ...base.spec, state_transition_timestamp: ASKED },
      now: new Date(Date.parse(ASKED) + 800_000),
      timeLimitsMs: LIMITS,
    });
    assert.deepEqual(d, {
      kind: "fail",
      failure: "Timeout",
      reason:
        "StagedAndPerformedUpdate not reached within its time limit of 720s (asked at 2025-01-01T00:00:00.000Z, 800s ago)",
    });
  });
});

describe("decide: health gate after the reboot (MonitoringUpdate)", () => {
  const ASKED = "2025-01-01T00:00:00.000Z";
  const at = (s: number) => new Date(Date.parse(ASKED) + s * 1000).toISOString();
  const LIMITS = { MonitoringUpdate: 300_000 };
  interface GateRow {
    name: string;
    ready: NodeFacts["ready"] | "no-node";
    /** Seconds since the controller asked for MonitoringUpdate. */
    after: number;
    soak?: number;
    cordoned?: boolean;
    expect: Decision["kind"] | Step;
    failure?: string;
    reason?: RegExp;
  }
  const TABLE: GateRow[] = [
    {
      name: "soak 0: upstream, reported at once",
      ready: { ready: false, since: null },
      after: 1,
      soak: 0,
      expect: "report",
    },
    {
      name: "Ready for the whole soak: healthy",
      ready: { ready: true, since: at(-60) },
      after: 10,
      expect: "report",
    },
    {
      name: "Ready exactly the soak: healthy",
      ready: { ready: true, since: at(0) },
      after: 30,
      expect: "report",
    },
    {
      name: "Ready, not long enough: wait",
      ready: { ready: true, since: at(0) },
      after: 10,
      expect: "wait",
      reason: /Ready for 10s of the 30s soak/,
    },
    {
      // Kubernetes' second-precision time: Ready at 00:00:00.6 reads "00:00:00Z"; the soak counts from
      // the end of that second (the demo's 1 s soak passed a pod Ready 0.4 s).
      name: "a second-precision transition time: the soak counts from the end of its second",
      ready: { ready: true, since: "2025-01-01T00:00:00Z" },
      after: 30,
      expect: "wait",
      reason: /Ready for 29s of the 30s soak/,
    },
    {
      name: "a second-precision transition time, a second later: healthy",
      ready: { ready: true, since: "2025-01-01T00:00:00Z" },
      after: 31,
      expect: "report",
    },
    {
      name: "NotReady: wait",
      ready: { ready: false, since: at(0) },
      after: 60,
      expect: "wait",
      reason: /not Ready/,
    },
    { name: "Ready condition unknown: wait", ready: undefined, after: 60, expect: "wait", reason: /unknown/ },
    { name: "Node not in the cache: wait", ready: "no-node", after: 60, expect: "wait", reason: /unknown/ },
    {
      name: "Ready with no transition time: healthy",
      ready: { ready: true, since: null },
      after: 1,
      expect: "report",
    },
    {
      name: "NotReady past the MonitoringUpdate limit: Unhealthy",
      ready: { ready: false, since: at(0) },
      after: 301,
      expect: "fail",
      failure: "Unhealthy",
      reason: /not Ready .*time limit of 300s/,
    },
    {
      name: "healthy, however late: reported",
      ready: { ready: true, since: at(0) },
      after: 1_000,
      expect: "report",
    },
    {
      name: "the uncordon comes first (the soak runs with workloads back)",
      ready: { ready: false, since: at(0) },
      after: 1,
      cordoned: true,
      expect: "uncordon",
    },
  ];
  for (const t of TABLE) {
    it(t.name, () => {
      const node: NodeFacts | undefined =
        t.ready === "no-node"
          ? undefined
          : {
              cordonedByBrupop: t.cordoned ?? false,
              excludedFromLb: false,
              ...(t.ready === undefined ? {} : { ready: t.ready }),
            };
      const d = decide({
        spec: { state: "MonitoringUpdate", version: NEW, state_transition_timestamp: ASKED },
        status: status("RebootedIntoUpdate", { current_version: NEW }),
        host: HOST.onNew,
        node,
        // The agent always asks the apiserver to uncordon once (a no-op when brupop had not cordoned).
        done: new Set<Step>(t.cordoned === true ? [] : ["uncordon"]),
        manageLbExclusion: false,
        now: new Date(Date.parse(ASKED) + t.after * 1000),
        timeLimitsMs: LIMITS,
        healthSoakMs: (t.soak ?? 30) * 1000,
      });
      assert.equal(label(d), t.expect, JSON.stringify(d));
      if (t.failure !== undefined) assert.equal(d.kind === "fail" ? d.failure : undefined, t.failure);
      if (t.reason !== undefined) assert.match("reason" in d ? d.reason : "", t.reason);
    });
  }
});

describe("decide: health gate, pods and the user's probe", () => {
  const ASKED = "2025-01-01T00:00:00.000Z";
  const at = (s: number) => new Date(Date.parse(ASKED) + s * 1000).toISOString();
  const READY_NODE: NodeFacts = {
    cordonedByBrupop: false,
    excludedFromLb: false,
    ready: { ready: true, since: at(-600) },
  };
  const ds = (name: string, ready: boolean, since: string | null = at(-600)): PodHealth => ({
    name: `kube-system/${name}`,
    kind: "DaemonSet",
    ready,
    since,
  });
  interface Row {
    name: string;
    health: HealthFacts;
    after?: number;
    soak?: number;
    expect: Decision["kind"];
    reason?: RegExp;
  }
  const TABLE: Row[] = [
    { name: "no pods checked, no probe: as before", health: {}, expect: "report" },
    {
      name: "every DaemonSet pod Ready for the soak: healthy",
      health: { pods: { ok: true, items: [ds("cni-a", true), ds("proxy-a", true)] } },
      expect: "report",
    },
    {
      name: "a DaemonSet pod not Ready: wait, naming it",
      health: { pods: { ok: true, items: [ds("cni-a", false), ds("proxy-a", true)] } },
      expect: "wait",
      reason: /health gate: not Ready: DaemonSet pod kube-system\/cni-a$/,
    },
    {
      name: "a DaemonSet pod not Ready past the limit: Unhealthy, naming it and the limit",
      health: { pods: { ok: true, items: [ds("cni-a", false)] } },
      after: 301,
      expect: "fail",
      reason:
        /not Ready: DaemonSet pod kube-system\/cni-a; MonitoringUpdate not reached within its time limit of 300s/,
    },
    {
      name: "a pod Ready for less than the soak: wait",
      health: { pods: { ok: true, items: [ds("cni-a", true, at(0))] } },
      after: 10,
      expect: "wait",
      reason: /Ready for less than the 30s soak: DaemonSet pod kube-system\/cni-a \(10s\)/,
    },
    {
      name: "a pod's second-precision Ready time: held from the end of its second",
      health: { pods: { ok: true, items: [ds("cni-a", true, "2025-01-01T00:00:00Z")] } },
      after: 30,
      expect: "wait",
      reason: /Ready for less than the 30s soak: DaemonSet pod kube-system\/cni-a \(29s\)/,
    },
    {
      name: "soak 0: a pod Ready just now is enough",
      health: { pods: { ok: true, items: [ds("cni-a", true, at(0))] } },
      after: 1,
      soak: 0,
      expect: "report",
    },
    {
      name: "soak 0: a pod not Ready still holds the gate",
      health: { pods: { ok: true, items: [ds("cni-a", false)] } },
      soak: 0,
      expect: "wait",
    },
    {
      name: "many pods: three named, then a count",
      health: {
        pods: { ok: true, items: ["a", "b", "c", "d", "e"].map((n) => ds(n, false)) },
      },
      expect: "wait",
      reason: /kube-system\/c and 2 more$/,
    },
    {
      name: "a selected pod not Ready",
      health: {
        pods: { ok: true, items: [{ name: "db/pg-0", kind: "selected", ready: false, since: null }] },
      },
      expect: "wait",
      reason: /not Ready: pod db\/pg-0/,
    },
    {
      name: "pods that cannot be listed: not healthy (said why)",
      health: { pods: { ok: false, error: "403 Forbidden" } },
      after: 400,
      expect: "fail",
      reason: /cannot list the pods on the node: 403 Forbidden/,
    },
    {
      name: "the probe healthy",
      health: { probe: { url: "http://x/healthz", healthy: true, detail: "200" } },
      expect: "report",
    },
    {
      name: "the probe unhealthy: wait, then Unhealthy",
      health: { probe: { url: "http://x/healthz", healthy: false, detail: "answered 503" } },
      after: 301,
      expect: "fail",
      reason: /health probe http:\/\/x\/healthz: answered 503/,
    },
  ];
  for (const t of TABLE) {
    it(t.name, () => {
      const d = decide({
        spec: { state: "MonitoringUpdate", version: NEW, state_transition_timestamp: ASKED },
        status: status("RebootedIntoUpdate", { current_version: NEW }),
        host: HOST.onNew,
        node: READY_NODE,
        done: new Set<Step>(["uncordon"]),
        manageLbExclusion: false,
        now: new Date(Date.parse(ASKED) + (t.after ?? 60) * 1000),
        timeLimitsMs: { MonitoringUpdate: 300_000 },
        healthSoakMs: (t.soak ?? 30) * 1000,
        health: t.health,
      });
      assert.equal(d.kind, t.expect, JSON.stringify(d));
      if (d.kind === "fail") assert.equal(d.failure, "Unhealthy");
      if (t.reason !== undefined) assert.match("reason" in d ? d.reason : "", t.reason);
    });
  }
});

describe("decide: quarantine after a failure on the new version (issue 25)", () => {
  const ASKED = "2025-01-01T00:00:00.000Z";
  const FAILED_AT = "2025-01-01T00:05:01.000Z";
  const LATE = new Date(Date.parse(ASKED) + 301_000);
  const BRUPOP_CORDON: NodeFacts = { cordonedByBrupop: true, excludedFromLb: false };
  const NOT_READY: NodeFacts = { ...CLEAN, ready: { ready: false, since: ASKED } };
  const failure = {
    state: "MonitoringUpdate" as const,
    reason: "Unhealthy",
    message: "x",
    timestamp: FAILED_AT,
  };

  interface FailRow {
    name: string;
    spec: ShadowState;
    host: HostFacts;
    node: NodeFacts | undefined;
    quarantine: boolean;
    done?: Step[];
    expect: Decision["kind"] | Step;
    failure?: string;
  }
  const FAILING: FailRow[] = [
    {
      name: "health gate failed, quarantine on: cordon first",
      spec: "MonitoringUpdate",
      host: HOST.onNew,
      node: NOT_READY,
      quarantine: true,
      expect: "cordon",
    },
    {
      name: "… then the failure is reported",
      spec: "MonitoringUpdate",
      host: HOST.onNew,
      node: NOT_READY,
      quarantine: true,
      done: ["uncordon", "cordon"],
      expect: "fail",
      failure: "Unhealthy",
    },
    {
      name: "… with the Node already showing that cordon: not undone, the failure is reported",
      spec: "MonitoringUpdate",
      host: HOST.onNew,
      node: { ...NOT_READY, cordonedByBrupop: true },
      quarantine: true,
      done: ["cordon"],
      expect: "fail",
      failure: "Unhealthy",
    },
    {
      name: "health gate failed, node already cordoned by brupop: no second cordon",
      spec: "MonitoringUpdate",
      host: HOST.onNew,
      node: { ...NOT_READY, cordonedByBrupop: true },
      quarantine: true,
      done: ["uncordon"],
      expect: "fail",
      failure: "Unhealthy",
    },
    {
      name: "health gate failed, Node not in the cache: cordon, to be sure",
      spec: "MonitoringUpdate",
      host: HOST.onNew,
      node: undefined,
      quarantine: true,
      expect: "cordon",
    },
    {
      name: "health gate failed, quarantine off (upstream): fail, left uncordoned",
      spec: "MonitoringUpdate",
      host: HOST.onNew,
      node: NOT_READY,
      quarantine: false,
      expect: "fail",
      failure: "Unhealthy",
    },
    {
      name: "a time limit before the reboot (old version): no quarantine",
      spec: "StagedAndPerformedUpdate",
      host: HOST.available,
      node: CLEAN,
      quarantine: true,
      expect: "fail",
      failure: "Timeout",
    },
    {
      name: "the host not ready to reboot (old version): no quarantine",
      spec: "RebootedIntoUpdate",
      host: HOST.rolledBack,
      node: CLEAN,
      quarantine: true,
      expect: "fail",
      failure: undefined,
    },
  ];
  const PREVIOUS: Partial<Record<ShadowState, ShadowState>> = {
    StagedAndPerformedUpdate: "Idle",
    RebootedIntoUpdate: "StagedAndPerformedUpdate",
    MonitoringUpdate: "RebootedIntoUpdate",
  };
  for (const t of FAILING) {
    it(t.name, () => {
      const d = decide({
        spec: { state: t.spec, version: NEW, state_transition_timestamp: ASKED },
        status: status(PREVIOUS[t.spec] ?? "Idle", { current_version: t.host.version }),
        host: t.host,
        node: t.node,
        done: new Set<Step>(t.done ?? ["uncordon"]),
        manageLbExclusion: false,
        now: LATE,
        timeLimitsMs: { StagedAndPerformedUpdate: 300_000, MonitoringUpdate: 300_000 },
        healthSoakMs: 30_000,
        quarantine: t.quarantine,
      });
      assert.equal(label(d), t.expect, JSON.stringify(d));
      if (d.kind === "fail") assert.equal(d.failure, t.failure);
    });
  }

  interface AfterRow {
    name: string;
    status: ShadowStatus;
    quarantine: boolean;
    accepted?: string;
    node?: NodeFacts;
    expect: Decision["kind"] | Step;
  }
  const failedOnNew = (state: ShadowState, extra: Partial<ShadowStatus> = {}): ShadowStatus =>
    status(state, { current_version: NEW, target_version: NEW, crash_count: 1, failure, ...extra });
  const AFTER: AfterRow[] = [
    {
      name: "ErrorReset → Idle, quarantined: stays cordoned",
      status: failedOnNew("ErrorReset"),
      quarantine: true,
      expect: "report",
    },
    {
      name: "ErrorReset → Idle, quarantine off: uncordoned (upstream)",
      status: failedOnNew("ErrorReset"),
      quarantine: false,
      expect: "uncordon",
    },
    {
      name: "ErrorReset → Idle, the failure accepted: uncordoned",
      status: failedOnNew("ErrorReset"),
      quarantine: true,
      accepted: FAILED_AT,
      expect: "uncordon",
    },
    {
      name: "ErrorReset → Idle, an older failure accepted: stays cordoned",
      status: failedOnNew("ErrorReset"),
      quarantine: true,
      accepted: "2024-12-31T00:00:00.000Z",
      expect: "report",
    },
    {
      name: "Idle reached, quarantined: the cordon is not cleaned up",
      status: failedOnNew("Idle"),
      quarantine: true,
      expect: "report",
    },
    {
      name: "Idle reached, the failure accepted later: uncordoned",
      status: failedOnNew("Idle"),
      quarantine: true,
      accepted: ` ${FAILED_AT}\n`,
      expect: "uncordon",
    },
    {
      name: "Idle reached, a later update completed (failure cleared): uncordoned",
      status: status("Idle", { current_version: NEW, target_version: NEW }),
      quarantine: true,
      expect: "uncordon",
    },
    {
      name: "Idle reached, a newer version offered (no longer failed on the target): uncordoned",
      status: failedOnNew("Idle", { target_version: OTHER }),
      quarantine: true,
      expect: "uncordon",
    },
    {
      name: "a failure before the reboot (host on the old version): uncordoned as always",
      status: failedOnNew("ErrorReset", {
        current_version: OLD,
        failure: { ...failure, state: "RebootedIntoUpdate", reason: "DrainFailed" },
      }),
      quarantine: true,
      expect: "uncordon",
    },
    {
      name: "quarantined and not cordoned (cordon failed or lifted by hand): nothing to do",
      status: failedOnNew("Idle"),
      quarantine: true,
      node: CLEAN,
      expect: "report",
    },
  ];
  for (const t of AFTER) {
    it(t.name, () => {
      const d = decide({
        spec: { state: "Idle", version: NEW, state_transition_timestamp: ASKED },
        status: t.status,
        host: { version: t.status.current_version, update: null },
        node: t.node ?? BRUPOP_CORDON,
        done: new Set<Step>(),
        manageLbExclusion: false,
        now: LATE,
        quarantine: t.quarantine,
        acceptedFailure: t.accepted,
      });
      assert.equal(label(d), t.expect, JSON.stringify(d));
    });
  }

  it("a later update's MonitoringUpdate uncordons as usual (the gated pods must land)", () => {
    const d = decide({
      spec: { state: "MonitoringUpdate", version: OTHER, state_transition_timestamp: ASKED },
      status: status("RebootedIntoUpdate", { current_version: OTHER, target_version: OTHER, failure }),
      host: { version: OTHER, update: null },
      node: BRUPOP_CORDON,
      done: new Set<Step>(),
      manageLbExclusion: false,
      quarantine: true,
    });
    assert.equal(label(d), "uncordon");
  });

  it("the cordon step is an apiserver call", () => {
    assert.equal(stepFailureReason("cordon"), "ApiserverCallFailed");
  });
});
