import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseHistory, snapshotAt, windowAround, type HistoryEvent } from "./history.js";
import { describeViolation } from "./report.js";

const h: HistoryEvent[] = [
  { t: 1_000, kind: "phase", phase: "rollout" },
  { t: 2_000, kind: "lease", holder: "r0" },
  { t: 3_000, kind: "reboot", node: "n0", from: "1.19.0", to: "1.20.0", rollback: false },
  { t: 9_000, kind: "lease", holder: "r1" },
];

describe("history", () => {
  it("parses JSON lines, sorted by time (stable), and refuses entries without t or kind", () => {
    const text = [h[3], h[0], h[2], h[1]].map((e) => JSON.stringify(e)).join("\n") + "\n\n";
    assert.deepEqual(parseHistory(text), h);
    assert.throws(() => parseHistory('{"kind":"lease"}'), /line 1/);
  });

  it("a snapshot holds the latest state at an instant", () => {
    assert.equal(snapshotAt(h, 5_000).lease, "r0");
    assert.equal(snapshotAt(h, 9_000).lease, "r1");
    assert.equal(snapshotAt(h, 500).lease, null);
  });

  it("the window around a violation, printed with the seed, invariant and replay command", () => {
    assert.deepEqual(windowAround(h, 3_000, 1_500, 0), [h[1], h[2]]);
    const text = describeViolation(
      { seed: 42, nodes: 6 },
      { invariant: 3, t: 3_000, node: "n0", message: "n0 rebooted while schedulable (not cordoned)" },
      h,
    );
    assert.match(text, /^VIOLATION seed 42: invariant 3 \(each node reboots/);
    assert.match(text, /at 2\.000 s: n0 rebooted while schedulable/);
    assert.match(text, /npm run chaos -- --seed 42 --schedules 1 --nodes 6/);
    assert.match(text, /reboot\s+\{"node":"n0"/);
    assert.doesNotMatch(text, /"r1"/, "outside the window");
  });
});
