import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import type { CommandResult } from "../../src/bottlerocket/types.js";
import { FailureLog } from "./failures.js";

const failed = (timestamp: string): CommandResult => ({
  cmd_type: "prepare",
  cmd_status: "Failed",
  timestamp,
  exit_status: 1,
  stderr: "demo: injected prepare failure\n",
});
const refreshed = (timestamp: string): CommandResult => ({
  cmd_type: "refresh",
  cmd_status: "Success",
  timestamp,
  exit_status: 0,
  stderr: "",
});

describe("FailureLog", () => {
  it("counts each failed command once, per node, with its text", () => {
    const log = new FailureLog();
    const last = new Map<string, CommandResult | null>([
      ["n0", failed("t1")],
      ["n1", refreshed("t1")],
      ["n2", null],
    ]);
    const read = (n: string) => last.get(n) ?? null;
    log.look(read, ["n0", "n1", "n2"]);
    log.look(read, ["n0", "n1", "n2"]);
    assert.deepEqual(log.takeFresh(), [
      { node: "n0", failure: { command: "prepare", text: "demo: injected prepare failure" } },
    ]);
    assert.deepEqual(log.takeFresh(), []);
    last.set("n0", failed("t2"));
    log.look(read, ["n0"]);
    assert.equal(log.byNode.get("n0")?.length, 2);
    assert.deepEqual([...log.latest().keys()], ["n0"]);
  });

  // Issue 32: `--fail-host` on 8 nodes ended with an empty NOTE column. The failed prepare shows in
  // the host's most recent command only until its next refresh; a frame (a fleet snapshot) can
  // take longer than that, so looking once per frame missed it. The watch looks on its own timer.
  it("watch() sees a failure that shows only briefly, between two slow frames", async () => {
    const log = new FailureLog();
    let current: CommandResult | null = refreshed("t0");
    const stop = log.watch(() => current, ["demo-node-2"], 10);
    try {
      await sleep(30);
      current = failed("t1"); // the failure…
      await sleep(60);
      current = refreshed("t2"); // …overwritten by the next refresh before the next frame
      await sleep(30);
    } finally {
      stop();
    }
    // The next frame looks now: the failure is gone from the host, but was recorded.
    log.look(() => current, ["demo-node-2"]);
    assert.deepEqual(log.byNode.get("demo-node-2"), [
      { command: "prepare", text: "demo: injected prepare failure" },
    ]);
  });
});
