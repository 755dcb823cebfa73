import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BottlerocketShadow } from "../../model/shadow.js";
import type { ShadowState } from "../../model/state.js";
import { ControllerMetrics, fleetSnapshot } from "./metrics.js";
import { brs } from "../../../test/kit/shadows.js";

const NOW = new Date("2026-01-10T12:00:00.000Z");

function shadow(name: string, state?: ShadowState, version = "1.19.0"): BottlerocketShadow {
  return brs(name, {
    name,
    resourceVersion: undefined,
    noStatus: state === undefined,
    ...(state !== undefined && { state }),
    cur: version,
  });
}

/** `name{labels} value` lines of one metric family, as a map. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || !line.startsWith(name)) continue;
    const m = /^(\S+?)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m?.[1] === name) out.set(m[2] ?? "", Number(m[3]));
  }
  return out;
}

describe("fleet metrics", () => {
  const fleet = [
    shadow("brs-a", "Idle", "1.20.0"),
    shadow("brs-b", "Idle", "1.20.0"),
    shadow("brs-c", "RebootedIntoUpdate", "1.19.0"),
    shadow("brs-d", "ErrorReset", "1.19.0"),
    shadow("brs-e"), // no status yet
  ];

  it("snapshots hosts per state and per version", () => {
    const snap = fleetSnapshot(fleet, NOW);
    assert.deepEqual(snap.states, {
      Idle: 2,
      StagedAndPerformedUpdate: 0,
      RebootedIntoUpdate: 1,
      MonitoringUpdate: 0,
      ErrorReset: 1,
    });
    assert.deepEqual([...snap.versions].sort(), [
      ["1.19.0", 2],
      ["1.20.0", 2],
    ]);
    assert.equal(snap.withoutStatus, 1);
  });

  it("counts nodes per outcome: failed on the new version is not up to date (issue 25)", async () => {
    const failedOnNew = shadow("brs-f", "Idle", "1.20.0");
    if (failedOnNew.status !== undefined)
      failedOnNew.status.failure = {
        state: "MonitoringUpdate",
        reason: "Unhealthy",
        message: "not Ready",
        timestamp: NOW.toISOString(),
      };
    const snap = fleetSnapshot([...fleet, shadow("brs-w", "Idle", "1.19.0"), failedOnNew], NOW);
    assert.deepEqual(snap.outcomes, {
      unreported: 1,
      "up-to-date": 2,
      updating: 1,
      waiting: 1,
      "failed-before-reboot": 1,
      "failed-on-new-version": 1,
    });
    const m = new ControllerMetrics();
    m.setFleet(snap);
    const outcomes = samples(await m.text(), "brupop_hosts_outcome");
    assert.equal(outcomes.get('{outcome="failed-on-new-version"}'), 1);
    assert.equal(outcomes.get('{outcome="up-to-date"}'), 2);
  });

  it("exports upstream's gauges from a snapshot and keeps versions that vanished at 0", async () => {
    const m = new ControllerMetrics();
    m.setFleet(fleetSnapshot(fleet, NOW));
    let text = await m.text();
    const states = samples(text, "brupop_hosts_state");
    assert.equal(states.get('{state="Idle"}'), 2);
    assert.equal(states.get('{state="RebootedIntoUpdate"}'), 1);
    assert.equal(states.get('{state="ErrorReset"}'), 1);
    assert.equal(states.get('{state="MonitoringUpdate"}'), 0);
    assert.equal(states.size, 5);
    assert.deepEqual(
      samples(text, "brupop_hosts_version"),
      new Map([
        ['{bottlerocket_version="1.20.0"}', 2],
        ['{bottlerocket_version="1.19.0"}', 2],
      ]),
    );
    m.setFleet(fleetSnapshot([shadow("brs-a", "Idle", "1.20.0")], NOW));
    text = await m.text();
    assert.deepEqual(
      samples(text, "brupop_hosts_version"),
      new Map([
        ['{bottlerocket_version="1.20.0"}', 1],
        ['{bottlerocket_version="1.19.0"}', 0],
      ]),
      "1.19.0 left the fleet: its series stays, at 0",
    );
    m.setFleet(fleetSnapshot([shadow("brs-a", "Idle", "1.19.0")], NOW));
    assert.deepEqual(
      samples(await m.text(), "brupop_hosts_version"),
      new Map([
        ['{bottlerocket_version="1.20.0"}', 0],
        ['{bottlerocket_version="1.19.0"}', 1],
      ]),
    );
    m.setFleet(null);
    text = await m.text();
    assert.equal(samples(text, "brupop_hosts_state").size, 0, "a standby exports no fleet gauges");
    assert.equal(samples(text, "brupop_hosts_version").size, 0);
  });

  it("counts updates and leadership; registries are private per instance", async () => {
    const a = new ControllerMetrics();
    const b = new ControllerMetrics();
    a.updateStarted();
    a.updateStarted();
    a.updateSucceeded();
    a.updateFailed();
    a.specWrite("conflict");
    a.setLeader(true);
    const ta = await a.text();
    const tb = await b.text();
    assert.equal(samples(ta, "brupop_updates_started_total").get(""), 2);
    assert.equal(samples(ta, "brupop_updates_succeeded_total").get(""), 1);
    assert.equal(samples(ta, "brupop_updates_failed_total").get(""), 1);
    assert.equal(samples(ta, "brupop_controller_spec_writes_total").get('{outcome="conflict"}'), 1);
    assert.equal(samples(ta, "brupop_controller_is_leader").get(""), 1);
    assert.equal(samples(tb, "brupop_updates_started_total").get(""), 0);
    assert.equal(samples(tb, "brupop_controller_is_leader").get(""), 0);
  });
});
