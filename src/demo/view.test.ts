import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BottlerocketShadow } from "../model/shadow.js";
import {
  diffLines,
  formatElapsed,
  isDone,
  progressBar,
  renderScreen,
  renderSummary,
  rowsFrom,
  type NodeRow,
} from "./view.js";

function shadow(
  node: string,
  spec: string,
  status: string | null,
  version = "1.19.0",
  crash = 0,
): BottlerocketShadow {
  return {
    apiVersion: "brupop.bottlerocket.aws/v2",
    kind: "BottlerocketShadow",
    metadata: { name: `brs-${node}` },
    spec: { state: spec as "Idle", state_transition_timestamp: null, version: null },
    ...(status === null
      ? {}
      : {
          status: {
            current_state: status as "Idle",
            current_version: version,
            target_version: "1.20.0",
            crash_count: crash,
            state_transition_failure_timestamp: null,
          },
        }),
  };
}

describe("demo view", () => {
  const rows = rowsFrom(
    [
      shadow("node-10", "Idle", "Idle", "1.20.0"),
      shadow("node-2", "RebootedIntoUpdate", "StagedAndPerformedUpdate", "1.19.0", 1),
      shadow("node-1", "Idle", null),
    ],
    [{ name: "node-2", unschedulable: true }],
  );

  it("builds rows sorted by node name (numeric aware), with cordon facts", () => {
    assert.deepEqual(
      rows.map((r) => [r.node, r.currentState, r.cordoned]),
      [
        ["node-1", "(no status)", false],
        ["node-2", "StagedAndPerformedUpdate", true],
        ["node-10", "Idle", false],
      ],
    );
  });

  it("counts a node done only when it is Idle on the goal version", () => {
    assert.deepEqual(
      rows.map((r) => isDone(r, "1.20.0")),
      [false, false, true],
    );
  });

  it("renders the screen with states, versions, progress and events", () => {
    const screen = renderScreen(
      { elapsedMs: 65_000, rows, goalVersion: "1.20.0", events: ["node-2 StartUpdate"] },
      "brupop demo",
    );
    assert.match(screen, /^brupop demo {3}elapsed 01:05$/m);
    assert.match(screen, /^NODE +STATE +VERSION +CRASHES +CORDONED$/m);
    assert.match(
      screen,
      /^node-2 +StagedAndPerformedUpdate → RebootedIntoUpdate +1\.19\.0 → 1\.20\.0 +1 +yes$/m,
    );
    assert.match(screen, /^node-10 +Idle +1\.20\.0 +0$/m);
    assert.match(screen, /\[#{10}-{20}\] 1\/3 nodes on the new version/);
    assert.match(screen, /^ {2}node-2 StartUpdate$/m);
  });

  it("emits plain lines only for nodes that changed", () => {
    const next: NodeRow[] = rows.map((r) =>
      r.node === "node-2" ? { ...r, currentState: "RebootedIntoUpdate" } : r,
    );
    assert.deepEqual(diffLines(rows, next, 3000), [
      "00:03 node-2: RebootedIntoUpdate, 1.19.0 → 1.20.0, 1 failed attempt(s) (cordoned)",
    ]);
    assert.equal(diffLines([], rows, 0).length, 3);
    const failed: NodeRow[] = next.map((r) => (r.node === "node-2" ? { ...r, crashCount: 2 } : r));
    assert.deepEqual(diffLines(next, failed, 4000), [
      "00:04 node-2: RebootedIntoUpdate, 1.19.0 → 1.20.0, 2 failed attempt(s) (cordoned)",
    ]);
  });

  it("formats progress and elapsed time", () => {
    assert.equal(progressBar(0, 0, 4), "[####] 0/0 nodes on the new version");
    assert.equal(formatElapsed(3_599_000), "59:59");
  });

  it("summarises per-node timings", () => {
    const s = renderSummary(
      42_000,
      [
        { node: "node-1", startedMs: 1000, finishedMs: 11_500 },
        { node: "node-2", startedMs: null, finishedMs: null },
      ],
      "1.20.0",
    );
    assert.match(s, /^All 2 nodes run 1\.20\.0\. Total time 42\.0 s\.$/m);
    assert.match(s, /^node-1 +00:01 +00:11 +10\.5 s$/m);
  });
});
