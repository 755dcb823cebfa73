import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../clock.js";
import { UpdateCheckThrottle } from "./update-check.js";

describe("UpdateCheckThrottle", () => {
  it("is due at first, then at most once per interval", () => {
    const clock = new ManualClock("2025-01-01T00:00:00Z");
    const throttle = new UpdateCheckThrottle(120_000, clock);
    assert.equal(throttle.due(), true, "never checked");
    throttle.record();
    assert.equal(throttle.due(), false);
    clock.advance(119_999);
    assert.equal(throttle.due(), false, "1 ms early");
    clock.advance(1);
    assert.equal(throttle.due(), true, "a whole interval later");
    throttle.record();
    clock.advance(60_000);
    assert.equal(throttle.due(), false, "the interval restarts at each check");
  });

  it("a clock stepping back does not make it due early", () => {
    const clock = new ManualClock("2025-01-01T00:10:00Z");
    const throttle = new UpdateCheckThrottle(120_000, clock);
    throttle.record();
    clock.advance(-30_000);
    assert.equal(throttle.due(), false);
  });
});
