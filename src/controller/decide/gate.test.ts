import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ShadowState } from "../../model/state.js";
import {
  evaluateGate,
  fleetDemand,
  roundStateFromData,
  roundStateToData,
  triggerGate,
  type FleetDemand,
  type RoundState,
} from "./gate.js";
import { parseSchedule } from "./schedule.js";
import { brs } from "../../../test/kit/shadows.js";

const T0 = new Date("2024-05-01T00:00:00Z");
const daily3 = parseSchedule("0 0 3 * * * *", T0); // trigger: every day at 03:00:00 UTC
const window3 = parseSchedule("* * 3 * * * *", T0); // window: 03:00:00-03:59:59 UTC

const busy: FleetDemand = { waiting: 2, active: 1 };
const waitingOnly: FleetDemand = { waiting: 1, active: 0 };
const activeOnly: FleetDemand = { waiting: 0, active: 1 };
const done: FleetDemand = { waiting: 0, active: 0 };

const at = (iso: string) => new Date(iso);
const round = (lastFire: string | null, open: boolean): RoundState => ({ lastFire, open });

describe("trigger rounds", () => {
  const cases: {
    name: string;
    persisted: RoundState | null;
    now: string;
    demand: FleetDemand;
    want: RoundState;
    allowed: boolean;
    changed: boolean;
    events: string[];
  }[] = [
    {
      name: "first start acknowledges the last fire time without opening a round",
      persisted: null,
      now: "2024-05-01T10:00:00Z",
      demand: busy,
      want: round("2024-05-01T03:00:00.000Z", false),
      allowed: false,
      changed: true,
      events: ["initialised"],
    },
    {
      name: "before the next fire time nothing starts",
      persisted: round("2024-05-01T03:00:00.000Z", false),
      now: "2024-05-02T02:59:59Z",
      demand: busy,
      want: round("2024-05-01T03:00:00.000Z", false),
      allowed: false,
      changed: false,
      events: [],
    },
    {
      name: "a fire time opens a round",
      persisted: round("2024-05-01T03:00:00.000Z", false),
      now: "2024-05-02T03:00:00Z",
      demand: busy,
      want: round("2024-05-02T03:00:00.000Z", true),
      allowed: true,
      changed: true,
      events: ["opened"],
    },
    {
      name: "an open round stays open after the fire second while nodes wait",
      persisted: round("2024-05-02T03:00:00.000Z", true),
      now: "2024-05-02T05:00:00Z",
      demand: waitingOnly,
      want: round("2024-05-02T03:00:00.000Z", true),
      allowed: true,
      changed: false,
      events: [],
    },
    {
      name: "an open round stays open while nodes are active",
      persisted: round("2024-05-02T03:00:00.000Z", true),
      now: "2024-05-02T05:00:00Z",
      demand: activeOnly,
      want: round("2024-05-02T03:00:00.000Z", true),
      allowed: true,
      changed: false,
      events: [],
    },
    {
      name: "a round closes once nothing waits and nothing is active",
      persisted: round("2024-05-02T03:00:00.000Z", true),
      now: "2024-05-02T05:00:00Z",
      demand: done,
      want: round("2024-05-02T03:00:00.000Z", false),
      allowed: false,
      changed: true,
      events: ["closed"],
    },
    {
      name: "a round opened with nothing to do closes at once",
      persisted: round("2024-05-01T03:00:00.000Z", false),
      now: "2024-05-02T03:00:01Z",
      demand: done,
      want: round("2024-05-02T03:00:00.000Z", false),
      allowed: false,
      changed: true,
      events: ["opened", "closed"],
    },
    {
      name: "a fire time missed while the controller was down opens a round on restart",
      persisted: round("2024-05-01T03:00:00.000Z", false),
      now: "2024-05-02T09:00:00Z",
      demand: waitingOnly,
      want: round("2024-05-02T03:00:00.000Z", true),
      allowed: true,
      changed: true,
      events: ["opened"],
    },
    {
      name: "a restart in the middle of a round keeps it open (crash-only)",
      persisted: round("2024-05-02T03:00:00.000Z", true),
      now: "2024-05-02T03:20:00Z",
      demand: busy,
      want: round("2024-05-02T03:00:00.000Z", true),
      allowed: true,
      changed: false,
      events: [],
    },
    {
      name: "a closed round is not reopened by the same fire time",
      persisted: round("2024-05-02T03:00:00.000Z", false),
      now: "2024-05-02T03:30:00Z",
      demand: busy,
      want: round("2024-05-02T03:00:00.000Z", false),
      allowed: false,
      changed: false,
      events: [],
    },
    {
      name: "a new fire time while a round is still open moves it on",
      persisted: round("2024-05-01T03:00:00.000Z", true),
      now: "2024-05-02T03:00:00Z",
      demand: busy,
      want: round("2024-05-02T03:00:00.000Z", true),
      allowed: true,
      changed: true,
      events: ["opened"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = triggerGate(daily3, c.persisted, at(c.now), c.demand);
      assert.deepEqual(d.round, c.want);
      assert.equal(d.updatesAllowed, c.allowed);
      assert.equal(d.changed, c.changed);
      assert.deepEqual(d.events, c.events);
      assert.equal(d.kind, "trigger");
      if (c.allowed) assert.equal(d.opensAt, null);
      else assert.ok(d.opensAt !== null && d.opensAt.getTime() > at(c.now).getTime());
    });
  }

  it("reports the next fire time while closed", () => {
    const d = triggerGate(daily3, round("2024-05-01T03:00:00.000Z", false), at("2024-05-01T10:00:00Z"), busy);
    assert.equal(d.opensAt?.toISOString(), "2024-05-02T03:00:00.000Z");
  });
});

describe("window gate", () => {
  it("allows updates only inside the window and says when it opens", () => {
    const inside = evaluateGate(window3, null, at("2024-05-01T03:30:00Z"), busy);
    assert.equal(inside.updatesAllowed, true);
    assert.equal(inside.opensAt, null);
    assert.equal(inside.round, null);
    assert.equal(inside.changed, false);
    const outside = evaluateGate(window3, null, at("2024-05-01T04:00:00Z"), busy);
    assert.equal(outside.updatesAllowed, false);
    assert.equal(outside.opensAt?.toISOString(), "2024-05-02T03:00:00.000Z");
  });
});

function shadow(
  spec: ShadowState,
  status?: { state: ShadowState; cur: string; tgt: string; failedAt?: string },
) {
  return brs("x", {
    spec,
    version: null,
    resourceVersion: undefined,
    noStatus: status === undefined,
    ...(status !== undefined && {
      state: status.state,
      cur: status.cur,
      tgt: status.tgt,
      crashes: status.failedAt === undefined ? 0 : 3,
      failedAt: status.failedAt ?? null,
    }),
  });
}

describe("fleetDemand", () => {
  it("counts waiting (including back-off) and active nodes", () => {
    const d = fleetDemand([
      shadow("Idle"), // no status: neither
      shadow("Idle", { state: "Idle", cur: "1.0.0", tgt: "1.0.0" }), // up to date
      shadow("Idle", { state: "Idle", cur: "1.0.0", tgt: "1.1.0" }), // waiting
      shadow("Idle", { state: "Idle", cur: "1.0.0", tgt: "1.1.0", failedAt: new Date().toISOString() }), // back-off
      shadow("StagedAndPerformedUpdate", { state: "Idle", cur: "1.0.0", tgt: "1.1.0" }), // active
      shadow("Idle", { state: "ErrorReset", cur: "1.0.0", tgt: "1.1.0" }), // active (recovering)
    ]);
    assert.deepEqual(d, { waiting: 2, active: 2 });
  });
});

describe("round state encoding", () => {
  it("round-trips and rejects garbage", () => {
    for (const s of [round(null, false), round("2024-05-02T03:00:00.000Z", true)]) {
      assert.deepEqual(roundStateFromData(roundStateToData(s, "0 0 3 * * * *")), s);
    }
    assert.equal(roundStateFromData(undefined), null);
    assert.equal(roundStateFromData({}), null);
    assert.equal(roundStateFromData({ "trigger-round-open": "yes", "trigger-last-fire": "" }), null);
    assert.equal(roundStateFromData({ "trigger-round-open": "true", "trigger-last-fire": "nope" }), null);
  });
});
