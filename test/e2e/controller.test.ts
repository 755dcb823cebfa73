// The brupop controller against a real control plane (etcd, kube-apiserver, controller-manager,
// kwok). The TEST plays the agents: a small scripted fake agent watches the shadows and moves each
// `status` to its `spec` state through the status subresource, with a delay and injectable failures.
// One cluster for the whole file; every scenario has its own namespace and nodes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { Clock } from "../../src/clock.js";
import { Controller, type ControllerConfig } from "../../src/controller/controller.js";
import { ROUND_LAST_FIRE_KEY, ROUND_OPEN_KEY } from "../../src/controller/gate.js";
import { DEFAULT_STATE_CONFIGMAP } from "../../src/controller/round-store.js";
import { parseSchedule } from "../../src/controller/schedule.js";
import { Informer } from "../../src/k8s/informer.js";
import { KubeRest, type Query } from "../../src/k8s/rest.js";
import { createLogger, silentLogger, type Logger } from "../../src/log.js";
import {
  API_GROUP,
  API_VERSION_V2,
  KIND,
  PLURAL,
  UPDATER_INTERFACE_LABEL,
  UPDATER_INTERFACE_VERSION,
} from "../../src/model/constants.js";
import { buildCrd } from "../../src/model/crd.js";
import type { ShadowSpec, ShadowStatus } from "../../src/model/shadow.js";
import type { ShadowState } from "../../src/model/state.js";
import { startCluster, type TestCluster } from "../../src/testenv/cluster.js";

const FROM = "1.19.0";
const TO = "1.20.0";
const TICK_MS = 500;
const HOST_STEP_MS = 150;

const logger: Logger =
  process.env["BRUPOP_E2E_LOG"] === "1" ? createLogger({ level: "debug", name: "e2e" }) : silentLogger();

interface RawBrs {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string };
  spec?: Partial<ShadowSpec>;
  status?: ShadowStatus;
}

const shadowsPath = (ns: string) => `/apis/${API_GROUP}/v2/namespaces/${ns}/${PLURAL}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A wall clock the test can move: real time plus an offset. */
class OffsetClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  setTo(iso: string): void {
    this.offsetMs = Date.parse(iso) - Date.now();
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

/** KubeRest whose shadow watch events can be held back: a controller with a stale cache. */
class GatedRest extends KubeRest {
  paused = false;
  readonly #held: (() => void)[] = [];

  override watch(
    path: string,
    query: Query,
    onEvent: (event: unknown) => void,
    signal: AbortSignal,
  ): Promise<void> {
    if (!path.endsWith(`/${PLURAL}`)) return super.watch(path, query, onEvent, signal);
    return super.watch(
      path,
      query,
      (e) => {
        if (this.paused) this.#held.push(() => onEvent(e));
        else onEvent(e);
      },
      signal,
    );
  }

  release(): void {
    this.paused = false;
    for (const deliver of this.#held.splice(0)) deliver();
  }
}

/**
 * The fake agents of a namespace. For each shadow whose spec state differs from its status state it
 * waits `stepMs` (the "host" working) and writes the new status: on success the spec state (and the
 * new version once rebooted), on an injected failure ErrorReset with crash_count + 1.
 */
class FakeAgents {
  readonly #rest: KubeRest;
  readonly #ns: string;
  readonly #informer: Informer<RawBrs>;
  readonly #busy = new Set<string>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly attempts = new Map<string, number>();
  #stopped = false;
  fail: (name: string, state: ShadowState, attempt: number) => boolean = () => false;

  /** How long the "host" takes for each step. */
  stepMs = HOST_STEP_MS;

  constructor(rest: KubeRest, ns: string) {
    this.#rest = rest;
    this.#ns = ns;
    this.#informer = new Informer<RawBrs>({ rest, path: shadowsPath(ns), logger });
    this.#informer.on((type, obj) => {
      if (type !== "delete") this.#consider(obj.metadata?.name ?? "");
    });
  }

  start(): Promise<void> {
    this.#informer.start();
    return this.#informer.waitForSync();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    await this.#informer.stop();
  }

  #consider(name: string): void {
    const obj = this.#informer.get(name, this.#ns);
    const want = obj?.spec?.state;
    const status = obj?.status;
    if (this.#stopped || want === undefined || status === undefined || want === status.current_state) return;
    if (want === "ErrorReset") return; // never valid as a spec
    if (this.#busy.has(name)) return;
    this.#busy.add(name);
    const t = setTimeout(() => {
      this.#timers.delete(t);
      void this.#act(name).finally(() => {
        this.#busy.delete(name);
        this.#consider(name); // the spec may have moved on while we worked
      });
    }, this.stepMs);
    this.#timers.add(t);
  }

  async #act(name: string): Promise<void> {
    const obj = this.#informer.get(name, this.#ns);
    const want = obj?.spec?.state;
    const status = obj?.status;
    if (this.#stopped || want === undefined || status === undefined || want === status.current_state) return;
    await patchStatus(
      this.#rest,
      this.#ns,
      name,
      this.#nextStatus(name, want, obj?.spec?.version ?? null, status),
    );
  }

  #nextStatus(name: string, want: ShadowState, version: string | null, status: ShadowStatus): ShadowStatus {
    const next: ShadowStatus = { ...status };
    if (want === "Idle") {
      // Recovery (from ErrorReset) keeps the failure record so the back-off applies; a complete
      // cycle (from MonitoringUpdate) resets it.
      next.current_state = "Idle";
      if (status.current_state === "MonitoringUpdate") {
        next.crash_count = 0;
        next.state_transition_failure_timestamp = null;
      }
      return next;
    }
    const attempt = (this.attempts.get(`${name}/${want}`) ?? 0) + 1;
    this.attempts.set(`${name}/${want}`, attempt);
    if (this.fail(name, want, attempt)) {
      next.current_state = "ErrorReset";
      next.crash_count = status.crash_count + 1;
      next.state_transition_failure_timestamp = new Date().toISOString();
    } else {
      next.current_state = want;
      if (want === "RebootedIntoUpdate" && version !== null) next.current_version = version;
    }
    return next;
  }
}

/** Follows every shadow of a namespace from the watch stream (events arrive in etcd order). */
class FleetWatcher {
  readonly #informer: Informer<RawBrs>;
  readonly #states = new Map<string, { spec: ShadowState; status: ShadowState | undefined }>();
  maxOutsideIdle = 0;
  readonly specVersions = new Map<string, Set<string | null>>();

  constructor(rest: KubeRest, ns: string) {
    this.#informer = new Informer<RawBrs>({ rest, path: shadowsPath(ns), logger });
    this.#informer.on((type, obj) => {
      const name = obj.metadata?.name ?? "";
      if (type === "delete") this.#states.delete(name);
      else {
        this.#states.set(name, { spec: obj.spec?.state ?? "Idle", status: obj.status?.current_state });
        const seen = this.specVersions.get(name) ?? new Set();
        seen.add(obj.spec?.version ?? null);
        this.specVersions.set(name, seen);
      }
      const outside = [...this.#states.values()].filter(
        (s) => s.spec !== "Idle" || (s.status !== undefined && s.status !== "Idle"),
      ).length;
      this.maxOutsideIdle = Math.max(this.maxOutsideIdle, outside);
    });
  }

  start(): Promise<void> {
    this.#informer.start();
    return this.#informer.waitForSync();
  }

  stop(): Promise<void> {
    return this.#informer.stop();
  }
}

async function ok<T>(p: Promise<{ status: number; body: T }>, what: string): Promise<T> {
  const res = await p;
  if (res.status < 200 || res.status >= 300) {
    throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 400)}`);
  }
  return res.body;
}

function patchStatus(rest: KubeRest, ns: string, name: string, status: ShadowStatus): Promise<unknown> {
  return ok(
    rest.request("PATCH", `${shadowsPath(ns)}/${name}/status`, {
      body: { status },
      contentType: "application/merge-patch+json",
    }),
    `patch status of ${name}`,
  );
}

async function getBrs(rest: KubeRest, ns: string, name: string): Promise<RawBrs> {
  return ok(rest.request<RawBrs>("GET", `${shadowsPath(ns)}/${name}`), `get ${name}`);
}

async function listBrs(rest: KubeRest, ns: string): Promise<RawBrs[]> {
  return (await ok(rest.request<{ items: RawBrs[] }>("GET", shadowsPath(ns)), "list brs")).items;
}

async function eventually(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean> | boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`,
  );
}

/** `name{labels} value` samples of one metric family. */
async function scrape(controller: Controller, name: string): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${controller.port}/metrics`);
  const text = await res.text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(\S+?)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m?.[1] === name) out.set(m[2] ?? "", Number(m[3]));
  }
  return out;
}

const allIdleOn = (items: RawBrs[], version: string) =>
  items.every(
    (b) =>
      b.spec?.state === "Idle" && b.status?.current_state === "Idle" && b.status.current_version === version,
  );

describe("brupop controller (real control plane, scripted agents)", { timeout: 300_000 }, () => {
  let cluster: TestCluster;
  let rest: KubeRest;
  const cleanups: (() => Promise<unknown>)[] = [];

  const withLogs = (fn: () => Promise<void>) => async (): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`\n${await cluster.dumpLogs(30)}\n`);
      throw err;
    } finally {
      for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    }
  };

  /** Namespace + n labelled kwok nodes, each with a shadow whose status is Idle on `version`. */
  async function fleet(ns: string, prefix: string, n: number, target = TO): Promise<string[]> {
    await ok(
      rest.request("POST", "/api/v1/namespaces", { body: { metadata: { name: ns } } }),
      `create ns ${ns}`,
    );
    const nodes = await cluster.addNodes(n, {
      namePrefix: prefix,
      labels: { [UPDATER_INTERFACE_LABEL]: UPDATER_INTERFACE_VERSION },
    });
    await Promise.all(
      nodes.map(async (node) => {
        const nodeObj = await ok(
          rest.request<{ metadata: { uid: string } }>("GET", `/api/v1/nodes/${node}`),
          "get node",
        );
        const name = `brs-${node}`;
        await ok(
          rest.request("POST", shadowsPath(ns), {
            body: {
              apiVersion: API_VERSION_V2,
              kind: KIND,
              metadata: {
                name,
                ownerReferences: [{ apiVersion: "v1", kind: "Node", name: node, uid: nodeObj.metadata.uid }],
              },
              spec: { state: "Idle", state_transition_timestamp: null, version: null },
            },
          }),
          `create ${name}`,
        );
        await patchStatus(rest, ns, name, {
          current_version: FROM,
          target_version: target,
          current_state: "Idle",
          crash_count: 0,
          state_transition_failure_timestamp: null,
        });
      }),
    );
    return nodes.map((node) => `brs-${node}`);
  }

  function controller(
    ns: string,
    config: Partial<ControllerConfig> & { cron?: string },
    deps: { clock?: Clock; rest?: KubeRest } = {},
  ): Controller {
    const clock = deps.clock;
    const { cron, ...rest_ } = config;
    const c = new Controller(
      {
        namespace: ns,
        maxConcurrent: 2,
        schedule: parseSchedule(cron ?? "* * * * * * *", clock?.now() ?? new Date()),
        tickIntervalMs: TICK_MS,
        eventDebounceMs: 50,
        http: { port: 0, host: "127.0.0.1" },
        leaderElection: null,
        ...rest_,
      },
      { rest: deps.rest ?? rest, logger, ...(clock && { clock }) },
    );
    cleanups.push(() => c.stop());
    return c;
  }

  async function agents(ns: string): Promise<FakeAgents> {
    const a = new FakeAgents(rest, ns);
    cleanups.push(() => a.stop());
    await a.start();
    return a;
  }

  async function watcher(ns: string): Promise<FleetWatcher> {
    const w = new FleetWatcher(rest, ns);
    cleanups.push(() => w.stop());
    await w.start();
    return w;
  }

  before(async () => {
    const t0 = performance.now();
    cluster = await startCluster({ scheduler: false });
    rest = new KubeRest(cluster.kubeConfig);
    const crd = buildCrd() as { metadata: { name: string }; spec: Record<string, unknown> };
    // No conversion webhook runs in these tests.
    crd.spec["conversion"] = { strategy: "None" };
    await ok(
      rest.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", { body: crd }),
      "create CRD",
    );
    await eventually("CRD Established", 20_000, async () => {
      const got = await ok(
        rest.request<{ status?: { conditions?: { type: string; status: string }[] } }>(
          "GET",
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
        ),
        "get CRD",
      );
      return got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") === true;
    });
    process.stderr.write(
      `controller e2e: cluster + CRD ready in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
    );
  });

  after(async () => {
    rest?.close();
    if ((cluster as TestCluster | undefined) !== undefined) await cluster.stop();
  });

  it(
    "rolls 5 nodes 1.19.0 → 1.20.0, never more than 2 outside Idle; metrics and events match",
    withLogs(async () => {
      const ns = "ctl-rollout";
      const names = await fleet(ns, "ro-", 5);
      const w = await watcher(ns);
      await agents(ns);
      const c = controller(ns, { maxConcurrent: 2 });
      const t0 = performance.now();
      await c.start();
      await eventually("all five Idle on 1.20.0", 30_000, async () => allIdleOn(await listBrs(rest, ns), TO));
      process.stderr.write(`rollout of 5 nodes took ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      assert.equal(w.maxOutsideIdle, 2, "the limit was used and never exceeded");

      await eventually("metrics show the final fleet", 5_000, async () => {
        const states = await scrape(c, "brupop_hosts_state");
        return states.get('{state="Idle"}') === 5;
      });
      const states = await scrape(c, "brupop_hosts_state");
      for (const s of ["StagedAndPerformedUpdate", "RebootedIntoUpdate", "MonitoringUpdate", "ErrorReset"]) {
        assert.equal(states.get(`{state="${s}"}`), 0, s);
      }
      assert.deepEqual(
        await scrape(c, "brupop_hosts_version"),
        new Map([[`{bottlerocket_version="${TO}"}`, 5]]),
      );
      assert.equal((await scrape(c, "brupop_updates_started_total")).get(""), 5);
      assert.equal((await scrape(c, "brupop_updates_succeeded_total")).get(""), 5);
      assert.equal((await scrape(c, "brupop_updates_failed_total")).get(""), 0);
      assert.equal((await scrape(c, "brupop_controller_is_leader")).get(""), 1);
      const health = await fetch(`http://127.0.0.1:${c.port}/healthz`);
      assert.equal(health.status, 200);

      // An Event on each shadow for every state change the controller ordered: 4 per node.
      await eventually("events recorded", 10_000, async () => {
        const events = await ok(
          rest.request<{ items: { reason: string; involvedObject: { name: string; kind: string } }[] }>(
            "GET",
            `/api/v1/namespaces/${ns}/events`,
          ),
          "list events",
        );
        const mine = events.items.filter((e) => e.involvedObject.kind === KIND);
        return (
          mine.length === 20 &&
          names.every(
            (n) => mine.filter((e) => e.involvedObject.name === n && e.reason === "StartUpdate").length === 1,
          ) &&
          mine.filter((e) => e.reason === "Progress").length === 15
        );
      });
    }),
  );

  it(
    "a closed window starts nothing; a trigger time opens a round that survives a controller crash",
    withLogs(async () => {
      const ns = "ctl-schedule";
      await fleet(ns, "sch-", 3);
      const w = await watcher(ns);
      await agents(ns);
      const clock = new OffsetClock();

      // Window 03:00-03:59 UTC, now 02:00: several ticks, nothing starts.
      clock.setTo("2030-01-01T02:00:00Z");
      const closed = controller(ns, { cron: "* * 3 * * * *", maxConcurrent: "unlimited" }, { clock });
      await closed.start();
      await eventually("three ticks", 10_000, () => closed.ticks >= 3);
      assert.ok((await listBrs(rest, ns)).every((b) => b.spec?.state === "Idle"));
      assert.equal(w.maxOutsideIdle, 0);
      const why = closed.explain();
      assert.equal(why.length, 3);
      for (const e of why) {
        assert.deepEqual(e.reason, {
          kind: "schedule-closed",
          schedule: "window",
          until: new Date("2030-01-01T03:00:00Z"),
          targetVersion: TO,
        });
      }
      await closed.stop();

      // Daily trigger at 03:00:00. Started before it: the last fire time is acknowledged, not acted on.
      clock.setTo("2030-01-01T02:59:58Z");
      const first = controller(ns, { cron: "0 0 3 * * * *", maxConcurrent: 1 }, { clock });
      await first.start();
      const state = async () =>
        (
          await ok(
            rest.request<{ data?: Record<string, string> }>(
              "GET",
              `/api/v1/namespaces/${ns}/configmaps/${DEFAULT_STATE_CONFIGMAP}`,
            ),
            "get state",
          )
        ).data ?? {};
      await eventually(
        "round state initialised",
        10_000,
        async () => (await state())[ROUND_OPEN_KEY] === "false",
      );
      assert.equal((await state())[ROUND_LAST_FIRE_KEY], "2029-12-31T03:00:00.000Z");
      await sleep(3 * TICK_MS);
      assert.equal(w.maxOutsideIdle, 0, "nothing starts before the fire time");

      clock.setTo("2030-01-01T03:00:01Z");
      first.poke();
      await eventually("the round opens and a node starts", 10_000, async () =>
        (await listBrs(rest, ns)).some((b) => b.spec?.state !== "Idle"),
      );
      const persisted = await state();
      assert.equal(persisted[ROUND_OPEN_KEY], "true");
      assert.equal(persisted[ROUND_LAST_FIRE_KEY], "2030-01-01T03:00:00.000Z");

      // Crash (no clean-up at all) and start a new controller: it must carry on with the open round.
      await first.stop({ releaseLease: false });
      clock.setTo("2030-01-01T03:00:05Z");
      const second = controller(ns, { cron: "0 0 3 * * * *", maxConcurrent: 1 }, { clock });
      await second.start();
      await eventually("all three updated", 30_000, async () => allIdleOn(await listBrs(rest, ns), TO));
      assert.equal(w.maxOutsideIdle, 1);
      await eventually("the round closes", 5_000, async () => (await state())[ROUND_OPEN_KEY] === "false");
    }),
  );

  it(
    "retries a failed node only after its back-off while the others proceed",
    withLogs(async () => {
      const ns = "ctl-backoff";
      const [bad, ...good] = await fleet(ns, "bo-", 3);
      const a = await agents(ns);
      a.fail = (name, state, attempt) =>
        name === bad && state === "StagedAndPerformedUpdate" && attempt === 1;
      const clock = new OffsetClock();
      const c = controller(ns, { maxConcurrent: 2 }, { clock });
      await c.start();

      await eventually("the others updated, the failed node back in Idle", 30_000, async () => {
        const items = await listBrs(rest, ns);
        const others = items.filter((b) => good.includes(b.metadata?.name ?? ""));
        const failed = items.find((b) => b.metadata?.name === bad);
        return (
          allIdleOn(others, TO) &&
          others.length === 2 &&
          failed?.spec?.state === "Idle" &&
          failed.status?.current_state === "Idle" &&
          failed.status.crash_count === 1
        );
      });
      // Several ticks later it still waits: 2^1 minutes of back-off.
      const ticks = c.ticks;
      await eventually("three more ticks", 10_000, () => c.ticks >= ticks + 3);
      const waiting = await getBrs(rest, ns, bad as string);
      assert.equal(waiting.spec?.state, "Idle");
      assert.equal(waiting.status?.current_version, FROM);
      const failedAt = Date.parse(waiting.status?.state_transition_failure_timestamp ?? "");
      const why = c.explain().find((e) => e.shadow === bad);
      assert.deepEqual(why?.reason, {
        kind: "backoff",
        until: new Date(failedAt + 120_000),
        crashCount: 1,
        targetVersion: TO,
      });
      assert.equal((await scrape(c, "brupop_updates_failed_total")).get(""), 1);

      // Two minutes later (controller clock) it is retried and succeeds.
      clock.advance(120_000);
      c.poke();
      await eventually("the failed node retried and updated", 20_000, async () =>
        allIdleOn(await listBrs(rest, ns), TO),
      );
      const done = await getBrs(rest, ns, bad as string);
      assert.equal(done.status?.crash_count, 0, "a complete cycle resets the crash count");
      assert.equal(a.attempts.get(`${bad}/StagedAndPerformedUpdate`), 2);
      const events = await ok(
        rest.request<{ items: { reason: string; type: string; involvedObject: { name: string } }[] }>(
          "GET",
          `/api/v1/namespaces/${ns}/events`,
        ),
        "list events",
      );
      assert.ok(
        events.items.some(
          (e) => e.reason === "Recover" && e.type === "Warning" && e.involvedObject.name === bad,
        ),
      );
    }),
  );

  it(
    "fails over to a standby replica within 20 s after the leader crashes; the limit holds",
    withLogs(async () => {
      const ns = "ctl-failover";
      await fleet(ns, "fo-", 5);
      const w = await watcher(ns);
      const a = await agents(ns);
      // Slower hosts so the rollout is still running when the leader dies.
      a.stepMs = 400;
      const le = { leaseName: "brupop-controller-leader" };
      const one = controller(ns, { maxConcurrent: 2, leaderElection: { ...le, identity: "one" } });
      const two = controller(ns, { maxConcurrent: 2, leaderElection: { ...le, identity: "two" } });
      await one.start();
      await eventually("one leads", 10_000, () => one.isLeader);
      await two.start();
      await two.waitForSync();
      await eventually(
        "standby healthy",
        5_000,
        async () => (await fetch(`http://127.0.0.1:${two.port}/healthz`)).ok,
      );
      assert.equal(two.isLeader, false);
      assert.equal((await scrape(two, "brupop_controller_is_leader")).get(""), 0);

      await eventually("rollout under way", 15_000, async () =>
        (await listBrs(rest, ns)).some((b) => b.status?.current_state === "RebootedIntoUpdate"),
      );
      const crashedAt = performance.now();
      await one.stop({ releaseLease: false });
      await eventually("standby takes over", 25_000, () => two.isLeader);
      const took = performance.now() - crashedAt;
      process.stderr.write(`failover took ${(took / 1000).toFixed(1)} s\n`);
      assert.ok(took < 20_000, `took over after ${took} ms`);
      const lease = await ok(
        rest.request<{ spec: { holderIdentity: string; leaseTransitions: number } }>(
          "GET",
          `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/brupop-controller-leader`,
        ),
        "get lease",
      );
      assert.equal(lease.spec.holderIdentity, "two");
      assert.equal(lease.spec.leaseTransitions, 1);

      await eventually("rollout completes under the new leader", 40_000, async () =>
        allIdleOn(await listBrs(rest, ns), TO),
      );
      assert.ok(w.maxOutsideIdle <= 2, `max outside Idle ${w.maxOutsideIdle}`);
      assert.equal((await scrape(two, "brupop_controller_is_leader")).get(""), 1);
      // A clean stop hands the lease back.
      await two.stop();
      const released = await ok(
        rest.request<{ spec: { holderIdentity?: string | null } }>(
          "GET",
          `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/brupop-controller-leader`,
        ),
        "get lease",
      );
      assert.equal(released.spec.holderIdentity ?? null, null);
    }),
  );

  it(
    "deletes the shadow of a node that lost the updater-interface label",
    withLogs(async () => {
      const ns = "ctl-label";
      const [gone, kept] = await fleet(ns, "lbl-", 2, FROM);
      const c = controller(ns, {});
      await c.start();
      await eventually("a tick", 10_000, () => c.ticks >= 1);
      await ok(
        rest.request("PATCH", `/api/v1/nodes/${(gone as string).slice(4)}`, {
          body: { metadata: { labels: { [UPDATER_INTERFACE_LABEL]: null } } },
          contentType: "application/merge-patch+json",
        }),
        "remove label",
      );
      await eventually("shadow deleted", 10_000, async () => {
        const res = await rest.request("GET", `${shadowsPath(ns)}/${gone}`);
        return res.status === 404;
      });
      await getBrs(rest, ns, kept as string); // the labelled node keeps its shadow
      assert.equal((await scrape(c, "brupop_controller_shadow_deletes_total")).get('{outcome="ok"}'), 1);
    }),
  );

  it(
    "a write decided on a stale cache is refused (409) and re-decided on fresh data",
    withLogs(async () => {
      const ns = "ctl-stale";
      const [name] = await fleet(ns, "st-", 1);
      const w = await watcher(ns);
      await agents(ns);
      const gated = new GatedRest(cluster.kubeConfig);
      cleanups.push(() => Promise.resolve(gated.close()));
      const clock = new OffsetClock();
      clock.setTo("2030-01-01T02:00:00Z");
      const c = controller(ns, { cron: "* * 3 * * * *" }, { clock, rest: gated });
      await c.start();
      await eventually("a tick", 10_000, () => c.ticks >= 1);

      // The controller's cache stops seeing changes; meanwhile the node is offered a newer version.
      gated.paused = true;
      const before_ = await getBrs(rest, ns, name as string);
      await patchStatus(rest, ns, name as string, {
        ...(before_.status as ShadowStatus),
        target_version: "1.21.0",
      });
      // The window opens: the controller decides (on its stale copy) to start the update to 1.20.0.
      clock.setTo("2030-01-01T03:00:00Z");
      c.poke();
      await eventually("conflicts counted", 10_000, async () => {
        const writes = await scrape(c, "brupop_controller_spec_writes_total");
        return (writes.get('{outcome="conflict"}') ?? 0) >= 2;
      });
      const untouched = await getBrs(rest, ns, name as string);
      assert.equal(untouched.spec?.state, "Idle", "the stale decision was not written");
      assert.equal((await scrape(c, "brupop_controller_spec_writes_total")).get('{outcome="ok"}') ?? 0, 0);

      // The cache catches up: the next decision uses the fresh object and targets 1.21.0.
      gated.release();
      await eventually("updated to 1.21.0", 20_000, async () => allIdleOn(await listBrs(rest, ns), "1.21.0"));
      assert.deepEqual([...(w.specVersions.get(name as string) ?? [])].sort(), ["1.21.0", null].sort());
    }),
  );
});
