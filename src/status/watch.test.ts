import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildFleetStatus } from "./core.js";
import { asked, input, node, NOW, shadow, upToDate } from "./test-fixtures.js";
import { CLEAR_SCREEN, FrameWriter } from "./watch.js";

const later = (s: number) => new Date(NOW.getTime() + s * 1000);
const snapshot = (shadows = [shadow("a")], now = NOW) =>
  buildFleetStatus({ ...input(shadows, [node("a")]), now });

describe("FrameWriter (what --watch writes)", () => {
  it("pipe / JSON: a document only when the facts change", () => {
    const out: string[] = [];
    const w = new FrameWriter("json", false, (t) => out.push(t));
    assert.equal(w.push(snapshot(), NOW), true);
    assert.equal(w.push(snapshot(undefined, later(30)), later(30)), false); // only time moved
    assert.equal(w.push(snapshot([upToDate("a")]), later(31)), true);
    assert.equal(out.length, 2);
    for (const line of out) assert.equal(line.split("\n").length, 2); // one line each
  });

  it("pipe / table: frames separated by a blank line, no escape codes", () => {
    const out: string[] = [];
    const w = new FrameWriter("table", false, (t) => out.push(t));
    w.push(snapshot(), NOW);
    w.push(snapshot([asked("a", "StagedAndPerformedUpdate", 1, "Idle")]), NOW);
    assert.equal(out.length, 2);
    assert.ok(out[0]?.startsWith("NODE"));
    assert.ok(out[1]?.startsWith("\nNODE"));
    assert.ok(!out.join("").includes("\x1b"));
  });

  it("terminal / table: redrawn in place whenever the text changes (relative times tick)", () => {
    const out: string[] = [];
    const w = new FrameWriter("table", true, (t) => out.push(t));
    const backoff = [
      shadow("a", {}, { crash_count: 3, state_transition_failure_timestamp: NOW.toISOString() }),
    ];
    w.push(snapshot(backoff), NOW);
    assert.equal(w.push(snapshot(backoff, NOW), NOW), false); // identical text
    assert.equal(w.push(snapshot(backoff, later(60)), later(60)), true); // "in 8m" → "in 7m"
    assert.equal(out.length, 2);
    for (const frame of out) assert.ok(frame.startsWith(CLEAR_SCREEN));
  });
});
