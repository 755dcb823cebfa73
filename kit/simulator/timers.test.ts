import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { ManualTimers } from "./timers.js";

describe("ManualTimers", () => {
  it("fires due timers in order, each at its own time, and honours cancel", () => {
    const clock = new ManualClock(0);
    const timers = new ManualTimers(clock);
    const fired: string[] = [];
    timers.set(30, () => fired.push(`b@${clock.now().getTime()}`));
    timers.set(10, () => {
      fired.push(`a@${clock.now().getTime()}`);
      timers.set(5, () => fired.push(`a2@${clock.now().getTime()}`)); // scheduled while firing
    });
    const cancel = timers.set(20, () => fired.push("cancelled"));
    cancel();
    timers.set(100, () => fired.push("later"));
    timers.advance(50);
    assert.deepEqual(fired, ["a@10", "a2@15", "b@30"]);
    assert.equal(clock.now().getTime(), 50);
    assert.equal(timers.pending, 1);
  });
});
