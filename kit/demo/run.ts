// `brupop demo`: a live local fleet. A real control plane (kube-apiserver, etcd, controller-manager,
// scheduler, kwok), N simulated Bottlerocket hosts as kwok nodes, a workload guarded by a
// PodDisruptionBudget, a DaemonSet the agents' health gate checks after each reboot (health.ts), and
// brupop's apiserver, controller and agents running in this process exactly as in a cluster: same
// code, real TLS, real bound service-account tokens, real drains.
//
// The view reads the fleet the way `brupop status` does (StatusReader + buildFleetStatus), so each
// waiting or stuck node says why: slot full, back-off, window closed, drain blocked by a PDB, agent
// silent.
import { setTimeout as sleep } from "node:timers/promises";
import type { RawKubeRest } from "../testenv/raw-rest.js";
import type { Logger } from "pino";
import { BrupopTestbed } from "../testbed/testbed.js";
import { Controller } from "../../src/controller/run/controller.js";
import type { ConcurrencyLimit } from "../../src/controller/decide/decisions.js";
import { parseSchedule } from "../../src/controller/decide/schedule.js";
import type { CommandResult } from "../../src/bottlerocket/types.js";
import { BrupopError } from "../../src/errors.js";
import { buildFleetStatus } from "../../src/status/core.js";
import { StatusReader } from "../../src/status/fetch.js";
import { startCluster } from "../testenv/cluster.js";
import { NO_HEALTH_CHECKS } from "../../src/agent/health.js";
import { FailureLog } from "./failures.js";
import { DemoHealth } from "./health.js";
import {
  applyPolicy,
  labelNodes,
  performAction,
  type PlaygroundDeps,
  type PolicyManifest,
} from "./playground.js";
import { GROUP_LABEL, KEY_FOOTER, keyAction, nodeLabels, type ScriptStep } from "./script.js";
import { DEFAULT_POLICY_NAME } from "../../src/model/policy.js";
import { policyLine } from "../../src/status/table.js";
import { FROM_VERSION, NODE_PREFIX, TO_VERSION } from "./plan.js";
import { LiveScreen } from "../../src/status/screen.js";
import {
  demoRows,
  diffLines,
  failureText,
  formatElapsed,
  renderFrame,
  renderSummary,
  renderTimeout,
  scheduleNotice,
  type DemoRow,
  type NodeTiming,
  type TermSize,
} from "./view.js";

export { FROM_VERSION, TO_VERSION };
const WORKLOAD_NAMESPACE = "default";

export interface DemoOptions {
  nodes: number;
  maxConcurrent: ConcurrencyLimit;
  cron: string;
  /** Node whose host fails its first prepare (it recovers after its crash back-off). */
  failHost?: string | undefined;
  /** maxUnavailable of the workload's PodDisruptionBudget (0 blocks every drain). */
  pdbMaxUnavailable: number;
  /** Short host command times. */
  speed: boolean;
  /** Keep the cluster running after the rollout until interrupted. */
  keep: boolean;
  /** Only a cluster (with labelled nodes), brupop not installed: for trying the charts. */
  bare: boolean;
  /** Real nodes (kubelets, containerd, real pods; root only) instead of kwok nodes. */
  realNodes?: boolean;
  /** Give up after this long. */
  timeoutMs: number;
  out: NodeJS.WritableStream;
  /** stdout is a terminal: full-screen live view. */
  tty: boolean;
  /** Terminal size (read at each frame: it may change). */
  size: () => TermSize;
  logger: Logger;
  /** Where --verbose logs go, said at start (undefined: not logging, or to stderr). */
  logFile?: string | undefined;
  signal: AbortSignal;
  /** `--script`: actions at times from the rollout's start (checked before anything starts). */
  script?: readonly ScriptStep[] | undefined;
  /** `--policy`: the UpdatePolicy applied at start. */
  policy?: PolicyManifest | undefined;
  /** `--zones`: zone labels, round-robin (0: none). */
  zones?: number | undefined;
  /** `--groups NAME=COUNT`: the first COUNT nodes get GROUP_LABEL=NAME. */
  group?: { name: string; count: number } | undefined;
}

/** What the live view reads: the cluster, and the hosts' last commands where it can see them. */
export interface RolloutSource {
  rest: RawKubeRest;
  namespace: string;
  server: string;
  kubeconfigPath: string;
  /** The host's most recent command (in-process hosts), or null when unknown. */
  lastCommand(node: string): CommandResult | null;
  /** The playground's actions (kwok demo only). */
  playground?: PlaygroundDeps;
}

/**
 * The agents' timings: the health gate's soak after a reboot, and MonitoringUpdate's time limit (a
 * node whose DaemonSet pod stays not Ready fails with Unhealthy once it passes).
 */
export function agentTimings(speed: boolean) {
  return {
    loopIntervalMs: 1_000,
    updateCheckIntervalMs: 2_000,
    excludeFromLbWaitMs: 0,
    healthSoakMs: speed ? 1_000 : 3_000,
    stateTimeLimitsMs: { MonitoringUpdate: speed ? 15_000 : 30_000 },
  };
}

/** Host timings: long enough to watch each step, or short (`--speed`). */
export function hostDurations(speed: boolean) {
  return speed
    ? { refresh: 100, prepare: 300, activate: 100, deactivate: 100, reboot: 500 }
    : { refresh: 500, prepare: 3_000, activate: 500, deactivate: 500, reboot: 3_000 };
}

async function createWorkload(rest: RawKubeRest, replicas: number, maxUnavailable: number): Promise<void> {
  const labels = { app: "demo-web" };
  const post = async (path: string, body: unknown) => {
    const res = await rest.request("POST", path, { body });
    if (res.status !== 201 && res.status !== 409) {
      throw new BrupopError("BRUPOP_E_UPSTREAM", `POST ${path}: HTTP ${res.status}`, { body: res.body });
    }
  };
  await post(`/apis/apps/v1/namespaces/${WORKLOAD_NAMESPACE}/deployments`, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "demo-web" },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [{ name: "web", image: "demo/web:1" }],
          // One pod per node where possible, so every drain has a pod to evict under the PDB.
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: "kubernetes.io/hostname",
              whenUnsatisfiable: "ScheduleAnyway",
              labelSelector: { matchLabels: labels },
            },
          ],
        },
      },
    },
  });
  await post(`/apis/policy/v1/namespaces/${WORKLOAD_NAMESPACE}/poddisruptionbudgets`, {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name: "demo-web" },
    spec: { maxUnavailable, selector: { matchLabels: labels } },
  });
}

/** Waits until the workload's pods are all Ready (at most 60 s; the demo goes on regardless). */
async function waitForWorkload(rest: RawKubeRest, replicas: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !signal.aborted) {
    const res = await rest.request<{ status?: { readyReplicas?: number } }>(
      "GET",
      `/apis/apps/v1/namespaces/${WORKLOAD_NAMESPACE}/deployments/demo-web`,
    );
    if (res.status === 200 && (res.body.status?.readyReplicas ?? 0) >= replicas) return;
    await sleep(250, undefined, { signal }).catch(() => undefined);
  }
}

/** Resolves on abort; keeps the process alive until then (the cluster's processes are not handles). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  const alive = setInterval(() => undefined, 60_000);
  return new Promise((resolve) =>
    signal.addEventListener(
      "abort",
      () => {
        clearInterval(alive);
        resolve();
      },
      { once: true },
    ),
  );
}

/** `--bare`: a cluster with labelled nodes and nothing of brupop, until Ctrl-C. */
async function runBare(opts: DemoOptions): Promise<number> {
  const say = (line: string) => opts.out.write(`${line}\n`);
  say(
    "starting a local Kubernetes control plane (kube-apiserver, etcd, controller-manager, scheduler, kwok)…",
  );
  const cluster = await startCluster();
  try {
    const names = await cluster.addNodes(opts.nodes, {
      namePrefix: NODE_PREFIX,
      labels: { "bottlerocket.aws/updater-interface-version": "2.0.0" },
    });
    say(
      `A bare cluster: ${names.length} kwok nodes labelled bottlerocket.aws/updater-interface-version=2.0.0, ` +
        `brupop not installed.\n` +
        `  export KUBECONFIG=${cluster.kubeconfigPath}\n` +
        `  kubectl get nodes\n` +
        `(binaries: ${cluster.binDir}; see docs/install.md "Try the charts locally")\n` +
        `The cluster keeps running until you press Ctrl-C.`,
    );
    await untilAborted(opts.signal);
    return 130;
  } finally {
    say("stopping the local cluster…");
    await cluster.stop();
  }
}

/** The demo's title line. */
export function demoTitle(opts: DemoOptions, scheduleKind: string, kind = ""): string {
  return (
    `${opts.nodes} ${kind}nodes ${FROM_VERSION} → ${TO_VERSION}, max concurrent ${String(opts.maxConcurrent)}, ` +
    `schedule "${opts.cron}" (${scheduleKind})`
  );
}

/** Runs the demo; resolves with the process exit code (0 done, 1 timed out, 130 interrupted). */
export async function runDemo(opts: DemoOptions): Promise<number> {
  if (opts.bare) return runBare(opts);
  if (opts.realNodes === true) {
    const { runRealNodeDemo } = await import("./realnodes.js");
    return runRealNodeDemo(opts);
  }
  const say = (line: string) => opts.out.write(`${line}\n`);
  const now = new Date();
  const schedule = parseSchedule(opts.cron, now, "--cron");
  const title = demoTitle(opts, schedule.kind);
  const notice = scheduleNotice(schedule.msUntilOpen(now), opts.timeoutMs, opts.cron, now);
  if (notice !== undefined) say(notice);
  if (opts.logFile !== undefined) say(`logs: ${opts.logFile}`);
  say(
    "starting a local Kubernetes control plane (kube-apiserver, etcd, controller-manager, scheduler, kwok)…",
  );
  const testbed = await BrupopTestbed.start({
    releases: [{ version: TO_VERSION }],
    hostDurations: hostDurations(opts.speed),
    agentTimings: agentTimings(opts.speed),
    health: { ...NO_HEALTH_CHECKS, daemonSetPods: true },
    logger: opts.logger,
  });
  const health = new DemoHealth(testbed.rest, WORKLOAD_NAMESPACE);
  const kubelet = new AbortController();
  let kubeletLoop: Promise<void> | undefined;
  say(
    `kubeconfig: ${testbed.cluster.kubeconfigPath}\n` +
      `  kubectl --kubeconfig ${testbed.cluster.kubeconfigPath} get brs -n ${testbed.namespace}`,
  );
  let controller: Controller | undefined;
  try {
    say(
      `creating ${opts.nodes} Bottlerocket nodes on ${FROM_VERSION}, a workload and its PodDisruptionBudget…`,
    );
    const names = await testbed.addNodes(opts.nodes, { version: FROM_VERSION, namePrefix: NODE_PREFIX });
    // After the nodes, so the scheduler spreads the pods over all of them (pending pods would all
    // land on the first node to be Ready); and Ready before the first drain.
    const labels = nodeLabels(names, opts.zones ?? 0, opts.group);
    await labelNodes(testbed.rest, labels);
    if ((opts.zones ?? 0) > 0)
      say(`nodes labelled topology.kubernetes.io/zone=zone-a… round-robin (${opts.zones} zones)`);
    if (opts.group !== undefined) {
      say(`the first ${opts.group.count} node(s) labelled ${GROUP_LABEL}=${opts.group.name}`);
    }
    if (opts.policy !== undefined) {
      await applyPolicy(testbed.rest, opts.policy);
      say(`UpdatePolicy default applied (spec ${JSON.stringify(opts.policy.spec)})`);
    }
    await createWorkload(testbed.rest, opts.nodes, opts.pdbMaxUnavailable);
    await health.create();
    await waitForWorkload(testbed.rest, opts.nodes, opts.signal);
    await health.waitReady(names, opts.signal);
    kubeletLoop = health.run(kubelet.signal);
    testbed.onReboot = (e) => health.onReboot(e.hostId);
    if (opts.failHost !== undefined) {
      if (!names.includes(opts.failHost)) {
        throw new BrupopError(
          "BRUPOP_E_CONFIG",
          `--fail-host: no node "${opts.failHost}" (nodes: ${names.join(", ")})`,
        );
      }
      testbed.fleet
        .host(opts.failHost)
        .failCommand("prepare", { times: 1, stderr: "demo: injected prepare failure" });
    }
    controller = new Controller(
      {
        namespace: testbed.namespace,
        maxConcurrent: opts.maxConcurrent,
        schedule,
        tickIntervalMs: 1_000,
        http: null,
        leaderElection: null,
        policyName: DEFAULT_POLICY_NAME,
      },
      { rest: testbed.rest, logger: opts.logger },
    );
    await controller.start();
    const source: RolloutSource = {
      rest: testbed.rest,
      namespace: testbed.namespace,
      server: testbed.cluster.server,
      kubeconfigPath: testbed.cluster.kubeconfigPath,
      lastCommand: (node) => {
        const read = testbed.fleet.host(node).readStatus();
        return read.kind === "ok" ? read.status.most_recent_command : null;
      },
      playground: {
        rest: testbed.rest,
        fleet: testbed.fleet,
        state: { newest: TO_VERSION, paused: opts.policy?.spec["paused"] === true, quit: false },
        health,
      },
    };
    return await watchRollout(opts, source, title, names, notice);
  } finally {
    await controller?.stop();
    kubelet.abort();
    await kubeletLoop;
    if (!opts.signal.aborted) say("stopping the local cluster…");
    await testbed.stop();
  }
}

/** Start and finish times, and failures, per node (for the summary). */
function noteTimings(
  timings: Map<string, NodeTiming>,
  rows: readonly DemoRow[],
  failures: FailureLog,
  elapsed: number,
): void {
  for (const row of rows) {
    const t = timings.get(row.node);
    if (t === undefined) continue;
    t.failures = failures.byNode.get(row.node) ?? [];
    if (t.startedMs === null && row.active) t.startedMs = elapsed;
    if (t.finishedMs === null && row.done) t.finishedMs = elapsed;
  }
}

export async function watchRollout(
  opts: DemoOptions,
  source: RolloutSource,
  title: string,
  names: string[],
  notice: string | undefined,
): Promise<number> {
  const play = source.playground;
  const say = (line: string) => opts.out.write(`${line}\n`);
  const reader = new StatusReader(source.rest, source.namespace, source.server);
  const started = Date.now();
  const timings = new Map<string, NodeTiming>(
    names.map((n) => [n, { node: n, startedMs: null, finishedMs: null, failures: [] }]),
  );
  const failures = new FailureLog();
  const stopFailures = failures.watch((node) => source.lastCommand(node), names);
  const events: string[] = [];
  const screen = new LiveScreen((t) => opts.out.write(t));
  const onResize = () => screen.invalidate();
  if (opts.tty) {
    screen.enter();
    process.stdout.on("resize", onResize);
  }
  let rows: DemoRow[] = [];
  const goal = () => play?.state.newest ?? TO_VERSION;
  const script = [...(opts.script ?? [])];
  const acted: string[] = [];
  const act = async (action: Parameters<typeof performAction>[0]) => {
    if (play === undefined) return;
    const at = formatElapsed(Date.now() - started);
    try {
      acted.push(`${at} ${await performAction(action, play)}`);
    } catch (err) {
      acted.push(`${at} ${action.kind}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (action.kind === "release") {
      // A new goal: the summary times the rollout to it.
      for (const t of timings.values()) Object.assign(t, { startedMs: null, finishedMs: null });
    }
  };
  const stopKeys = play !== undefined && opts.tty ? listenForKeys(play, () => rows, act) : () => undefined;
  try {
    while (!opts.signal.aborted) {
      const elapsed = Date.now() - started;
      while (script.length > 0 && (script[0]?.atMs ?? 0) <= elapsed) {
        const step = script.shift();
        if (step !== undefined) await act(step.action);
      }
      failures.look((node) => source.lastCommand(node), names);
      const fresh = failures.takeFresh();
      const changes = acted.splice(0);
      changes.push(...fresh.map((f) => `${formatElapsed(elapsed)} ${f.node}: ${failureText(f.failure)}`));
      let policy: string | undefined;
      try {
        const input = await reader.snapshot(() => new Date());
        const status = buildFleetStatus(input);
        policy = status.policy === undefined ? undefined : policyLine(status.policy);
        const next = demoRows(status, goal(), failures.latest());
        changes.push(...diffLines(rows, next, elapsed));
        rows = next;
      } catch (err) {
        // A hiccup of the local API server: keep the last view, say so, look again.
        changes.push(
          `${formatElapsed(elapsed)} could not read the fleet: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      noteTimings(timings, rows, failures, elapsed);
      events.push(...changes);
      events.splice(0, Math.max(0, events.length - 50));
      const notes = notice === undefined ? [] : [notice];
      if (screen.active)
        screen.draw(
          renderFrame(
            {
              title,
              elapsedMs: elapsed,
              rows,
              events,
              notes,
              policy,
              footer: play === undefined ? undefined : KEY_FOOTER,
            },
            opts.size(),
          ),
        );
      else for (const line of changes) say(line);
      const pending = script.some((s) => s.action.kind !== "quit");
      const finished = !pending && rows.length === names.length && rows.every((r) => r.done);
      if (play?.state.quit === true) {
        screen.leave();
        say("");
        const done = rows.filter((r) => r.done).length;
        say(`Quit at ${formatElapsed(elapsed)}: ${done} of ${names.length} nodes run ${goal()}.`);
        return 0;
      }
      if (finished || elapsed > opts.timeoutMs) {
        screen.leave();
        say("");
        if (!finished) {
          say(renderTimeout(opts.timeoutMs, rows, [...timings.values()]));
          return 1;
        }
        say(renderSummary(elapsed, [...timings.values()], goal()));
        if (opts.keep) await keepRunning(opts, source);
        return 0;
      }
      await sleep(500, undefined, { signal: opts.signal }).catch(() => undefined);
    }
    return 130;
  } finally {
    stopKeys();
    stopFailures();
    process.stdout.off("resize", onResize);
    screen.leave();
  }
}

async function keepRunning(opts: DemoOptions, source: RolloutSource): Promise<void> {
  const kc = source.kubeconfigPath;
  opts.out.write(
    `The cluster keeps running until you press Ctrl-C. Try:\n` +
      `  kubectl --kubeconfig ${kc} get brs -n ${source.namespace}\n` +
      `  npx brupop status --kubeconfig ${kc}\n` +
      `  kubectl --kubeconfig ${kc} get pods -A -o wide\n`,
  );
  await untilAborted(opts.signal);
}

/** On a terminal: the playground's keys (raw mode; Ctrl-C still interrupts). Returns the cleanup. */
function listenForKeys(
  play: PlaygroundDeps,
  rows: () => readonly DemoRow[],
  act: (action: NonNullable<ReturnType<typeof keyAction>>) => Promise<void>,
): () => void {
  const stdin = process.stdin;
  if (stdin.isTTY !== true) return () => undefined;
  const onData = (chunk: Buffer) => {
    for (const key of chunk.toString("utf8")) {
      if (key === "\u0003") {
        process.kill(process.pid, "SIGINT");
        continue;
      }
      const action = keyAction(key, {
        newest: play.state.newest,
        paused: play.state.paused,
        firstUnfinished: rows().find((r) => !r.done)?.node,
      });
      if (action !== undefined) void act(action);
    }
  };
  stdin.setRawMode(true);
  stdin.resume();
  stdin.on("data", onData);
  return () => {
    stdin.off("data", onData);
    stdin.setRawMode(false);
    stdin.pause();
  };
}
