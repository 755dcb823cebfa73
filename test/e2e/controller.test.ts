// The brupop controller end to end, with nothing faked: a real control plane (etcd, kube-apiserver,
// controller-manager, scheduler, kwok), and per scenario a BrupopTestbed (the in-process brupop
// apiserver with real TLS and bound tokens, simulated Bottlerocket hosts, real in-process agents
// restarted around reboots) driven by the real in-process Controller.
// One cluster for the whole file; every scenario has its own testbed namespace and nodes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ManualClock } from "../../src/clock.js";
import type { Controller, ControllerTuning } from "../../src/controller/run/controller.js";
import type { ControllerSettings } from "../../src/controller/run/settings.js";
import { ROUND_LAST_FIRE_KEY, ROUND_OPEN_KEY } from "../../src/controller/decide/gate.js";
import { DEFAULT_STATE_CONFIGMAP } from "../../src/controller/act/round-store.js";
import { parseSchedule } from "../../src/controller/decide/schedule.js";
import { type Query } from "../../src/k8s/rest.js";
import { PLURAL, UPDATER_INTERFACE_LABEL, shadowNameForNode } from "../../src/model/constants.js";
import type { ShadowStatus } from "../../src/model/shadow.js";
import { createWorkload } from "../kit/fixtures.js";
import { bindKube, eventually, kube } from "../kit/kube.js";
import type { BrupopTestbed } from "../kit/testbed.js";
import { FleetWatcher, HealthyPodsWatcher, shadowsPath, type RawBrs } from "../kit/watchers.js";
import { RawKubeRest } from "../../kit/testenv/raw-rest.js";
import { E2eScenarios, e2eLogger, elapsed, type ControllerDepsOverride } from "../kit/e2e.js";

const FROM = "1.19.0";
const TO = "1.20.0";
const TICK_MS = 500;
const HOST_DURATIONS = { refresh: 100, prepare: 300, activate: 100, deactivate: 100, reboot: 500 };
const AGENT_TIMINGS = { loopIntervalMs: 1_000, updateCheckIntervalMs: 2_000, excludeFromLbWaitMs: 0 };

const logger = e2eLogger;

/** KubeRest whose shadow watch events can be held back: a controller with a stale cache. */
class GatedRest extends RawKubeRest {
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

async function listBrs(rest: RawKubeRest, ns: string): Promise<RawBrs[]> {
  return (await kube<{ items: RawBrs[] }>(rest, "GET", shadowsPath(ns))).items;
}

/** `name{labels} value` samples of one metric family, from the controller's own registry. */
async function scrape(controller: Controller, name: string): Promise<Map<string, number>> {
  const text = await controller.metrics.text();
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

describe("brupop controller (real control plane, real agents, simulated hosts)", { timeout: 300_000 }, () => {
  const e2e = new E2eScenarios({
    timings: { tickMs: TICK_MS, hostDurations: HOST_DURATIONS, agentTimings: AGENT_TIMINGS },
    to: TO,
    maxConcurrent: 2,
    checkTestbeds: true,
    timed: true,
    name: "controller e2e",
  });

  /**
   * n nodes on `version` with running agents; resolves once every agent has created its shadow and
   * reported the version its host offers (`target`), so the controller sees the whole fleet at once.
   */
  const fleet = (
    tb: BrupopTestbed,
    prefix: string,
    n: number,
    opts: { version?: string; target?: string; labels?: Record<string, string> } = {},
  ): Promise<string[]> => e2e.offered(tb, prefix, n, { ...opts, version: opts.version ?? FROM });

  /** A controller replica with its own connections, like a separate pod; `cron` its schedule. */
  function controller(
    tb: BrupopTestbed,
    config: Partial<ControllerSettings> & { cron?: string; http?: ControllerTuning["http"] },
    deps: ControllerDepsOverride = {},
  ): Controller {
    const { cron, http = null, ...settings } = config;
    const schedule = parseSchedule(cron ?? "* * * * * * *", deps.clock?.now() ?? new Date());
    return e2e.controller(tb, { schedule, ...settings }, deps, { http });
  }

  async function watcher(tb: BrupopTestbed): Promise<FleetWatcher> {
    const w = new FleetWatcher(tb.rest, tb.namespace, logger);
    e2e.cleanup(() => w.stop());
    await w.start();
    return w;
  }

  /** The controller's Events on the testbed's Nodes (they live in `default`; issue 30: once, on the Node). */
  async function events(tb: BrupopTestbed) {
    return (
      await kube<{
        items: { reason: string; type: string; involvedObject: { name: string; kind: string } }[];
      }>(tb.rest, "GET", "/api/v1/namespaces/default/events")
    ).items.filter((e) => e.involvedObject.kind === "Node");
  }

  before(() => e2e.start());
  after(() => e2e.stop());

  it(
    "rolls 5 nodes 1.19.0 → 1.20.0 under a PDB: never more than 2 outside Idle, PDB never violated, metrics match",
    e2e.run(async () => {
      const tb = await e2e.testbed("ctl-rollout");
      const pool = { "brupop-e2e/pool": "rollout" };
      const names = await fleet(tb, "ro-", 5, { labels: pool });

      // A workload on those nodes, guarded by a PodDisruptionBudget: drains must respect it.
      const app = { app: "web" };
      const minAvailable = 4;
      await createWorkload(bindKube(tb.rest), tb.namespace, "Deployment", "web", {
        replicas: 5,
        nodeSelector: pool,
        image: "e2e/web:1",
      });
      await kube(tb.rest, "POST", `/apis/policy/v1/namespaces/${tb.namespace}/poddisruptionbudgets`, {
        apiVersion: "policy/v1",
        kind: "PodDisruptionBudget",
        metadata: { name: "web" },
        spec: { minAvailable, selector: { matchLabels: app } },
      });
      const pods = new HealthyPodsWatcher(tb.rest, tb.namespace, "app=web", logger);
      e2e.cleanup(() => pods.stop());
      await pods.start();
      await eventually("5 workload pods ready", 60_000, () => pods.healthy() === 5);
      await eventually("the PDB allows one disruption", 30_000, async () => {
        const pdb = await kube<{ status?: { disruptionsAllowed?: number; currentHealthy?: number } }>(
          tb.rest,
          "GET",
          `/apis/policy/v1/namespaces/${tb.namespace}/poddisruptionbudgets/web`,
        );
        return pdb.status?.currentHealthy === 5 && pdb.status.disruptionsAllowed === 1;
      });
      pods.arm();

      const w = await watcher(tb);
      const c = controller(tb, { maxConcurrent: 2 });
      const t0 = performance.now();
      await c.start();
      await eventually("all five Idle on 1.20.0", 60_000, async () =>
        allIdleOn(await listBrs(tb.rest, tb.namespace), TO),
      );
      process.stderr.write(`  rollout of 5 nodes took ${elapsed(t0)}\n`);
      assert.equal(w.maxOutsideIdle, 2, "the limit was used and never exceeded");
      assert.ok(pods.deleted.size > 0, "drains evicted workload pods");
      assert.equal(pods.minHealthy, minAvailable, "healthy pods dipped to the PDB minimum, never below");
      assert.equal(tb.reboots.length, 5);
      for (const node of names) assert.equal(tb.fleet.host(node).version, TO, `${node} runs ${TO}`);

      await eventually("metrics show the final fleet", 10_000, async () => {
        const states = await scrape(c, "brupop_hosts_state");
        return states.get('{state="Idle"}') === 5;
      });
      const states = await scrape(c, "brupop_hosts_state");
      for (const s of ["StagedAndPerformedUpdate", "RebootedIntoUpdate", "MonitoringUpdate", "ErrorReset"]) {
        assert.equal(states.get(`{state="${s}"}`), 0, s);
      }
      // 1.19.0 left the fleet: like upstream its series stays, at 0.
      assert.deepEqual(
        await scrape(c, "brupop_hosts_version"),
        new Map([
          [`{bottlerocket_version="${FROM}"}`, 0],
          [`{bottlerocket_version="${TO}"}`, 5],
        ]),
      );
      assert.equal((await scrape(c, "brupop_updates_started_total")).get(""), 5);
      assert.equal((await scrape(c, "brupop_updates_succeeded_total")).get(""), 5);
      assert.equal((await scrape(c, "brupop_updates_failed_total")).get(""), 0);
      assert.equal((await scrape(c, "brupop_controller_is_leader")).get(""), 1);

      // An Event on each Node for the start and the completion: 2 per node (issue 30).
      await eventually("events recorded", 10_000, async () => {
        const mine = await events(tb);
        return names.every((node) => {
          const of = mine.filter((e) => e.involvedObject.name === node);
          return (
            of.filter((e) => e.reason === "StartUpdate").length === 1 &&
            of.filter((e) => e.reason === "Progress").length === 1 &&
            !of.some((e) => e.reason === "Recover")
          );
        });
      });
    }),
  );

  it(
    "a closed window starts nothing; a trigger time opens a round that survives a controller crash",
    e2e.run(async () => {
      const tb = await e2e.testbed("ctl-schedule");
      await fleet(tb, "sch-", 3);
      const w = await watcher(tb);
      const ns = tb.namespace;

      // Window 03:00-03:59 UTC, now 02:00: several ticks, nothing starts.
      const clock = new ManualClock("2030-01-01T02:00:00Z");
      const closed = controller(tb, { cron: "* * 3 * * * *", maxConcurrent: "unlimited" }, { clock });
      await closed.start();
      await eventually("three ticks", 10_000, () => closed.ticks >= 3);
      assert.ok((await listBrs(tb.rest, ns)).every((b) => b.spec?.state === "Idle"));
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
      clock.set("2030-01-01T02:59:58Z");
      const first = controller(tb, { cron: "0 0 3 * * * *", maxConcurrent: 1 }, { clock });
      await first.start();
      const state = async () =>
        (
          await kube<{ data?: Record<string, string> }>(
            tb.rest,
            "GET",
            `/api/v1/namespaces/${ns}/configmaps/${DEFAULT_STATE_CONFIGMAP}`,
          )
        ).data ?? {};
      await eventually(
        "round state initialised",
        10_000,
        async () => (await state())[ROUND_OPEN_KEY] === "false",
      );
      assert.equal((await state())[ROUND_LAST_FIRE_KEY], "2029-12-31T03:00:00.000Z");
      const ticks = first.ticks;
      await eventually("three more ticks", 10_000, () => first.ticks >= ticks + 3);
      assert.equal(w.maxOutsideIdle, 0, "nothing starts before the fire time");

      clock.set("2030-01-01T03:00:01Z");
      first.poke();
      await eventually("the round opens and a node starts", 10_000, async () =>
        (await listBrs(tb.rest, ns)).some((b) => b.spec?.state !== "Idle"),
      );
      const persisted = await state();
      assert.equal(persisted[ROUND_OPEN_KEY], "true");
      assert.equal(persisted[ROUND_LAST_FIRE_KEY], "2030-01-01T03:00:00.000Z");

      // Crash (no clean-up at all) and start a new controller: it must carry on with the open round.
      await first.stop({ releaseLease: false });
      clock.set("2030-01-01T03:00:05Z");
      const second = controller(tb, { cron: "0 0 3 * * * *", maxConcurrent: 1 }, { clock });
      await second.start();
      await eventually("all three updated", 60_000, async () => allIdleOn(await listBrs(tb.rest, ns), TO));
      assert.equal(w.maxOutsideIdle, 1);
      await eventually("the round closes", 10_000, async () => (await state())[ROUND_OPEN_KEY] === "false");
    }),
  );

  it(
    "a host failing its prepare: ErrorReset → Idle with crash_count 1, retried only after its back-off",
    e2e.run(async () => {
      const tb = await e2e.testbed("ctl-backoff");
      const [bad, ...good] = (await fleet(tb, "bo-", 3)) as [string, ...string[]];
      const badShadow = shadowNameForNode(bad);
      tb.fleet.host(bad).failCommand("prepare", { times: 1, stderr: "e2e: injected prepare failure" });
      const prepares = new Map<string, number>();
      tb.onCall = (node, call, phase) => {
        if (call === "host.prepare" && phase === "before") prepares.set(node, (prepares.get(node) ?? 0) + 1);
      };
      // The controller's clock stands still until we move it: the back-off cannot expire on its own.
      const w = await watcher(tb);
      const clock = new ManualClock(Date.now());
      const c = controller(tb, { maxConcurrent: 2 }, { clock });
      await c.start();

      await eventually("the others updated, the failed node back in Idle", 60_000, async () => {
        const items = await listBrs(tb.rest, tb.namespace);
        const others = items.filter((b) => good.some((n) => shadowNameForNode(n) === b.metadata?.name));
        const failed = items.find((b) => b.metadata?.name === badShadow);
        return (
          others.length === 2 &&
          allIdleOn(others, TO) &&
          failed?.spec?.state === "Idle" &&
          failed.status?.current_state === "Idle" &&
          failed.status.crash_count === 1
        );
      });
      // Several ticks later it still waits: upstream's back-off, whole minutes > 2^1, i.e. 3 min.
      const ticks = c.ticks;
      await eventually("three more ticks", 10_000, () => c.ticks >= ticks + 3);
      const waiting = await tb.shadow(bad);
      assert.equal(waiting.spec?.state, "Idle");
      assert.equal(waiting.status?.current_version, FROM);
      assert.equal(waiting.status?.crash_count, 1);
      const failedAt = Date.parse(waiting.status?.state_transition_failure_timestamp ?? "");
      assert.ok(Number.isFinite(failedAt), "the agent recorded when it failed");
      const why = c.explain().find((e) => e.shadow === badShadow);
      assert.deepEqual(why?.reason, {
        kind: "backoff",
        until: new Date(failedAt + 180_000),
        crashCount: 1,
        targetVersion: TO,
      });
      assert.deepEqual(w.statusHistory.get(badShadow), ["Idle", "ErrorReset", "Idle"]);
      assert.equal((await scrape(c, "brupop_updates_failed_total")).get(""), 1);
      assert.equal(prepares.get(bad), 1);
      const recovered = (await events(tb)).filter(
        (e) => e.reason === "Recover" && e.involvedObject.name === bad,
      );
      assert.equal(recovered.length, 1);
      assert.equal(recovered[0]?.type, "Warning");

      // Just before the back-off ends nothing happens; past it the node is retried and succeeds.
      clock.set(failedAt + 179_999); // 2 whole minutes: not more than 2^1
      const t1 = c.ticks;
      c.poke();
      await eventually("a tick just before the back-off ends", 10_000, () => c.ticks >= t1 + 2);
      assert.equal((await tb.shadow(bad)).spec?.state, "Idle");
      clock.set(failedAt + 180_000);
      c.poke();
      await eventually("the failed node retried and updated", 30_000, async () =>
        allIdleOn(await listBrs(tb.rest, tb.namespace), TO),
      );
      const done = await tb.shadow(bad);
      assert.equal(done.status?.crash_count, 0, "a complete cycle resets the crash count");
      assert.equal(prepares.get(bad), 2, "prepared once more, after the back-off");
      assert.equal(tb.fleet.host(bad).version, TO);
      assert.ok(w.maxOutsideIdle <= 2, `max outside Idle ${w.maxOutsideIdle}`);
    }),
  );

  it(
    "fails over to a standby replica after the leader crashes mid-rollout; the limit holds",
    e2e.run(async () => {
      const tb = await e2e.testbed("ctl-failover");
      await fleet(tb, "fo-", 5);
      const w = await watcher(tb);
      const ns = tb.namespace;
      const le = {
        leaderElect: true,
        leaseName: "brupop-controller-leader",
        leaseDurationMs: 4_000,
        renewDeadlineMs: 3_000,
        retryPeriodMs: 1_000,
      };
      const one = controller(tb, { maxConcurrent: 2, ...le, podName: "one" });
      const two = controller(tb, {
        maxConcurrent: 2,
        ...le,
        podName: "two",
        http: { port: 0, host: "127.0.0.1" },
      });
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

      await eventually("rollout under way", 30_000, async () =>
        (await listBrs(tb.rest, ns)).some((b) => b.status?.current_state === "RebootedIntoUpdate"),
      );
      const crashedAt = performance.now();
      await one.stop({ releaseLease: false });
      assert.ok(!allIdleOn(await listBrs(tb.rest, ns), TO), "the leader crashed before the rollout was done");
      await eventually("standby takes over", 20_000, () => two.isLeader);
      const took = performance.now() - crashedAt;
      process.stderr.write(`  failover took ${(took / 1000).toFixed(1)} s\n`);
      assert.ok(took >= 2_000, `took over after ${took} ms: only once the unreleased lease expired`);
      const lease = await kube<{ spec: { holderIdentity: string; leaseTransitions: number } }>(
        tb.rest,
        "GET",
        `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/brupop-controller-leader`,
      );
      assert.equal(lease.spec.holderIdentity, "two");
      assert.equal(lease.spec.leaseTransitions, 1);

      await eventually("rollout completes under the new leader", 60_000, async () =>
        allIdleOn(await listBrs(tb.rest, ns), TO),
      );
      assert.ok(w.maxOutsideIdle <= 2, `max outside Idle ${w.maxOutsideIdle}`);
      assert.equal(tb.reboots.length, 5);
      assert.equal((await scrape(two, "brupop_controller_is_leader")).get(""), 1);
      // A clean stop hands the lease back.
      await two.stop();
      const released = await kube<{ spec: { holderIdentity?: string | null } }>(
        tb.rest,
        "GET",
        `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/brupop-controller-leader`,
      );
      assert.equal(released.spec.holderIdentity ?? null, null);
    }),
  );

  it(
    "deletes the shadow of a node that lost the updater-interface label",
    e2e.run(async () => {
      const tb = await e2e.testbed("ctl-label");
      // Already on the newest version: nothing to update, only the clean-up is under test.
      const [gone, kept] = (await fleet(tb, "lbl-", 2, { version: TO, target: TO })) as [string, string];
      const c = controller(tb, {});
      await c.start();
      await eventually("a tick", 10_000, () => c.ticks >= 1);
      await kube(
        tb.rest,
        "PATCH",
        `/api/v1/nodes/${gone}`,
        { metadata: { labels: { [UPDATER_INTERFACE_LABEL]: null } } },
        { contentType: "application/merge-patch+json" },
      );
      // The agent DaemonSet no longer selects the node: its pod (our agent) goes away.
      tb.killAgent(gone);
      await eventually("shadow deleted", 10_000, async () => {
        const res = await tb.rest.request("GET", `${shadowsPath(tb.namespace)}/${shadowNameForNode(gone)}`);
        return res.status === 404;
      });
      await tb.shadow(kept); // the labelled node keeps its shadow
      assert.equal((await scrape(c, "brupop_controller_shadow_deletes_total")).get('{outcome="ok"}'), 1);
    }),
  );

  it(
    "a write decided on a stale cache is refused (409) and re-decided on fresh data",
    e2e.run(async () => {
      const tb = await e2e.testbed("ctl-stale");
      const [node] = (await fleet(tb, "st-", 1)) as [string];
      const name = shadowNameForNode(node);
      const w = await watcher(tb);
      const gated = new GatedRest(e2e.cluster.kubeConfig);
      const clock = new ManualClock("2030-01-01T02:00:00Z");
      const c = controller(tb, { cron: "* * 3 * * * *" }, { clock, rest: gated });
      await c.start();
      await eventually("a tick", 10_000, () => c.ticks >= 1);

      // The controller's cache stops seeing changes; meanwhile the host is offered a newer version
      // and the agent reports it.
      gated.paused = true;
      tb.fleet.releases.add({ version: "1.21.0" });
      await tb.waitForStatus(node, "offered 1.21.0", (s: ShadowStatus) => s.target_version === "1.21.0");
      // The window opens: the controller decides (on its stale copy) to start the update to 1.20.0.
      clock.set("2030-01-01T03:00:00Z");
      c.poke();
      await eventually("conflicts counted", 10_000, async () => {
        const writes = await scrape(c, "brupop_controller_spec_writes_total");
        return (writes.get('{outcome="conflict"}') ?? 0) >= 2;
      });
      const untouched = await tb.shadow(node);
      assert.equal(untouched.spec?.state, "Idle", "the stale decision was not written");
      assert.equal((await scrape(c, "brupop_controller_spec_writes_total")).get('{outcome="ok"}') ?? 0, 0);

      // The cache catches up: the next decision uses the fresh object and targets 1.21.0.
      gated.release();
      await eventually("updated to 1.21.0", 30_000, async () =>
        allIdleOn(await listBrs(tb.rest, tb.namespace), "1.21.0"),
      );
      assert.deepEqual([...(w.specVersions.get(name) ?? [])].sort(), ["1.21.0", null].sort());
      assert.equal(tb.fleet.host(node).version, "1.21.0");
    }),
  );
});
