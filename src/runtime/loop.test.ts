import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeTimers } from "../clock.js";
import { backoffDelay, forEachBounded, jitter, sleep, Wakeup } from "./loop.js";

/** Tracks whether a promise has settled, without awaiting it. */
function track(p: Promise<void>): { done: boolean } {
  const state = { done: false };
  void p.then(() => (state.done = true));
  return state;
}

describe("Wakeup (fake timers)", () => {
  it("sleeps for its period, then returns", async () => {
    const timers = new FakeTimers();
    const w = new Wakeup(timers);
    const s = track(w.sleep(1_000));
    await timers.advance(999);
    assert.equal(s.done, false);
    await timers.advance(1);
    assert.equal(s.done, true);
    assert.equal(timers.pending, 0);
  });

  it("returns early when woken, and cancels its timer", async () => {
    const timers = new FakeTimers();
    const w = new Wakeup(timers);
    const s = track(w.sleep(60_000));
    await timers.advance(10);
    w.wake();
    await timers.advance(0);
    assert.equal(s.done, true);
    assert.equal(timers.pending, 0);
  });

  it("remembers a wake that arrived while busy: the next sleep returns at once", async () => {
    const timers = new FakeTimers();
    const w = new Wakeup(timers);
    w.wake();
    const s = track(w.sleep(60_000));
    await timers.advance(0);
    assert.equal(s.done, true);
    // Consumed: the following sleep waits again.
    const s2 = track(w.sleep(60_000));
    await timers.advance(59_999);
    assert.equal(s2.done, false);
    await timers.advance(1);
    assert.equal(s2.done, true);
  });

  it("discard() forgets a pending wake", async () => {
    const timers = new FakeTimers();
    const w = new Wakeup(timers);
    w.wake();
    w.discard();
    const s = track(w.sleep(100));
    await timers.advance(50);
    assert.equal(s.done, false);
    await timers.advance(50);
    assert.equal(s.done, true);
  });

  it("wakeIn keeps the earliest due wake (a burst of events coalesces into one)", async () => {
    const timers = new FakeTimers();
    const w = new Wakeup(timers);
    w.wakeIn(100);
    w.wakeIn(100);
    w.wakeIn(500);
    assert.equal(timers.pending, 1);
    const s = track(w.sleep(2_000)); // the period does not push back the sooner wake
    await timers.advance(99);
    assert.equal(s.done, false);
    await timers.advance(1);
    assert.equal(s.done, true);
    // A sooner request replaces a later one.
    w.wakeIn(1_000);
    w.wakeIn(10);
    assert.equal(timers.pending, 1);
    const s2 = track(w.sleep());
    await timers.advance(10);
    assert.equal(s2.done, true);
  });

  it("stop() ends the current sleep and every later one, and leaves no timer", async () => {
    const timers = new FakeTimers();
    const w = new Wakeup(timers);
    const s = track(w.sleep(60_000));
    w.stop();
    await timers.advance(0);
    assert.equal(s.done, true);
    assert.equal(w.stopped, true);
    w.wakeIn(10);
    assert.equal(timers.pending, 0);
    const s2 = track(w.sleep(60_000));
    await timers.advance(0);
    assert.equal(s2.done, true);
  });

  it("drives a loop: period ticks, early ticks on wake, no tick after stop", async () => {
    const timers = new FakeTimers();
    const w = new Wakeup(timers);
    const ticks: number[] = [];
    const loop = (async () => {
      while (!w.stopped) {
        ticks.push(timers.nowMs());
        await w.sleep(1_000);
      }
    })();
    await timers.advance(2_500);
    assert.deepEqual(ticks, [0, 1_000, 2_000]);
    w.wakeIn(100);
    await timers.advance(100);
    assert.deepEqual(ticks, [0, 1_000, 2_000, 2_600]);
    w.stop();
    await loop;
    await timers.advance(10_000);
    assert.equal(ticks.length, 4);
  });
});

describe("backoffDelay / jitter", () => {
  it("doubles from initialMs up to maxMs, jittered within the upper half", () => {
    const opts = { initialMs: 500, maxMs: 30_000 };
    assert.equal(backoffDelay(1, { ...opts, random: () => 0 }), 250);
    assert.equal(backoffDelay(1, { ...opts, random: () => 0.999999 }), 500);
    assert.equal(backoffDelay(3, { ...opts, random: () => 0 }), 1_000);
    assert.equal(backoffDelay(10, { ...opts, random: () => 0 }), 15_000);
    assert.equal(backoffDelay(1_000, { ...opts, random: () => 0.999999 }), 30_000);
    for (let f = 1; f < 40; f++) {
      const d = backoffDelay(f, opts);
      assert.ok(d >= 250 && d <= 30_000, `failure ${f}: ${d}`);
    }
  });

  it("jitter stretches by up to the factor", () => {
    assert.equal(
      jitter(2_000, 0.2, () => 0),
      2_000,
    );
    assert.equal(
      jitter(2_000, 0.2, () => 0.5),
      2_200,
    );
  });
});

describe("sleep", () => {
  it("resolves after ms, or at once when the signal aborts (never rejects)", async () => {
    const timers = new FakeTimers();
    const s = track(sleep(1_000, undefined, timers));
    await timers.advance(1_000);
    assert.equal(s.done, true);
    const abort = new AbortController();
    const s2 = track(sleep(1_000, abort.signal, timers));
    abort.abort();
    await timers.advance(0);
    assert.equal(s2.done, true);
    assert.equal(timers.pending, 0);
    await sleep(5, AbortSignal.abort(), timers);
  });
});

describe("forEachBounded", () => {
  it("visits every item once with never more than `limit` calls in flight", async () => {
    const seen: number[] = [];
    let inFlight = 0;
    let peak = 0;
    await forEachBounded([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setImmediate(r));
      seen.push(n);
      inFlight -= 1;
    });
    assert.deepEqual([...seen].sort(), [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(peak, 3);
  });
  it("does nothing for no items", async () => {
    let calls = 0;
    await forEachBounded([], 4, () => Promise.resolve(void calls++));
    assert.equal(calls, 0);
  });
});
