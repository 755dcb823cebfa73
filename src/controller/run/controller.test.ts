// The Controller runtime against an in-memory fake of the few API endpoints it uses, for what the
// real-cluster e2e cannot force deterministically: a cache lagging behind the controller's own
// writes, leadership lost while a write is in flight, invalid objects. (Behaviour against a real API
// server is covered by test/e2e/controller.test.ts.)
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeTimers, ManualClock } from "../../clock.js";
import type { LeaseObject, LeaseStore } from "../../k8s/leader-election.js";
import type { RequestOptions, RestResponse } from "../../k8s/api.js";
import { silentLogger } from "../../log.js";
import { UPDATER_INTERFACE_LABEL } from "../../model/constants.js";
import { Controller, type ControllerConfig } from "./controller.js";
import { MemoryRoundStore } from "../act/round-store.js";
import { FakeKube, type Obj } from "../../../test/kit/fake-kube.js";
import { parseSchedule } from "../decide/schedule.js";
import { brs } from "../../../test/kit/shadows.js";
import type { ShadowState } from "../../model/state.js";

const NS = "ns";
const NOW = new Date("2024-05-01T12:00:00Z");

/** A Lease store that grants the lease and can then be made to hang (API unreachable). */
class ControllableLeaseStore implements LeaseStore {
  lease: LeaseObject | null = null;
  #rv = 0;
  hang = false;
  async #gate(signal?: AbortSignal): Promise<void> {
    await Promise.resolve();
    if (this.hang) {
      await new Promise<void>((_, reject) =>
        signal?.addEventListener("abort", () => reject(new Error("aborted")), { once: true }),
      );
    }
  }
  async get(signal?: AbortSignal): Promise<LeaseObject | null> {
    await this.#gate(signal);
    return this.lease === null ? null : structuredClone(this.lease);
  }
  async create(lease: LeaseObject, signal?: AbortSignal): Promise<LeaseObject | null> {
    await this.#gate(signal);
    if (this.lease !== null) return null;
    this.lease = { ...structuredClone(lease), metadata: { resourceVersion: String(++this.#rv) } };
    return structuredClone(this.lease);
  }
  async update(lease: LeaseObject, signal?: AbortSignal): Promise<LeaseObject | null> {
    await this.#gate(signal);
    if (lease.metadata.resourceVersion !== this.lease?.metadata.resourceVersion) return null;
    this.lease = { ...structuredClone(lease), metadata: { resourceVersion: String(++this.#rv) } };
    return structuredClone(this.lease);
  }
}

function node(name: string, labelled = true): Obj {
  return { metadata: { name, labels: labelled ? { [UPDATER_INTERFACE_LABEL]: "2.0.0" } : {} } };
}

function shadow(
  name: string,
  o: { spec?: ShadowState; state?: ShadowState; cur?: string; tgt?: string } = {},
): Obj {
  const version = o.spec ? (o.tgt ?? "1.20.0") : null;
  const { metadata, spec, status } = brs(name, { ...o, version, namespace: NS, resourceVersion: undefined });
  return { metadata: { ...metadata, name: `brs-${name}` }, spec: { ...spec }, status: { ...status } };
}

/** The controller's loops (tick period, leader election, back-off) run on fake timers the test moves. */
function makeController(
  kube: FakeKube,
  config: Partial<ControllerConfig> = {},
  leaseStore?: LeaseStore,
  timers = new FakeTimers(),
) {
  return new Controller(
    {
      namespace: NS,
      maxConcurrent: 1,
      schedule: parseSchedule("* * * * * * *", NOW),
      autoTick: false, // the test drives every tick
      http: null,
      leaderElection: null,
      ...config,
    },
    {
      rest: kube,
      logger: silentLogger(),
      clock: new ManualClock(NOW),
      timers,
      roundStore: new MemoryRoundStore(),
      ...(leaseStore && { leaseStore }),
    },
  );
}

/** Moves the fake time until the controller leads (the elector retries every 100 ms). */
async function leadership(c: Controller, timers: FakeTimers): Promise<void> {
  for (let i = 0; i < 100 && !c.isLeader; i++) await timers.advance(50);
  assert.equal(c.isLeader, true);
}

const specState = (kube: FakeKube, name: string) => kube.shadows.get(`brs-${name}`)?.spec?.["state"];

describe("Controller runtime (in-memory API)", () => {
  it("never exceeds the limit when its cache lags behind its own writes", async () => {
    const kube = new FakeKube();
    for (const n of ["a", "b"]) kube.put("node", node(n));
    kube.put("shadow", shadow("a", { cur: "1.20.0" })); // up to date
    kube.put("shadow", shadow("b"));
    // b's watch events are held back: the cache will not see the controller's own write to b.
    kube.hold = (o) => o.metadata.name === "brs-b";
    const c = makeController(kube);
    await c.start();
    await c.waitForSync();
    const first = await c.tickOnce();
    assert.deepEqual(
      first.changes.map((ch) => [ch.name, ch.reason]),
      [["brs-b", "start"]],
    );
    assert.equal(first.written, 1);
    assert.equal(specState(kube, "b"), "StagedAndPerformedUpdate");

    // Now a (which ranks before b by name) is offered a newer version. Deciding on the cache alone,
    // b looks idle and a would start too: two active nodes with a limit of 1.
    kube.put("shadow", shadow("a", { tgt: "1.21.0" }));
    const second = await c.tickOnce();
    assert.equal(specState(kube, "a"), "Idle", "a must wait for the slot b holds");
    assert.deepEqual(second.waitingForSlot, ["brs-a"]);
    assert.equal(c.explain().find((e) => e.shadow === "brs-a")?.reason.kind, "concurrency-full");

    kube.put("shadow", {
      ...shadow("b", { spec: "StagedAndPerformedUpdate", state: "StagedAndPerformedUpdate" }),
      spec: kube.shadows.get("brs-b")?.spec,
    });
    kube.release();
    const third = await c.tickOnce();
    assert.deepEqual(
      third.changes.map((ch) => [ch.name, ch.to.state]),
      [["brs-b", "RebootedIntoUpdate"]],
    );
    await c.stop();
  });

  it("a new leader reads the API before deciding (its cache may miss the old leader's last write)", async () => {
    const kube = new FakeKube();
    for (const n of ["a", "b"]) kube.put("node", node(n));
    kube.put("shadow", shadow("a"));
    kube.put("shadow", shadow("b"));
    const store = new ControllableLeaseStore();
    store.hang = true; // the API does not grant the lease yet: a standby
    const timers = new FakeTimers();
    const c = makeController(
      kube,
      {
        leaderElection: { identity: "me", leaseDurationMs: 1_000, renewDeadlineMs: 600, retryPeriodMs: 100 },
      },
      store,
      timers,
    );
    await c.start();
    await c.waitForSync();
    // The previous leader started b just before it died; this replica's cache has not seen it.
    kube.hold = (o) => o.metadata.name === "brs-b";
    kube.put("shadow", {
      ...shadow("b"),
      spec: {
        state: "StagedAndPerformedUpdate",
        state_transition_timestamp: NOW.toISOString(),
        version: "1.20.0",
      },
    });
    store.hang = false;
    await leadership(c, timers);
    const report = await c.tickOnce();
    assert.equal(specState(kube, "a"), "Idle", "a waits: b holds the only slot");
    assert.deepEqual(report.waitingForSlot, ["brs-a"]);
    await c.stop({ releaseLease: false });
  });

  it("refuses stale decisions (409) and leaves the object alone", async () => {
    const kube = new FakeKube();
    kube.put("node", node("a"));
    kube.put("shadow", shadow("a", { cur: "1.20.0", tgt: "1.20.0" }));
    const c = makeController(kube);
    await c.start();
    await c.waitForSync();
    // The first tick of a term reads the shadows from the API (the fence); the cache serves the rest.
    assert.equal((await c.tickOnce()).changes.length, 0);
    kube.put("shadow", shadow("a", { tgt: "1.21.0" })); // the cache sees this one
    kube.hold = () => true;
    kube.put("shadow", shadow("a", { tgt: "1.22.0" })); // ...but not this one
    const stale = await c.tickOnce();
    assert.equal(stale.conflicts, 1);
    assert.equal(specState(kube, "a"), "Idle");
    kube.release();
    await c.tickOnce();
    assert.equal(kube.shadows.get("brs-a")?.spec?.["version"], "1.22.0");
    await c.stop();
  });

  it("skips invalid shadows, keeps deciding for the rest, and cleans up unlabelled nodes' shadows", async () => {
    const kube = new FakeKube();
    for (const n of ["a", "bad", "gone"]) kube.put("node", node(n, n !== "gone"));
    kube.put("shadow", shadow("a"));
    kube.put("shadow", { ...shadow("bad"), spec: { state: "Exploded" } });
    kube.put("shadow", shadow("gone"));
    const c = makeController(kube, { maxConcurrent: "unlimited" });
    await c.start();
    await c.waitForSync();
    const report = await c.tickOnce();
    assert.deepEqual(report.invalid, ["brs-bad"]);
    assert.deepEqual(report.deleted, ["brs-gone"]);
    assert.deepEqual(
      report.changes.map((ch) => ch.name),
      ["brs-a"],
    );
    assert.equal(kube.shadows.has("brs-gone"), false);
    assert.equal(kube.shadows.has("brs-bad"), true);
    assert.match(await c.metrics.text(), /brupop_controller_invalid_shadows 1/);
    await c.stop();
    assert.deepEqual(kube.events, [{ reason: "StartUpdate", name: "brs-a" }]);
  });

  it("records a step once, on the Node (kubectl describe node) when the shadow names its Node owner", async () => {
    const kube = new FakeKube();
    kube.put("node", node("a"));
    const owned = shadow("a");
    Object.assign(owned.metadata, {
      ownerReferences: [{ apiVersion: "v1", kind: "Node", name: "a", uid: "u-a" }],
    });
    kube.put("shadow", owned);
    const c = makeController(kube);
    await c.start();
    await c.waitForSync();
    await c.tickOnce();
    await c.stop();
    assert.deepEqual(kube.events, [{ reason: "StartUpdate", name: "a" }]);
  });

  it("drops a write in flight when leadership is lost, and writes nothing while not leading", async () => {
    const kube = new FakeKube();
    kube.put("node", node("a"));
    kube.put("shadow", shadow("a"));
    const store = new ControllableLeaseStore();
    const timers = new FakeTimers();
    const c = makeController(
      kube,
      {
        leaderElection: { identity: "me", leaseDurationMs: 1_000, renewDeadlineMs: 600, retryPeriodMs: 100 },
      },
      store,
      timers,
    );
    let openGate: () => void = () => undefined;
    kube.gate = new Promise((r) => (openGate = r));
    await c.start();
    await c.waitForSync();
    await leadership(c, timers);

    // The write is in flight (held by the fake API) when the Lease can no longer be renewed.
    const tick = c.tickOnce();
    while (kube.patches === 0) await new Promise((r) => setTimeout(r, 5));
    store.hang = true;
    await timers.advance(1_000); // the renewals hang: the renew deadline (600 ms) aborts the term
    const report = await tick;
    openGate();
    assert.equal(c.isLeader, false);
    assert.equal(report.written, 0);
    assert.equal(specState(kube, "a"), "Idle", "nothing was written after leadership ended");
    assert.match(
      await c.metrics.text(),
      /brupop_controller_spec_writes_total\{outcome="skipped_not_leader"\} 1/,
    );
    assert.match(await c.metrics.text(), /brupop_controller_is_leader 0/);
    const idle = await c.tickOnce();
    assert.equal(idle.skipped, "not-leader");
    assert.equal(kube.patches, 1);
    await c.stop({ releaseLease: false });
  });

  it("the loop ticks once per tick interval, and a cache event brings the next tick forward (debounced)", async () => {
    const kube = new FakeKube();
    kube.put("node", node("a"));
    kube.put("shadow", shadow("a", { cur: "1.20.0" }));
    const timers = new FakeTimers();
    const c = makeController(
      kube,
      { autoTick: true, tickIntervalMs: 2_000, eventDebounceMs: 100 },
      undefined,
      timers,
    );
    await c.start();
    await c.waitForSync();
    await timers.advance(0); // the new term asks for a tick at once
    assert.equal(c.ticks, 1);
    await timers.advance(1_999);
    assert.equal(c.ticks, 1, "no tick before the interval");
    await timers.advance(1);
    assert.equal(c.ticks, 2);
    // Two events in a burst: one tick, 100 ms later.
    kube.put("shadow", shadow("a", { cur: "1.20.0", tgt: "1.20.0" }));
    kube.put("shadow", shadow("a", { cur: "1.20.0", tgt: "1.20.0" }));
    await timers.advance(99);
    assert.equal(c.ticks, 2);
    await timers.advance(1);
    assert.equal(c.ticks, 3);
    await c.stop();
    await timers.advance(10_000);
    assert.equal(c.ticks, 3, "no tick after stop");
  });
});

/** FakeKube that also answers pod LISTs (by node) and records every request path. */
class PodsKube extends FakeKube {
  readonly paths: string[] = [];
  readonly podsOn = new Map<string, string[]>();
  protected override async request<T = unknown>(
    method: string,
    path: string,
    opts: RequestOptions = {},
  ): Promise<RestResponse<T>> {
    this.paths.push(`${method} ${path}`);
    if (method === "GET" && path === "/api/v1/pods") {
      const node = String(opts.query?.["fieldSelector"] ?? "").replace("spec.nodeName=", "");
      const items = (this.podsOn.get(node) ?? []).map((name) => ({
        metadata: { name, namespace: "batch" },
        status: { phase: "Running" },
      }));
      return { status: 200, body: { items } as T };
    }
    return super.request<T>(method, path, opts);
  }
}

describe("Controller with the optional checks (issue 19)", () => {
  it("without them, starting a node costs no request beyond upstream's", async () => {
    const kube = new PodsKube();
    kube.put("node", node("a"));
    kube.put("shadow", shadow("a"));
    const c = makeController(kube);
    await c.start();
    await c.waitForSync();
    const report = await c.tickOnce();
    assert.deepEqual(
      report.changes.map((ch) => ch.reason),
      ["start"],
    );
    assert.deepEqual(
      // The UpdatePolicy informer (issue 18) is the one other reader; the checks of issue 19 add none.
      kube.paths.filter(
        (p) => !/bottlerocketshadows|\/events|^GET \/api\/v1\/nodes$|\/updatepolicies(\/default)?$/.test(p),
      ),
      [],
    );
    assert.equal(c.notifier, undefined);
    await c.stop();
  });

  it("a blocking pod holds its node back, the slot goes to the next node, explain names the pod", async () => {
    const kube = new PodsKube();
    for (const n of ["a", "b"]) kube.put("node", node(n));
    kube.put("shadow", shadow("a"));
    kube.put("shadow", shadow("b"));
    kube.podsOn.set("a", ["job-1"]);
    const c = makeController(kube, { blockers: { podSelector: "block=true" } });
    await c.start();
    await c.waitForSync();
    const report = await c.tickOnce();
    assert.deepEqual(
      report.changes.map((ch) => [ch.name, ch.reason]),
      [["brs-b", "start"]],
    );
    assert.equal(specState(kube, "a"), "Idle");
    assert.equal(
      c.explain().find((e) => e.shadow === "brs-a")?.message,
      "blocked by pod batch/job-1 on the node; starts updating to 1.20.0 once that clears",
    );
    assert.deepEqual(
      kube.paths.filter((p) => p.includes("/pods")),
      ["GET /api/v1/pods", "GET /api/v1/pods"],
      "one LIST for a, then one for b",
    );
    assert.match(await c.metrics.text(), /brupop_controller_blocked_nodes 1/);
    await c.tickOnce(); // same verdict: no second Event
    await settleEvents();
    assert.deepEqual(
      kube.events.filter((e) => e.reason === "UpdateBlocked"),
      [{ reason: "UpdateBlocked", name: "brs-a" }],
    );
    await c.stop();
  });

  it("a silent agent: one Warning Event past the limit, a gauge, explain says so; the spec is untouched", async () => {
    const kube = new PodsKube();
    kube.put("node", node("a"));
    kube.put("shadow", shadow("a", { spec: "RebootedIntoUpdate", state: "StagedAndPerformedUpdate" }));
    const timers = new FakeTimers();
    const c = makeController(kube, { agentSilenceLimitMs: 60_000 }, undefined, timers);
    await c.start();
    await c.waitForSync();
    await c.tickOnce();
    await timers.advance(60_001);
    await c.tickOnce();
    await c.tickOnce();
    await timers.advance(0);
    await settleEvents();
    assert.deepEqual(
      kube.events.filter((e) => e.reason === "AgentSilent"),
      [{ reason: "AgentSilent", name: "brs-a" }],
    );
    assert.equal(specState(kube, "a"), "RebootedIntoUpdate");
    assert.match(
      c.explain()[0]?.message ?? "",
      /^agent silent for 1m00s in state StagedAndPerformedUpdate \(asked for RebootedIntoUpdate\)$/,
    );
    assert.match(await c.metrics.text(), /brupop_controller_agents_silent 1/);
    await c.stop();
  });
});

async function settleEvents(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}
