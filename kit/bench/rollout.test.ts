import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decisionLatencies,
  percentile,
  rolloutOverhead,
  rolloutTimeline,
  summarize,
  type ShadowSample,
} from "./rollout.js";

const V = "1.20.0";
function s(t: number, name: string, spec: string, status: string, current = "1.19.0"): ShadowSample {
  return {
    t,
    name,
    type: "update",
    spec: { state: spec, version: spec === "Idle" ? null : V },
    status: { current_state: status, current_version: current, target_version: V },
  };
}

describe("rollout analysis", () => {
  it("measures status reached → next spec for progress states only", () => {
    const samples = [
      s(0, "a", "Idle", "Idle"), // a candidate: starting it is not a progress decision
      s(100, "a", "StagedAndPerformedUpdate", "Idle"),
      s(900, "a", "StagedAndPerformedUpdate", "StagedAndPerformedUpdate"),
      s(950, "b", "StagedAndPerformedUpdate", "StagedAndPerformedUpdate"),
      s(1_000, "a", "StagedAndPerformedUpdate", "StagedAndPerformedUpdate"), // same state again: first counts
      s(1_400, "a", "RebootedIntoUpdate", "StagedAndPerformedUpdate"),
      s(2_000, "a", "RebootedIntoUpdate", "RebootedIntoUpdate", V),
      s(2_250, "a", "MonitoringUpdate", "RebootedIntoUpdate", V),
      s(2_300, "a", "MonitoringUpdate", "MonitoringUpdate", V),
      s(2_400, "a", "Idle", "MonitoringUpdate", V),
      s(2_500, "a", "Idle", "Idle", V),
    ];
    const lat = decisionLatencies(samples);
    assert.deepEqual(
      lat.map((l) => [l.name, l.state, l.latencyMs]),
      [
        ["a", "StagedAndPerformedUpdate", 500],
        ["a", "RebootedIntoUpdate", 250],
        ["a", "MonitoringUpdate", 100],
      ],
    );
  });

  it("finds each node's milestones, the peak in flight and the end", () => {
    const samples = [
      s(10, "a", "Idle", "Idle"),
      s(20, "b", "Idle", "Idle"),
      s(30, "a", "StagedAndPerformedUpdate", "Idle"),
      s(40, "b", "StagedAndPerformedUpdate", "Idle"),
      s(50, "a", "Idle", "Idle", V),
      s(60, "c", "StagedAndPerformedUpdate", "Idle"),
      s(70, "b", "Idle", "Idle", V),
    ];
    const tl = rolloutTimeline(samples, V, ["a", "b", "c"]);
    assert.deepEqual(tl.nodes.get("a"), { offeredMs: 10, startedMs: 30, doneMs: 50 });
    assert.equal(tl.maxActive, 2);
    assert.equal(tl.allDoneMs, undefined, "c never finished");
    assert.equal(rolloutTimeline(samples, V, ["a", "b"]).allDoneMs, 70);
  });

  it("computes the overhead against both ideals", () => {
    const o = rolloutOverhead({
      nodes: 1_000,
      maxConcurrent: 50,
      wallMs: 55_000,
      firstStartMs: 1_000,
      singleCycleMs: 4_000,
      singleUpdateMs: 2_500,
      meanUpdateMs: 2_700,
    });
    assert.equal(o.waves, 20);
    assert.equal(o.idealMs, 80_000);
    assert.equal(o.strictIdealMs, 51_000);
    assert.equal(o.strictRatio, 1.078);
    assert.equal(o.loadedIdealMs, 55_000);
    assert.equal(o.schedulingRatio, 1);
    assert.equal(
      rolloutOverhead({
        nodes: 10,
        maxConcurrent: null,
        wallMs: 1,
        firstStartMs: 0,
        singleCycleMs: 1,
        singleUpdateMs: 1,
        meanUpdateMs: 1,
      }).waves,
      1,
    );
  });

  it("summarizes with nearest-rank percentiles", () => {
    assert.equal(percentile([], 99), 0);
    const v = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.equal(
      percentile(
        [...v].sort((a, b) => a - b),
        99,
      ),
      99,
    );
    assert.deepEqual(summarize(v), { count: 100, mean: 51, p50: 50, p90: 90, p99: 99, max: 100 });
  });
});
