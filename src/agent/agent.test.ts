// The Agent against a simulated host on virtual time (no sockets), with an in-memory stand-in for
// the cluster: the brs and Node live in a FakeCluster, the apiserver calls change them, and the
// agent's watch view can be held back to simulate a lagging cache.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { pino } from "pino";
import { ApiserverCallError, type BrupopApiserverApi } from "../apiserver/client.js";
import { BottlerocketApiClient, type BottlerocketHost } from "../bottlerocket/client.js";
import { SimulatedHost } from "../../kit/simulator/host.js";
import { ReleaseCatalog } from "../../kit/simulator/releases.js";
import { InProcessTransport } from "../../kit/simulator/routes.js";
import { ManualTimers } from "../../kit/simulator/timers.js";
import { FakeTimers, ManualClock } from "../clock.js";
import { CORDONED_BY_BRUPOP_ANNOTATION } from "../k8s/cordon-marker.js";
import {
  ACCEPT_FAILURE_ANNOTATION,
  EXCLUDE_FROM_LB_LABEL,
  VERSION_LOCK_ANNOTATION,
} from "../model/constants.js";
import type { ShadowSpec, ShadowStatus } from "../model/shadow.js";
import type { ShadowState } from "../model/state.js";
import { Agent, type AgentTimings } from "./agent.js";
import type { HealthFacts } from "./decide.js";
import type { HealthSource } from "./health.js";
import type { AgentObjects, RawShadow, SlimNode } from "./objects.js";

const NODE = "node-a";
const OLD = "1.19.0";
const NEW = "1.20.0";
const T0 = "2025-01-01T00:00:00.000Z";

/** The brs and Node as the API would hold them, plus what the agent's cache has seen. */
class FakeCluster {
  shadow: RawShadow | undefined;
  node: SlimNode = { metadata: { name: NODE, uid: "uid-a", resourceVersion: "1" }, spec: {} };
  /** When true, the agent's cache keeps its snapshot until publish(). */
  lagging = false;
  #rv = 1;
  #seenShadow: RawShadow | undefined;
  #seenNode: SlimNode = this.node;
  #listener: (() => void) | undefined;

  objects(): AgentObjects {
    return {
      shadow: () => this.#seenShadow,
      node: () => this.#seenNode,
      onChange: (l) => (this.#listener = l),
      start: () => undefined,
      waitForSync: () => Promise.resolve(),
      stop: () => Promise.resolve(),
    };
  }

  #changed(): void {
    if (!this.lagging) this.publish();
  }

  publish(): void {
    this.#seenShadow = this.shadow && structuredClone(this.shadow);
    this.#seenNode = structuredClone(this.node);
    this.#listener?.();
  }

  #bump(): string {
    return String(++this.#rv);
  }

  createShadow(): void {
    this.shadow ??= {
      metadata: { name: `brs-${NODE}`, resourceVersion: this.#bump() },
      spec: { state: "Idle", version: null, state_transition_timestamp: null },
    };
    this.#changed();
  }

  setSpec(state: ShadowState, version: string | null = NEW): void {
    assert.ok(this.shadow);
    const spec: ShadowSpec = { state, version, state_transition_timestamp: T0 };
    this.shadow = {
      ...this.shadow,
      metadata: { ...this.shadow.metadata, resourceVersion: this.#bump() },
      spec,
    };
    this.#changed();
  }

  /** Sets (or with undefined removes) an annotation on the brs, as the controller would. */
  annotate(key: string, value: string | undefined): void {
    assert.ok(this.shadow);
    const annotations = { ...this.shadow.metadata?.annotations };
    if (value === undefined) delete annotations[key];
    else annotations[key] = value;
    this.shadow = {
      ...this.shadow,
      metadata: { ...this.shadow.metadata, annotations, resourceVersion: this.#bump() },
    };
    this.#changed();
  }

  setStatus(status: ShadowStatus): void {
    assert.ok(this.shadow, "status of a missing brs");
    this.shadow = {
      ...this.shadow,
      metadata: { ...this.shadow.metadata, resourceVersion: this.#bump() },
      status: { ...status },
    };
    this.#changed();
  }

  get status(): ShadowStatus | undefined {
    return this.shadow?.status as ShadowStatus | undefined;
  }

  patchNode(fn: (node: SlimNode) => void): void {
    const node = structuredClone(this.node);
    fn(node);
    node.metadata = { ...node.metadata, resourceVersion: this.#bump() };
    this.node = node;
    this.#changed();
  }

  get cordoned(): boolean {
    return this.node.spec?.unschedulable === true;
  }
}

/** The apiserver's behaviour in miniature (cordon ownership included), recording every call. */
class FakeApiserver implements BrupopApiserverApi {
  readonly calls: string[] = [];
  fail: Partial<Record<keyof BrupopApiserverApi, () => Error>> = {};
  /** Holds status writes until released (graceful-stop test). */
  holdWrites: Promise<void> | undefined;

  constructor(readonly cluster: FakeCluster) {}

  #call(name: keyof BrupopApiserverApi): void {
    this.calls.push(name);
    const f = this.fail[name];
    if (f !== undefined) throw f();
  }

  #label(set: boolean): void {
    this.cluster.patchNode((n) => {
      const labels = { ...n.metadata?.labels };
      if (set) labels[EXCLUDE_FROM_LB_LABEL] = "true";
      else delete labels[EXCLUDE_FROM_LB_LABEL];
      n.metadata = { ...n.metadata, labels };
    });
  }

  createShadow(): Promise<void> {
    this.#call("createShadow");
    this.cluster.createShadow();
    return Promise.resolve();
  }
  async updateStatus(status: ShadowStatus): Promise<void> {
    this.#call("updateStatus");
    if (this.holdWrites !== undefined) await this.holdWrites;
    this.cluster.setStatus(status);
  }
  cordonAndDrain(): Promise<void> {
    // Like the real apiserver: the cordon comes first, a failing drain after it leaves it in place.
    if (!this.cluster.cordoned) {
      this.cluster.patchNode((n) => {
        n.spec = { unschedulable: true };
        n.metadata = { ...n.metadata, annotations: { [CORDONED_BY_BRUPOP_ANNOTATION]: "true" } };
      });
    }
    this.#call("cordonAndDrain");
    return Promise.resolve();
  }
  cordon(): Promise<void> {
    this.#call("cordon");
    if (!this.cluster.cordoned) {
      this.cluster.patchNode((n) => {
        n.spec = { unschedulable: true };
        n.metadata = { ...n.metadata, annotations: { [CORDONED_BY_BRUPOP_ANNOTATION]: "true" } };
      });
    }
    return Promise.resolve();
  }
  uncordon(): Promise<void> {
    this.#call("uncordon");
    if (this.cluster.node.metadata?.annotations?.[CORDONED_BY_BRUPOP_ANNOTATION] !== undefined) {
      this.cluster.patchNode((n) => {
        n.spec = { unschedulable: false };
        n.metadata = { ...n.metadata, annotations: {} };
      });
    }
    return Promise.resolve();
  }
  excludeFromLb(): Promise<void> {
    this.#call("excludeFromLb");
    this.#label(true);
    return Promise.resolve();
  }
  removeExclusionFromLb(): Promise<void> {
    this.#call("removeExclusionFromLb");
    this.#label(false);
    return Promise.resolve();
  }

  take(): string[] {
    return this.calls.splice(0);
  }
}

/** Counts host calls (and lets a test act in the middle of one). */
function counting(
  inner: BottlerocketHost,
  counts: Map<string, number>,
  hook?: (method: string) => void,
): BottlerocketHost {
  const wrap =
    <K extends keyof BottlerocketHost>(k: K) =>
    (...args: Parameters<BottlerocketHost[K]>): ReturnType<BottlerocketHost[K]> => {
      counts.set(k, (counts.get(k) ?? 0) + 1);
      const fn = inner[k] as (...a: Parameters<BottlerocketHost[K]>) => ReturnType<BottlerocketHost[K]>;
      const result = fn.apply(inner, args);
      hook?.(k);
      return result;
    };
  return {
    osInfo: wrap("osInfo"),
    updateStatus: wrap("updateStatus"),
    refresh: wrap("refresh"),
    prepare: wrap("prepare"),
    activate: wrap("activate"),
    deactivate: wrap("deactivate"),
    reboot: wrap("reboot"),
    versionLock: wrap("versionLock"),
    setVersionLock: wrap("setVersionLock"),
  };
}

function world(
  opts: {
    timings?: Partial<AgentTimings>;
    health?: HealthSource;
    /** The host's running version (default OLD). */
    hostVersion?: string;
    quarantineFailedNodes?: boolean;
  } = {},
) {
  const clock = new ManualClock(T0);
  const timers = new ManualTimers(clock);
  const releases = new ReleaseCatalog([{ version: NEW, releasedAt: 0 }], () => clock.now().getTime());
  const sim = new SimulatedHost({
    id: NODE,
    version: opts.hostVersion ?? OLD,
    releases,
    // shutdown + reboot = 5 s: the host goes down 100 ms after the reboot request (the API answers until then).
    durations: { refresh: 100, prepare: 2_000, activate: 50, deactivate: 50, shutdown: 100, reboot: 4_900 },
    clock,
    timers,
  });
  const sleep = (ms: number): Promise<void> => {
    timers.advance(ms);
    return Promise.resolve();
  };
  const cluster = new FakeCluster();
  const apiserver = new FakeApiserver(cluster);
  const hostCalls = new Map<string, number>();
  const logs: string[] = [];
  /** What the agent's loop waits on (its period); moved by hand in the loop tests. */
  const loopTimers = new FakeTimers();
  const logger = pino(
    { level: "info" },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(chunk.toString());
        cb();
      },
    }),
  );
  const newAgent = (hook?: (method: string) => void, signal?: AbortSignal): Agent =>
    new Agent({
      nodeName: NODE,
      host: counting(
        new BottlerocketApiClient({
          transport: new InProcessTransport(sim),
          now: () => clock.now().getTime(),
          sleep,
        }),
        hostCalls,
        hook,
      ),
      apiserver,
      objects: cluster.objects(),
      ...(opts.health && { health: opts.health }),
      clock,
      timers: loopTimers,
      logger,
      timings: { loopIntervalMs: 600_000, ...opts.timings },
      sleep,
      ...(opts.quarantineFailedNodes !== undefined && { quarantineFailedNodes: opts.quarantineFailedNodes }),
      ...(signal && { signal }),
    });
  return { clock, timers, loopTimers, releases, sim, cluster, apiserver, hostCalls, logs, newAgent };
}

type World = ReturnType<typeof world>;

/** Creates the brs and its first status through a fresh agent. */
async function initialised(w: World): Promise<Agent> {
  const agent = w.newAgent();
  await agent.reconcileOnce();
  await agent.reconcileOnce();
  w.apiserver.take();
  w.hostCalls.clear();
  return agent;
}

describe("Agent (simulated host on virtual time, in-memory cluster)", () => {
  it("creates its shadow, then initialises its status from the host", async () => {
    const w = world();
    const agent = w.newAgent();
    await agent.reconcileOnce();
    assert.deepEqual(w.apiserver.take(), ["createShadow"]);
    assert.equal(w.cluster.status, undefined);
    await agent.reconcileOnce();
    assert.deepEqual(w.apiserver.take(), ["updateStatus"]);
    assert.deepEqual(w.cluster.status, {
      current_version: OLD,
      target_version: NEW, // from an update check: the host's chosen update
      current_state: "Idle",
      crash_count: 0,
      state_transition_failure_timestamp: null,
    });
  });

  it("goes through a whole update as the spec moves; the reboot halts it and the next boot's agent finishes", async () => {
    const w = world();
    const agent = await initialised(w);
    // An earlier failure on record: the completed cycle must clear it.
    w.cluster.setStatus({ ...w.cluster.status!, crash_count: 1, state_transition_failure_timestamp: T0 });

    w.cluster.setSpec("StagedAndPerformedUpdate");
    assert.equal(await agent.reconcileOnce(), "continue");
    assert.equal(w.sim.updateState, "Ready");
    assert.equal(w.cluster.status?.current_state, "StagedAndPerformedUpdate");
    assert.equal(w.hostCalls.get("prepare"), 1);
    assert.equal(w.hostCalls.get("activate"), 1);
    assert.deepEqual(w.apiserver.take(), ["updateStatus"]);

    w.cluster.setSpec("RebootedIntoUpdate");
    assert.equal(await agent.reconcileOnce(), "halt");
    assert.deepEqual(w.apiserver.take(), ["cordonAndDrain"], "cordoned and drained, then nothing more");
    assert.equal(w.hostCalls.get("reboot"), 1);
    assert.equal(w.sim.shuttingDown, true);
    assert.equal(agent.alive, false);
    assert.equal(await agent.exited, "rebooting");
    assert.equal(
      w.cluster.status?.current_state,
      "StagedAndPerformedUpdate",
      "no status after the reboot request",
    );
    assert.equal(w.cluster.cordoned, true);

    w.timers.advance(5_000); // the host boots into the new version
    assert.equal(w.sim.version, NEW);
    const next = w.newAgent();
    await next.reconcileOnce();
    assert.deepEqual(w.apiserver.take(), ["uncordon", "updateStatus"]);
    assert.equal(w.cluster.cordoned, false);
    assert.deepEqual(w.cluster.status, {
      current_version: NEW,
      target_version: NEW, // the first check after the boot: nothing newer
      current_state: "RebootedIntoUpdate",
      crash_count: 1,
      state_transition_failure_timestamp: T0,
    });

    w.cluster.setSpec("MonitoringUpdate");
    await next.reconcileOnce();
    assert.equal(w.cluster.status?.current_state, "MonitoringUpdate");
    w.cluster.setSpec("Idle");
    await next.reconcileOnce();
    assert.deepEqual(w.cluster.status, {
      current_version: NEW,
      target_version: NEW,
      current_state: "Idle",
      crash_count: 0,
      state_transition_failure_timestamp: null,
    });
  });

  it("during the MonitoringUpdate soak the agent uncordons once, not on every loop (issue 26)", async () => {
    const w = world({
      timings: { healthSoakMs: 30_000, stateTimeLimitsMs: { MonitoringUpdate: 300_000 } },
    });
    const agent = await initialised(w);
    w.cluster.patchNode((n) => {
      n.spec = { unschedulable: true };
      n.metadata = { ...n.metadata, annotations: { [CORDONED_BY_BRUPOP_ANNOTATION]: "true" } };
      n.status = { conditions: [{ type: "Ready", status: "True", lastTransitionTime: T0 }] };
    });
    w.cluster.setSpec("MonitoringUpdate");
    for (let i = 0; i < 4; i++) {
      await agent.reconcileOnce();
      w.clock.advance(5_000);
    }
    assert.equal(w.cluster.status?.current_state, "Idle", "still soaking (20 s of 30 s)");
    assert.deepEqual(
      w.apiserver.take().filter((c) => c === "uncordon"),
      ["uncordon"],
      "one uncordon while the node was cordoned, none after",
    );
    assert.equal(w.cluster.cordoned, false);
  });

  it("health gate: MonitoringUpdate is reported only after the Node was Ready for the soak; never Ready → Unhealthy", async () => {
    const w = world({
      timings: { healthSoakMs: 30_000, stateTimeLimitsMs: { MonitoringUpdate: 300_000 } },
    });
    const agent = await initialised(w);
    const readySince = (status: "True" | "False", at: Date): void =>
      w.cluster.patchNode((n) => {
        n.status = { conditions: [{ type: "Ready", status, lastTransitionTime: at.toISOString() }] };
      });
    readySince("True", w.clock.now());
    w.cluster.setSpec("MonitoringUpdate"); // asked at T0
    await agent.reconcileOnce();
    assert.equal(w.cluster.status?.current_state, "Idle", "held: Ready for 0 s of 30 s");
    w.clock.advance(30_000);
    await agent.reconcileOnce();
    assert.equal(w.cluster.status?.current_state, "MonitoringUpdate", "Ready for the soak: done");

    const w2 = world({
      timings: { healthSoakMs: 30_000, stateTimeLimitsMs: { MonitoringUpdate: 300_000 } },
    });
    const agent2 = await initialised(w2);
    w2.cluster.patchNode((n) => {
      n.status = { conditions: [{ type: "Ready", status: "False", lastTransitionTime: T0 }] };
    });
    w2.cluster.setSpec("MonitoringUpdate");
    await agent2.reconcileOnce();
    assert.equal(w2.cluster.status?.current_state, "Idle", "NotReady: waiting");
    w2.clock.advance(301_000);
    await agent2.reconcileOnce();
    assert.equal(w2.cluster.status?.current_state, "ErrorReset");
    assert.equal(w2.cluster.status?.failure?.reason, "Unhealthy");
    assert.match(
      w2.cluster.status?.failure?.message ?? "",
      /not Ready .*MonitoringUpdate not reached within its time limit of 300s/,
    );
  });

  /** A world whose host already runs NEW, cordoned by brupop (the drain), NotReady: MonitoringUpdate asked. */
  async function failingOnNew(quarantineFailedNodes?: boolean): Promise<{ w: World; agent: Agent }> {
    const w = world({
      timings: { healthSoakMs: 30_000, stateTimeLimitsMs: { MonitoringUpdate: 300_000 } },
      hostVersion: NEW,
      ...(quarantineFailedNodes !== undefined && { quarantineFailedNodes }),
    });
    const agent = await initialised(w);
    w.cluster.patchNode((n) => {
      n.spec = { unschedulable: true };
      n.metadata = { ...n.metadata, annotations: { [CORDONED_BY_BRUPOP_ANNOTATION]: "true" } };
      n.status = { conditions: [{ type: "Ready", status: "False", lastTransitionTime: T0 }] };
    });
    w.cluster.setSpec("MonitoringUpdate");
    await agent.reconcileOnce();
    assert.equal(w.cluster.cordoned, false, "uncordoned for the gate (the gated pods must land)");
    w.apiserver.take();
    w.clock.advance(301_000);
    return { w, agent };
  }

  it("quarantine (default): a node failing its health gate on the new version is cordoned before the failure is reported, and stays so until the failure is accepted", async () => {
    const { w, agent } = await failingOnNew();
    await agent.reconcileOnce();
    assert.deepEqual(w.apiserver.take(), ["cordon", "updateStatus"], "cordon first, then the failure");
    assert.equal(w.cluster.status?.current_state, "ErrorReset");
    assert.equal(w.cluster.status?.failure?.reason, "Unhealthy");
    assert.equal(w.cluster.cordoned, true);

    w.cluster.setSpec("Idle"); // the controller resets it
    await agent.reconcileOnce();
    await agent.reconcileOnce();
    assert.equal(w.cluster.status?.current_state, "Idle");
    assert.equal(w.cluster.cordoned, true, "quarantined: not uncordoned after the reset");
    assert.deepEqual(
      w.apiserver.take().filter((c) => c === "uncordon"),
      [],
    );

    w.cluster.annotate(ACCEPT_FAILURE_ANNOTATION, "2000-01-01T00:00:00.000Z"); // another failure
    await agent.reconcileOnce();
    assert.equal(w.cluster.cordoned, true, "an acceptance of another failure does not lift it");
    w.cluster.annotate(ACCEPT_FAILURE_ANNOTATION, w.cluster.status?.failure?.timestamp);
    await agent.reconcileOnce();
    assert.equal(w.cluster.cordoned, false, "accepted: uncordoned");
  });

  it("QUARANTINE_FAILED_NODES=false: the failed node is left uncordoned (upstream)", async () => {
    const { w, agent } = await failingOnNew(false);
    await agent.reconcileOnce();
    assert.deepEqual(w.apiserver.take(), ["updateStatus"]);
    assert.equal(w.cluster.status?.failure?.reason, "Unhealthy");
    assert.equal(w.cluster.cordoned, false);
  });

  it("an apiserver without the cordon route (404, upstream's): said once, the failure is reported anyway", async () => {
    const { w, agent } = await failingOnNew();
    w.apiserver.fail.cordon = () =>
      new ApiserverCallError("POST /bottlerocket-node-resource/cordon: HTTP 404", {
        httpStatus: 404,
        retryable: false,
      });
    await agent.reconcileOnce();
    assert.deepEqual(w.apiserver.take(), ["cordon", "updateStatus"]);
    assert.equal(w.cluster.status?.failure?.reason, "Unhealthy");
    assert.equal(w.cluster.cordoned, false);
    // A second failure on the new version: no second try, no second warning.
    w.cluster.setSpec("Idle");
    await agent.reconcileOnce();
    w.cluster.setSpec("MonitoringUpdate");
    await agent.reconcileOnce();
    assert.equal(w.cluster.status?.current_state, "ErrorReset");
    assert.deepEqual(
      w.apiserver.take().filter((c) => c === "cordon"),
      [],
    );
    assert.equal(w.logs.filter((l) => l.includes("no cordon route")).length, 1);
  });

  it("health gate pods: asked only while the gate is open; a DaemonSet pod never Ready → Unhealthy naming it", async () => {
    let gathered = 0;
    let facts: HealthFacts = {
      pods: {
        ok: true,
        items: [{ name: "kube-system/cni-x", kind: "DaemonSet", ready: false, since: null }],
      },
    };
    const health: HealthSource = {
      gather: () => {
        gathered++;
        return Promise.resolve(facts);
      },
    };
    const w = world({
      timings: { healthSoakMs: 30_000, stateTimeLimitsMs: { MonitoringUpdate: 300_000 } },
      health,
    });
    const agent = await initialised(w);
    w.cluster.patchNode((n) => {
      n.status = {
        conditions: [{ type: "Ready", status: "True", lastTransitionTime: "2024-01-01T00:00:00Z" }],
      };
    });
    for (const state of ["StagedAndPerformedUpdate", "RebootedIntoUpdate"] as const) {
      w.cluster.setSpec(state);
      await agent.reconcileOnce();
      if (state === "RebootedIntoUpdate") {
        w.timers.advance(5_000); // the reboot
        break;
      }
    }
    assert.equal(gathered, 0, "no pod LIST outside the gate");
    const next = w.newAgent();
    await next.reconcileOnce();
    assert.equal(w.cluster.status?.current_state, "RebootedIntoUpdate");
    assert.equal(gathered, 0);

    w.cluster.setSpec("MonitoringUpdate");
    await next.reconcileOnce();
    assert.equal(gathered, 1);
    assert.equal(
      w.cluster.status?.current_state,
      "RebootedIntoUpdate",
      "held: the DaemonSet pod is not Ready",
    );
    w.clock.advance(301_000);
    await next.reconcileOnce();
    assert.equal(w.cluster.status?.current_state, "ErrorReset");
    assert.equal(w.cluster.status?.failure?.reason, "Unhealthy");
    assert.match(w.cluster.status?.failure?.message ?? "", /not Ready: DaemonSet pod kube-system\/cni-x/);
    const after = gathered;
    await next.reconcileOnce();
    assert.equal(gathered, after, "ErrorReset: the gate is closed, nothing listed");

    // The same with the pod Ready: reported, and the gate closes.
    facts = { pods: { ok: true, items: [] } };
    w.cluster.setStatus({ ...w.cluster.status, current_state: "RebootedIntoUpdate" });
    w.cluster.setSpec("MonitoringUpdate");
    await next.reconcileOnce();
    assert.equal(w.cluster.status?.current_state, "MonitoringUpdate");
    const done = gathered;
    await next.reconcileOnce();
    assert.equal(gathered, done, "reported: nothing listed any more");
  });

  it("a state not reached within its time limit fails with Timeout, before any host command", async () => {
    const w = world({ timings: { stateTimeLimitsMs: { StagedAndPerformedUpdate: 720_000 } } });
    const agent = await initialised(w);
    w.clock.advance(721_000); // the spec was set at T0
    w.cluster.setSpec("StagedAndPerformedUpdate");
    const before = w.hostCalls.get("prepare") ?? 0;
    await agent.reconcileOnce();
    assert.equal(w.cluster.status?.current_state, "ErrorReset");
    assert.equal(w.cluster.status?.crash_count, 1);
    assert.equal(w.hostCalls.get("prepare") ?? 0, before, "nothing started once late");
    const failure = w.cluster.status?.failure;
    assert.equal(failure?.reason, "Timeout");
    assert.equal(failure?.state, "StagedAndPerformedUpdate");
    assert.match(failure?.message ?? "", /time limit of 720s/);
  });

  it("a failed prepare reports ErrorReset (crash_count + 1, stamped), then waits for the controller", async () => {
    const w = world();
    const agent = await initialised(w);
    w.sim.failCommand("prepare", { times: 1, stderr: "no space left on device" });
    w.cluster.setSpec("StagedAndPerformedUpdate");
    await agent.reconcileOnce();
    const failedAt = w.clock.now();
    assert.equal(w.cluster.status?.current_state, "ErrorReset");
    assert.equal(w.cluster.status?.crash_count, 1);
    const stamp = Date.parse(w.cluster.status?.state_transition_failure_timestamp ?? "");
    assert.ok(Math.abs(stamp - failedAt.getTime()) < 5_000, "stamped with the agent's clock");
    const failure = w.cluster.status?.failure;
    assert.equal(failure?.state, "StagedAndPerformedUpdate");
    assert.equal(failure?.reason, "HostCommandFailed");
    assert.match(failure?.message ?? "", /prepare failed .*no space left on device/);
    assert.equal(failure?.timestamp, w.cluster.status?.state_transition_failure_timestamp);
    assert.ok(
      w.logs.some((l) => l.includes("no space left on device")),
      "the host's stderr is logged",
    );

    // The spec still says StagedAndPerformedUpdate: no retry, no write, until the controller resets it.
    w.apiserver.take();
    w.hostCalls.clear();
    await agent.reconcileOnce();
    await agent.reconcileOnce();
    assert.deepEqual(w.apiserver.take(), []);
    assert.equal(w.hostCalls.get("prepare"), undefined);

    w.cluster.setSpec("Idle");
    await agent.reconcileOnce();
    assert.deepEqual(w.apiserver.take(), ["updateStatus"], "never cordoned: no uncordon call");
    assert.equal(w.cluster.status?.current_state, "Idle");
    assert.equal(w.cluster.status?.crash_count, 1, "the crash record stays for the back-off");

    // The retry succeeds.
    w.cluster.setSpec("StagedAndPerformedUpdate");
    await agent.reconcileOnce();
    assert.equal(w.cluster.status?.current_state, "StagedAndPerformedUpdate");
    assert.equal(w.sim.updateState, "Ready");
  });

  it("spec ErrorReset is an assertion: nothing done, nothing written, logged once", async () => {
    const w = world();
    const agent = await initialised(w);
    w.cluster.setSpec("ErrorReset");
    await agent.reconcileOnce();
    await agent.reconcileOnce();
    assert.deepEqual(w.apiserver.take(), []);
    assert.equal(w.hostCalls.get("prepare") ?? 0, 0);
    const asserted = w.logs.filter((l) => l.includes("BRUPOP_E_AGENT_ASSERTION"));
    assert.equal(asserted.length, 1, "one log line per spec, not one per loop");
  });

  it("writes status only when it changes, and checks for updates at most every 120 s", async () => {
    const w = world();
    const agent = await initialised(w);
    await agent.reconcileOnce();
    await agent.reconcileOnce();
    assert.deepEqual(w.apiserver.take(), [], "steady state: nothing to write");
    assert.equal(w.hostCalls.get("refresh") ?? 0, 0, "checked at start-up, not again yet");

    w.clock.advance(119_000);
    await agent.reconcileOnce();
    assert.equal(w.hostCalls.get("refresh") ?? 0, 0);
    w.clock.advance(1_000);
    await agent.reconcileOnce();
    assert.equal(w.hostCalls.get("refresh"), 1, "due after 120 s");
    assert.deepEqual(w.apiserver.take(), [], "same target: no write");

    w.releases.add({ version: "1.21.0", releasedAt: w.clock.now().getTime() });
    await agent.reconcileOnce();
    assert.equal(w.cluster.status?.target_version, NEW, "not checked again within 120 s");
    w.clock.advance(120_000);
    await agent.reconcileOnce();
    assert.equal(w.hostCalls.get("refresh"), 2);
    assert.equal(w.cluster.status?.target_version, "1.21.0");
    assert.deepEqual(w.apiserver.take(), ["updateStatus"]);
  });

  it("version pin: the host's version lock follows the brs annotation before every update check", async () => {
    const w = world();
    const agent = await initialised(w);
    assert.equal(w.sim.versionLock, "latest");
    assert.equal(w.hostCalls.get("versionLock") ?? 0, 0, "no annotation: the host's lock is not even read");
    assert.equal(w.hostCalls.get("setVersionLock") ?? 0, 0, "nor written (upstream never touches it)");
    w.releases.add({ version: "1.21.0", releasedAt: 0 });
    w.clock.advance(120_000);
    await agent.reconcileOnce();
    assert.equal(w.cluster.status?.target_version, "1.21.0", "unpinned: the newest");
    w.clock.advance(10_000);
    w.cluster.annotate(VERSION_LOCK_ANNOTATION, NEW);
    await agent.reconcileOnce();
    assert.equal(w.sim.versionLock, `v${NEW}`, "a new pin is checked at once, not after 120 s");
    assert.equal(w.cluster.status?.target_version, NEW, "pinned: the check chose the pin, not 1.21.0");

    w.cluster.setSpec("StagedAndPerformedUpdate", NEW);
    await agent.reconcileOnce();
    assert.equal(w.cluster.status?.current_state, "StagedAndPerformedUpdate");
    assert.equal(w.sim.updateState, "Ready");
    assert.equal(w.hostCalls.get("setVersionLock"), 1, "written once: the refresh found it already set");
    assert.equal(w.hostCalls.get("versionLock"), 1, "read only for the pinned check, never while unpinned");

    w.cluster.annotate(VERSION_LOCK_ANNOTATION, "latest");
    w.cluster.setSpec("Idle", NEW);
    await agent.reconcileOnce();
    assert.equal(w.sim.versionLock, "latest", "unpinned (latest): back to latest");
    assert.equal(w.cluster.status?.target_version, "1.21.0");
  });

  it("version pin: without the annotation a lock set on the host by hand stays (upstream)", async () => {
    const w = world();
    const agent = await initialised(w);
    w.sim.versionLock = `v${NEW}`;
    w.releases.add({ version: "1.21.0", releasedAt: 0 });
    w.clock.advance(120_000);
    await agent.reconcileOnce();
    assert.equal(w.sim.versionLock, `v${NEW}`, "the operator's lock is kept");
    assert.equal(w.hostCalls.get("setVersionLock") ?? 0, 0);
    assert.equal(w.cluster.status?.target_version, NEW, "and the host honours it");
  });

  it("a version pin that is not a version: no refresh (never past a pin); acting on it fails saying why", async () => {
    const w = world();
    const agent = await initialised(w);
    w.releases.add({ version: "1.21.0", releasedAt: 0 });
    w.cluster.annotate(VERSION_LOCK_ANNOTATION, "soon");
    w.clock.advance(120_000);
    await agent.reconcileOnce();
    assert.equal(w.hostCalls.get("refresh") ?? 0, 0, "the update check is skipped");
    assert.equal(w.cluster.status?.target_version, NEW, "the previous target is kept");
    w.cluster.setSpec("StagedAndPerformedUpdate", "1.21.0");
    await agent.reconcileOnce();
    assert.equal(w.hostCalls.get("refresh") ?? 0, 0);
    assert.equal(w.sim.versionLock, "latest");
    assert.equal(w.cluster.status?.current_state, "ErrorReset");
    assert.match(w.cluster.status?.failure?.message ?? "", /version-lock="soon" is not a version/);
  });

  it("a cache that lags behind the agent's own write does not repeat the work", async () => {
    const w = world();
    const agent = await initialised(w);
    w.cluster.setSpec("StagedAndPerformedUpdate");
    w.cluster.lagging = true;
    await agent.reconcileOnce();
    assert.deepEqual(w.apiserver.take(), ["updateStatus"]);
    const commands = { ...Object.fromEntries(w.hostCalls) };
    await agent.reconcileOnce(); // the cache still shows the old status
    assert.deepEqual(w.apiserver.take(), []);
    assert.equal(w.hostCalls.get("prepare"), commands["prepare"]);
    assert.equal(w.hostCalls.get("activate"), commands["activate"]);
    w.cluster.publish();
    await agent.reconcileOnce();
    assert.deepEqual(w.apiserver.take(), []);
  });

  it("a host that cannot be read changes nothing (no ErrorReset): it is asked again next loop", async () => {
    const w = world();
    const agent = await initialised(w);
    w.cluster.setSpec("StagedAndPerformedUpdate");
    w.sim.disconnect();
    await agent.reconcileOnce();
    assert.deepEqual(w.apiserver.take(), []);
    assert.equal(w.cluster.status?.current_state, "Idle");
    w.sim.reconnect();
    await agent.reconcileOnce();
    assert.equal(w.cluster.status?.current_state, "StagedAndPerformedUpdate");
  });

  it("killed in the middle of prepare: the host finishes it and the next agent only activates", async () => {
    const w = world();
    await initialised(w);
    w.cluster.setSpec("StagedAndPerformedUpdate");
    const crash = new AbortController();
    const first = w.newAgent((method) => {
      if (method === "prepare") crash.abort();
    }, crash.signal);
    await first.reconcileOnce();
    assert.equal(await first.exited, "killed");
    assert.deepEqual(w.apiserver.take(), [], "a killed agent writes nothing");
    assert.equal(w.sim.updateState, "Staged", "the prepare it started finished on the host");

    const second = w.newAgent();
    await second.reconcileOnce();
    assert.equal(w.hostCalls.get("prepare"), 1, "not prepared again");
    assert.equal(w.hostCalls.get("activate"), 1);
    assert.equal(w.cluster.status?.current_state, "StagedAndPerformedUpdate");
  });

  it("with EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC: exclude, wait, drain, reboot; after the boot uncordon and lift the exclusion", async () => {
    const w = world({ timings: { excludeFromLbWaitMs: 30_000 } });
    const agent = await initialised(w);
    w.cluster.setSpec("StagedAndPerformedUpdate");
    await agent.reconcileOnce();
    w.apiserver.take();
    w.cluster.setSpec("RebootedIntoUpdate");
    const before = w.clock.now().getTime();
    let drainedAt = 0;
    const drain = w.apiserver.cordonAndDrain.bind(w.apiserver);
    w.apiserver.cordonAndDrain = () => {
      drainedAt = w.clock.now().getTime();
      return drain();
    };
    assert.equal(await agent.reconcileOnce(), "halt");
    assert.deepEqual(w.apiserver.take(), ["excludeFromLb", "cordonAndDrain"]);
    assert.ok(drainedAt - before >= 30_000, `drained ${drainedAt - before} ms after the exclusion`);
    w.timers.advance(5_000);
    await w.newAgent().reconcileOnce();
    assert.deepEqual(w.apiserver.take(), ["uncordon", "removeExclusionFromLb", "updateStatus"]);
  });

  it("a failed drain reports ErrorReset; an unavailable apiserver while uncordoning is retried, not a crash", async () => {
    const w = world();
    const agent = await initialised(w);
    w.cluster.setSpec("StagedAndPerformedUpdate");
    await agent.reconcileOnce();
    w.apiserver.fail.cordonAndDrain = () =>
      new ApiserverCallError("drain: HTTP 500", {
        httpStatus: 500,
        remoteCode: "BRUPOP_E_DRAIN",
        retryable: false,
      });
    w.cluster.setSpec("RebootedIntoUpdate");
    await agent.reconcileOnce();
    assert.equal(w.cluster.status?.current_state, "ErrorReset");
    assert.equal(w.cluster.status?.crash_count, 1);
    assert.equal(w.hostCalls.get("reboot") ?? 0, 0, "no reboot without a drain");
    assert.equal(w.cluster.status?.failure?.reason, "DrainFailed");
    assert.equal(w.cluster.status?.failure?.state, "RebootedIntoUpdate");
    assert.equal(w.cluster.status?.failure?.message, "drain: HTTP 500");

    w.apiserver.fail.uncordon = () => new ApiserverCallError("connect ECONNREFUSED", { retryable: true });
    w.cluster.setSpec("Idle");
    await agent.reconcileOnce();
    assert.equal(w.cluster.status?.current_state, "ErrorReset", "not reported Idle before the uncordon");
    assert.equal(w.cluster.status?.crash_count, 1, "not counted as another crash");
    w.apiserver.fail.uncordon = undefined;
    await agent.reconcileOnce();
    assert.equal(w.cluster.status?.current_state, "Idle");
  });

  it("a brupop cordon left over in a reached state is cleaned up", async () => {
    const w = world();
    const agent = await initialised(w);
    w.cluster.patchNode((n) => {
      n.spec = { unschedulable: true };
      n.metadata = { ...n.metadata, annotations: { [CORDONED_BY_BRUPOP_ANNOTATION]: "true" } };
    });
    await agent.reconcileOnce();
    assert.deepEqual(w.apiserver.take(), ["uncordon"]);
    assert.equal(w.cluster.cordoned, false);
  });

  it("the loop runs once per loop interval when nothing changes, and not after stop()", async () => {
    const w = world({ timings: { loopIntervalMs: 5_000 } });
    const agent = w.newAgent();
    agent.start();
    await until(() => w.cluster.status !== undefined);
    await w.loopTimers.advance(0);
    const reads = (): number => w.hostCalls.get("osInfo") ?? 0;
    const before = reads();
    await w.loopTimers.advance(4_999);
    assert.equal(reads(), before, "no pass before the interval");
    await w.loopTimers.advance(1);
    assert.equal(reads(), before + 1, "one pass when the interval elapsed");
    await w.loopTimers.advance(10_000);
    assert.equal(reads(), before + 3);
    await agent.stop();
    await w.loopTimers.advance(60_000);
    assert.equal(reads(), before + 3, "no pass after stop");
    assert.equal(w.loopTimers.pending, 0);
  });

  it("the loop wakes on a change of its brs; stop() lets a status write in flight finish", async () => {
    const w = world();
    const agent = w.newAgent();
    agent.start(); // loop interval 10 min: only the change events move it
    await until(() => w.cluster.status !== undefined);

    let release!: () => void;
    w.apiserver.holdWrites = new Promise((r) => (release = r));
    w.cluster.setSpec("StagedAndPerformedUpdate");
    await until(() => w.apiserver.calls.at(-1) === "updateStatus" && w.sim.updateState === "Ready");
    let stopped = false;
    const stopping = agent.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(stopped, false, "waits for the write in flight");
    release();
    await stopping;
    assert.equal(w.cluster.status?.current_state, "StagedAndPerformedUpdate");
    assert.equal(await agent.exited, "stopped");
  });
});

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}
