// One chaos schedule on a running cluster: a fresh testbed namespace with kwok nodes and simulated
// hosts, a workload under a PDB, two controller replicas with leader election, the observer, the
// faults at their instants, then every fault healed and the fleet left to settle. The verdict is the
// invariants (invariants.ts) over the observer's history; both are written under `dir`.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../src/log.js";
import { POLICY_COLLECTION_PATH } from "../../src/model/policy.js";
import { silentLogger } from "../../src/log.js";
import type { TestCluster } from "../testenv/cluster.js";
import { CutProxy } from "../testenv/cut-proxy.js";
import { eventually, kube } from "../testenv/kube-call.js";
import { BrupopTestbed } from "../testbed/testbed.js";
import { sortHistory, snapshotAt, type HistoryEvent } from "./history.js";
import { FaultInjector } from "./inject.js";
import { checkAll, finalOutcome, inFlight, type FinalOutcome, type Violation } from "./invariants.js";
import { ChaosObserver, now, ZONE_LABEL } from "./observer.js";
import type { Schedule } from "./schedule.js";
import { fleetFingerprint, fleetSettled, ProgressJudge } from "./settle.js";
import { accessVia, ChaosWorld } from "./world.js";
import { startKubeletPlay, type KubeletPlay } from "../testenv/kubelet-play.js";
import { RawKubeRest } from "../testenv/raw-rest.js";

export const FROM = "1.19.0";
export const TO = "1.20.0";
/** The testbed labels its Nodes with this and the namespace (kit/testbed/testbed.ts). */
const TESTBED_LABEL = "brupop-e2e/testbed";
const APP = "chaos-web";
const LEASE = "brupop-controller-leader";

export interface RunOptions {
  cluster: TestCluster;
  schedule: Schedule;
  /** Where history.jsonl and verdict.json go (created). */
  dir: string;
  /** Unique on the cluster. */
  namespace: string;
  /**
   * After the heal, the fleet fails to settle when nothing it does changed for this long (default
   * 120 s: longer than a drain's 60 s deadline here, so a drain that gives up shows as a change), or
   * at `settleCapMs`. Judged by progress, not a fixed wait: a loaded machine is slow, a stuck fleet
   * is still (settle.ts).
   */
  settleMs?: number;
  /** The hard cap on the settle (default 5 × settleMs). */
  settleCapMs?: number;
  logger?: Logger;
}

export interface RunResult {
  seed: number;
  namespace: string;
  dir: string;
  faultsInjected: number;
  faultErrors: string[];
  testbedErrors: string[];
  outcome: FinalOutcome;
  settled: boolean;
  violations: Violation[];
  history: HistoryEvent[];
  durationMs: number;
}

export async function runSchedule(opts: RunOptions): Promise<RunResult> {
  const t0 = performance.now();
  const { cluster, schedule, namespace: ns } = opts;
  const logger = opts.logger ?? silentLogger();
  await mkdir(opts.dir, { recursive: true });
  const policyName = `chaos-${ns}`;
  // brupop's apiserver and controllers reach kube-apiserver through one proxy ("cut-connections"),
  // the agents' watches through another ("cut-agent-connections"); the observer directly.
  const target = { host: "127.0.0.1", port: Number(new URL(cluster.server).port) };
  const proxy = await CutProxy.start(target);
  const agentProxy = await CutProxy.start(target);
  const closeProxies = async (): Promise<void> => {
    await proxy.close();
    await agentProxy.close();
  };
  const tb = await BrupopTestbed.start({
    kubeAccess: {
      apiserver: accessVia(cluster.kubeConfig, `https://127.0.0.1:${proxy.port}`),
      agents: accessVia(cluster.kubeConfig, `https://127.0.0.1:${agentProxy.port}`),
    },
    cluster,
    namespace: ns,
    releases: [{ version: TO }],
    hostDurations: { refresh: 100, prepare: 800, activate: 200, deactivate: 100, reboot: 1_000 },
    agentTimings: { loopIntervalMs: 1_000, updateCheckIntervalMs: 2_000, excludeFromLbWaitMs: 0 },
    drain: { timeoutMs: 60_000 },
    logger,
  }).catch(async (err: unknown) => {
    await closeProxies();
    throw err;
  });
  let observer: ChaosObserver | undefined;
  let world: ChaosWorld | undefined;
  let injector: FaultInjector | undefined;
  let kubelets: KubeletPlay | undefined;
  try {
    const nodes = await tb.addNodes(schedule.nodes, { version: FROM, namePrefix: `${ns}-n` });
    for (const [i, node] of nodes.entries()) {
      await kube(
        tb.rest,
        "PATCH",
        `/api/v1/nodes/${node}`,
        { metadata: { labels: { [ZONE_LABEL]: schedule.zones[i] } } },
        {
          contentType: "application/merge-patch+json",
        },
      );
    }
    await tb.waitForAll(
      nodes,
      `Idle, offered ${TO}`,
      (s) => s.current_state === "Idle" && s.target_version === TO,
      60_000,
    );
    await startWorkload(tb, schedule);

    observer = new ChaosObserver({
      kubeConfig: cluster.kubeConfig,
      namespace: ns,
      nodeSelector: `${TESTBED_LABEL}=${ns}`,
      podSelector: `app=${APP}`,
      policyName,
      leaseName: LEASE,
      file: join(opts.dir, "history.jsonl"),
    });
    const obs = observer;
    obs.record({ t: now(), kind: "meta", schedule, nodes, fromVersion: FROM, targetVersion: TO });
    tb.fleet.on("reboot", (e) =>
      obs.record({
        t: now(),
        kind: "reboot",
        node: e.hostId,
        from: e.fromVersion,
        to: e.toVersion,
        rollback: e.rollback,
      }),
    );
    tb.fleet.on("rebooted", (e) =>
      obs.record({ t: now(), kind: "rebooted", node: e.hostId, version: e.version }),
    );
    await obs.start();

    world = new ChaosWorld({
      testbed: tb,
      proxy,
      agentProxy,
      maxConcurrent: schedule.maxConcurrent,
      policyName,
      leaseName: LEASE,
      replicas: schedule.replicas,
      onWrite: (e) => obs.record(e),
      logger,
    });
    injector = new FaultInjector({ world, nodes, record: (e) => obs.record(e), policyName });
    kubelets = startKubeletPlay(cluster.kubeConfig, nodes);
    for (let i = 0; i < schedule.replicas; i++) await world.startController(i);
    obs.record({ t: now(), kind: "phase", phase: "rollout" });
    injector.start(schedule.faults);
    await sleep(schedule.faultWindowMs);
    await injector.healAll();
    obs.record({ t: now(), kind: "phase", phase: "heal" });
    const quietMs = opts.settleMs ?? 120_000;
    const gaveUp = await settle(obs, world, nodes, quietMs, opts.settleCapMs ?? 5 * quietMs);
    const settled = gaveUp === undefined;
    // Trailing events (the last uncordon, the last status) reach the observer a little later.
    await sleep(1_500);
    obs.record({
      t: now(),
      kind: "phase",
      phase: settled ? "settled" : "timeout",
      ...(gaveUp !== undefined && { reason: gaveUp }),
    });

    const history = sortHistory(obs.history);
    const result: RunResult = {
      seed: schedule.seed,
      namespace: ns,
      dir: opts.dir,
      faultsInjected: injector.injected,
      faultErrors: [...injector.errors],
      testbedErrors: tb.errors.map((e) => e.message),
      outcome: finalOutcome(history),
      settled,
      violations: checkAll(history),
      history,
      durationMs: Math.round(performance.now() - t0),
    };
    const { history: _h, ...verdict } = result;
    await writeFile(join(opts.dir, "verdict.json"), `${JSON.stringify(verdict, null, 2)}\n`);
    return result;
  } finally {
    injector?.detach();
    await kubelets?.stop();
    await world?.stop();
    await observer?.stop();
    await tb.stop();
    await closeProxies();
    await cleanUp(tb, ns, policyName);
  }
}

async function startWorkload(tb: BrupopTestbed, schedule: Schedule): Promise<void> {
  const ns = tb.namespace;
  const app = { app: APP };
  await kube(tb.rest, "POST", `/apis/apps/v1/namespaces/${ns}/deployments`, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: APP },
    spec: {
      replicas: schedule.workload.pods,
      selector: { matchLabels: app },
      template: {
        metadata: { labels: app },
        spec: { nodeSelector: { [TESTBED_LABEL]: ns }, containers: [{ name: "web", image: "chaos/web:1" }] },
      },
    },
  });
  await kube(tb.rest, "POST", `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`, {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name: APP },
    spec: { minAvailable: schedule.workload.minAvailable, selector: { matchLabels: app } },
  });
  await eventually("the workload ready under its PDB", 60_000, async () => {
    const pdb = await kube<{
      metadata: { generation?: number };
      status?: { currentHealthy?: number; observedGeneration?: number };
    }>(tb.rest, "GET", `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/${APP}`);
    return (
      pdb.status?.currentHealthy === schedule.workload.pods &&
      pdb.status.observedGeneration === pdb.metadata.generation
    );
  });
}

/**
 * Waits until every node is on TO, Idle and uncordoned as the observer sees it, while the fleet keeps
 * changing (ProgressJudge); undefined when it did, else why it gave up. Nodes waiting out a crash back-off would take minutes of real time: when
 * nothing is in flight and some node has failed, the controllers' clock steps 30 min (recorded).
 */
async function settle(
  obs: ChaosObserver,
  world: ChaosWorld,
  nodes: readonly string[],
  quietMs: number,
  capMs: number,
): Promise<string | undefined> {
  const judge = new ProgressJudge({ startMs: performance.now(), quietMs, capMs });
  let lastStep = performance.now();
  for (;;) {
    const s = snapshotAt(sortHistory(obs.history), Number.POSITIVE_INFINITY);
    const shadows = nodes.map((n) => s.shadows.get(n));
    if (fleetSettled(s, nodes, TO)) return undefined;
    const verdict = judge.observe(fleetFingerprint(s, nodes), performance.now());
    if (verdict !== "waiting") {
      const quiet = Math.round((performance.now() - judge.lastChangeMs) / 1_000);
      return `${verdict}: no change for ${quiet} s`;
    }
    const flying = shadows.some((sh) => sh !== undefined && inFlight(sh));
    const waiting = shadows.some((sh) => (sh?.status?.crash ?? 0) > 0 && sh?.status?.version !== TO);
    if (!flying && waiting && performance.now() - lastStep > 5_000) {
      world.clock.advance(30 * 60_000);
      lastStep = performance.now();
      obs.record({ t: now(), kind: "fault", phase: "heal", fault: 'settle: clock-step {"ms":1800000}' });
    }
    await sleep(250);
  }
}

/** Best effort: the policy, the nodes and the namespace go (the cluster may run more schedules). */
async function cleanUp(tb: BrupopTestbed, ns: string, policyName: string): Promise<void> {
  const rest = new RawKubeRest(tb.cluster.kubeConfig);
  try {
    await rest.request("DELETE", `${POLICY_COLLECTION_PATH}/${policyName}`);
    for (const node of tb.nodes) await rest.request("DELETE", `/api/v1/nodes/${node}`);
    await rest.request("DELETE", `/api/v1/namespaces/${ns}`);
  } finally {
    rest.close();
  }
}
