import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeTimers, ManualClock } from "../clock.js";
import { isBrupopError } from "../errors.js";
import { silentLogger } from "../log.js";
import {
  LeaderElector,
  toMicroTime,
  validateTimings,
  type LeaderElectionOptions,
  type LeadershipTerm,
  type LeaseObject,
  type LeaseStore,
} from "./leader-election.js";

/** An in-memory Lease with resourceVersion checks; can be made to hang or fail. */
class FakeLeaseStore implements LeaseStore {
  lease: LeaseObject | null = null;
  #rv = 0;
  mode: "ok" | "hang" | "fail" = "ok";
  calls = 0;

  async #gate(signal?: AbortSignal): Promise<void> {
    this.calls++;
    await Promise.resolve();
    if (this.mode === "fail") throw new Error("injected failure");
    if (this.mode === "hang") {
      await new Promise<void>((_, reject) => {
        signal?.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
      });
    }
  }

  #stamp(lease: LeaseObject): LeaseObject {
    this.#rv++;
    this.lease = structuredClone({
      ...lease,
      metadata: { ...lease.metadata, resourceVersion: String(this.#rv) },
    });
    return structuredClone(this.lease);
  }

  async get(signal?: AbortSignal): Promise<LeaseObject | null> {
    await this.#gate(signal);
    return this.lease === null ? null : structuredClone(this.lease);
  }

  async create(lease: LeaseObject, signal?: AbortSignal): Promise<LeaseObject | null> {
    await this.#gate(signal);
    if (this.lease !== null) return null;
    return this.#stamp(lease);
  }

  async update(lease: LeaseObject, signal?: AbortSignal): Promise<LeaseObject | null> {
    await this.#gate(signal);
    if (this.lease === null || lease.metadata.resourceVersion !== this.lease.metadata.resourceVersion)
      return null;
    return this.#stamp(lease);
  }

  /** Someone else writes the Lease (e.g. an operator forcing a holder). */
  force(spec: LeaseObject["spec"]): void {
    this.#stamp({ metadata: this.lease?.metadata ?? {}, spec });
  }
}

interface Harness {
  elector: LeaderElector;
  events: string[];
  terms: LeadershipTerm[];
}

function makeElector(
  store: LeaseStore,
  identity: string,
  clock: ManualClock | undefined,
  extra: Partial<LeaderElectionOptions> = {},
): Harness {
  const events: string[] = [];
  const terms: LeadershipTerm[] = [];
  const elector = new LeaderElector({
    store,
    identity,
    logger: silentLogger(),
    ...(clock && { clock, monotonicMs: () => clock.now().getTime() }),
    onStartedLeading: (t) => {
      terms.push(t);
      events.push("started");
    },
    onStoppedLeading: () => events.push("stopped"),
    ...extra,
  });
  return { elector, events, terms };
}

describe("LeaderElector state machine (fake lease store, manual clock)", () => {
  it("creates an absent lease and leads", async () => {
    const store = new FakeLeaseStore();
    const clock = new ManualClock("2024-05-01T00:00:00Z");
    const a = makeElector(store, "a", clock);
    assert.equal(await a.elector.attempt(), "acquired");
    assert.equal(a.elector.isLeader(), true);
    assert.deepEqual(a.events, ["started"]);
    assert.equal(store.lease?.spec?.holderIdentity, "a");
    assert.equal(store.lease?.spec?.leaseDurationSeconds, 15);
    assert.equal(store.lease?.spec?.leaseTransitions, 0);
    assert.equal(store.lease?.spec?.renewTime, "2024-05-01T00:00:00.000000Z");
    await a.elector.stop();
  });

  it("does not take a lease another replica renews, and takes it once it is not renewed for leaseDuration", async () => {
    const store = new FakeLeaseStore();
    const clock = new ManualClock("2024-05-01T00:00:00Z");
    const a = makeElector(store, "a", clock);
    const b = makeElector(store, "b", clock);
    assert.equal(await a.elector.attempt(), "acquired");
    assert.equal(await b.elector.attempt(), "held-by-other");
    assert.equal(b.elector.observedLeader, "a");
    // A keeps renewing: B's observation restarts with each new record, so 20 s in total is not enough.
    for (let i = 0; i < 10; i++) {
      clock.advance(2_000);
      assert.equal(await a.elector.attempt(), "acquired");
      assert.equal(await b.elector.attempt(), "held-by-other");
    }
    // A goes silent. B needs leaseDuration (15 s) since it last saw the record change.
    clock.advance(14_000);
    assert.equal(await b.elector.attempt(), "held-by-other");
    assert.equal(b.elector.isLeader(), false);
    clock.advance(1_001);
    assert.equal(await b.elector.attempt(), "acquired");
    assert.equal(b.elector.isLeader(), true);
    assert.equal(store.lease?.spec?.holderIdentity, "b");
    assert.equal(store.lease?.spec?.leaseTransitions, 1);
    // A has long passed its renew deadline (10 s): it no longer claims leadership.
    assert.equal(a.elector.isLeader(), false);
    assert.equal(await a.elector.attempt(), "held-by-other");
    assert.deepEqual(a.events, ["started", "stopped"]);
    assert.equal(a.terms[0]?.isActive(), false);
    assert.equal(a.terms[0]?.signal.aborted, true);
    await Promise.all([a.elector.stop(), b.elector.stop()]);
  });

  it("lets exactly one of two racing candidates win (optimistic concurrency)", async () => {
    for (const initial of ["absent", "free"] as const) {
      const store = new FakeLeaseStore();
      if (initial === "free") store.force({ holderIdentity: null, leaseDurationSeconds: 1 });
      const clock = new ManualClock("2024-05-01T00:00:00Z");
      const a = makeElector(store, "a", clock);
      const b = makeElector(store, "b", clock);
      const outcomes = await Promise.all([a.elector.attempt(), b.elector.attempt()]);
      assert.deepEqual([...outcomes].sort(), ["acquired", "conflict"], initial);
      assert.equal([a, b].filter((h) => h.elector.isLeader()).length, 1);
      await Promise.all([a.elector.stop({ release: false }), b.elector.stop({ release: false })]);
    }
  });

  it("stops leading at once when another holder shows up", async () => {
    const store = new FakeLeaseStore();
    const clock = new ManualClock("2024-05-01T00:00:00Z");
    const a = makeElector(store, "a", clock);
    await a.elector.attempt();
    store.force({
      holderIdentity: "intruder",
      leaseDurationSeconds: 15,
      renewTime: toMicroTime(clock.now()),
    });
    assert.equal(await a.elector.attempt(), "held-by-other");
    assert.equal(a.elector.isLeader(), false);
    assert.deepEqual(a.events, ["started", "stopped"]);
    await a.elector.stop();
    assert.equal(store.lease?.spec?.holderIdentity, "intruder", "release never touches someone else's lease");
  });

  it("failed renewals keep leadership only until the renew deadline", async () => {
    const store = new FakeLeaseStore();
    const clock = new ManualClock("2024-05-01T00:00:00Z");
    const a = makeElector(store, "a", clock);
    await a.elector.attempt();
    store.mode = "fail";
    clock.advance(9_000);
    assert.equal(await a.elector.attempt(), "error");
    assert.equal(a.elector.isLeader(), true);
    clock.advance(1_000);
    assert.equal(a.elector.isLeader(), false, "deadline passed: no longer leader even before any callback");
    assert.equal(await a.elector.attempt(), "error");
    assert.deepEqual(a.events, ["started", "stopped"]);
    await a.elector.stop();
  });

  it("a clean stop releases the lease so a standby takes over without waiting", async () => {
    const store = new FakeLeaseStore();
    const clock = new ManualClock("2024-05-01T00:00:00Z");
    const a = makeElector(store, "a", clock);
    const b = makeElector(store, "b", clock);
    await a.elector.attempt();
    assert.equal(await b.elector.attempt(), "held-by-other");
    await a.elector.stop();
    assert.equal(store.lease?.spec?.holderIdentity, null);
    assert.equal(await b.elector.attempt(), "acquired");
    assert.equal(store.lease?.spec?.leaseTransitions, 1);
    await b.elector.stop({ release: false });
    assert.equal(store.lease?.spec?.holderIdentity, "b", "a crash-like stop leaves the lease held");
  });

  it("rejects unsafe timings", () => {
    const bad: [number, number, number][] = [
      [10_000, 10_000, 2_000],
      [15_000, 2_000, 2_000],
      [15_500, 10_000, 2_000],
      [15_000, 10_000, 0],
    ];
    for (const t of bad)
      assert.throws(
        () => validateTimings(...t),
        (e) => isBrupopError(e, "BRUPOP_E_CONFIG"),
      );
    validateTimings(15_000, 10_000, 2_000);
  });
});

describe("LeaderElector loop (fake timers, short durations)", () => {
  const timings = { leaseDurationMs: 1_000, renewDeadlineMs: 600, retryPeriodMs: 100 };
  /** The wall clock moves with the fake timers (a renewal must change the Lease's renewTime). */
  const wallOf = (timers: FakeTimers) => ({ now: () => new Date(Date.UTC(2024, 4, 1) + timers.nowMs()) });

  it("acquires, renews, and on a hung API stops leading by the renew deadline, before the lease expires", async () => {
    const store = new FakeLeaseStore();
    const timers = new FakeTimers();
    let stoppedAt = -1;
    const a = makeElector(store, "a", undefined, {
      ...timings,
      timers,
      clock: wallOf(timers),
      onStoppedLeading: () => (stoppedAt = timers.nowMs()),
    });
    a.elector.start();
    await timers.advance(0);
    assert.equal(a.elector.isLeader(), true);
    await timers.advance(350);
    // Created at 0, renewed at 100, 200 and 300 (a GET and a write each).
    assert.equal(store.calls, 8, "renewed every retry period");
    const lastRenewSent = 300;
    store.mode = "hang";
    const term = a.terms[0];
    await timers.advance(2_000);
    assert.ok(stoppedAt >= 0, "stopped leading");
    // Deadline is 600 ms after the last successful renewal was SENT; the lease expires at 1 000 ms.
    assert.equal(stoppedAt - lastRenewSent, 600);
    assert.equal(term?.signal.aborted, true);
    assert.equal(term.isActive(), false);
    await a.elector.stop({ release: false });
    assert.equal(timers.pending, 0, "stop() leaves no timer");
  });

  it("a standby takes over after the leader crashes (no release), within leaseDuration + a retry period", async () => {
    const store = new FakeLeaseStore();
    const timers = new FakeTimers();
    const a = makeElector(store, "a", undefined, { ...timings, timers, clock: wallOf(timers) });
    const b = makeElector(store, "b", undefined, { ...timings, timers, clock: wallOf(timers) });
    a.elector.start();
    await timers.advance(0);
    assert.equal(a.elector.isLeader(), true);
    b.elector.start();
    await timers.advance(300);
    assert.equal(b.elector.isLeader(), false);
    const crashAt = timers.nowMs();
    await a.elector.stop({ release: false });
    let took = -1;
    for (let i = 0; i < 300 && took < 0; i++) {
      await timers.advance(10);
      if (b.elector.isLeader()) took = timers.nowMs() - crashAt;
    }
    assert.equal(b.elector.isLeader(), true);
    // B last saw the record change at its first attempt after A's last renewal (< 1 period + jitter
    // after the crash), and then waits leaseDuration, plus up to one (jittered) retry period.
    assert.ok(took >= 1_000 && took <= 1_000 + 2 * 120 + 10, `takeover after ${took} ms`);
    await b.elector.stop();
    assert.equal(store.lease?.spec?.holderIdentity, null);
  });
});
