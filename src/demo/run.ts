// `brupop demo`: a live local fleet. A real control plane (kube-apiserver, etcd, controller-manager,
// scheduler, kwok), N simulated Bottlerocket hosts as kwok nodes, a workload guarded by a
// PodDisruptionBudget, and brupop's apiserver, controller and agents running in this process exactly
// as in a cluster: same code, real TLS, real bound service-account tokens, real drains.
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { BrupopTestbed } from "../agent/testbed.js";
import { Controller } from "../controller/controller.js";
import type { ConcurrencyLimit } from "../controller/decisions.js";
import { parseSchedule } from "../controller/schedule.js";
import { BrupopError } from "../errors.js";
import type { KubeRest } from "../k8s/rest.js";
import { parseShadow, type BottlerocketShadow } from "../model/shadow.js";
import {
  diffLines,
  isDone,
  renderScreen,
  renderSummary,
  rowsFrom,
  type NodeRow,
  type NodeTiming,
} from "./view.js";

export const FROM_VERSION = "1.19.0";
export const TO_VERSION = "1.20.0";
const NODE_PREFIX = "demo-node-";
const WORKLOAD_NAMESPACE = "default";

export interface DemoOptions {
  nodes: number;
  maxConcurrent: ConcurrencyLimit;
  cron: string;
  /** Node whose host fails its first prepare (it recovers after its crash back-off). */
  failHost?: string | undefined;
  /** Short host command times. */
  speed: boolean;
  /** Keep the cluster running after the rollout until interrupted. */
  keep: boolean;
  /** Give up after this long. */
  timeoutMs: number;
  out: NodeJS.WritableStream;
  tty: boolean;
  logger: Logger;
  signal: AbortSignal;
}

/** Host timings: long enough to watch each step, or short (`--speed`). */
function hostDurations(speed: boolean) {
  return speed
    ? { refresh: 100, prepare: 300, activate: 100, deactivate: 100, reboot: 500 }
    : { refresh: 500, prepare: 3_000, activate: 500, deactivate: 500, reboot: 3_000 };
}

async function createWorkload(rest: KubeRest, replicas: number): Promise<void> {
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
      template: { metadata: { labels }, spec: { containers: [{ name: "web", image: "demo/web:1" }] } },
    },
  });
  await post(`/apis/policy/v1/namespaces/${WORKLOAD_NAMESPACE}/poddisruptionbudgets`, {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name: "demo-web" },
    spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
  });
}

interface Observation {
  rows: NodeRow[];
}

async function observe(rest: KubeRest, namespace: string): Promise<Observation> {
  const [shadows, nodes] = await Promise.all([
    rest.request<{ items?: unknown[] }>(
      "GET",
      `/apis/brupop.bottlerocket.aws/v2/namespaces/${namespace}/bottlerocketshadows`,
    ),
    rest.request<{ items?: { metadata?: { name?: string }; spec?: { unschedulable?: boolean } }[] }>(
      "GET",
      "/api/v1/nodes",
      { query: { labelSelector: "bottlerocket.aws/updater-interface-version=2.0.0" } },
    ),
  ]);
  const parsed: BottlerocketShadow[] = [];
  for (const item of shadows.body.items ?? []) {
    try {
      parsed.push(parseShadow(item as Parameters<typeof parseShadow>[0]));
    } catch {
      // an object mid-creation; the next look sees it whole
    }
  }
  const facts = (nodes.body.items ?? []).map((n) => ({
    name: n.metadata?.name ?? "",
    unschedulable: n.spec?.unschedulable === true,
  }));
  return { rows: rowsFrom(parsed, facts) };
}

const CLEAR = "\x1b[H\x1b[2J";

/** Runs the demo; resolves with the process exit code. */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const say = (line: string) => opts.out.write(`${line}\n`);
  const schedule = parseSchedule(opts.cron, new Date(), "--cron");
  const title =
    `brupop demo: ${opts.nodes} nodes ${FROM_VERSION} → ${TO_VERSION}, ` +
    `max concurrent ${String(opts.maxConcurrent)}, schedule "${opts.cron}" (${schedule.kind})`;
  say(
    "starting a local Kubernetes control plane (kube-apiserver, etcd, controller-manager, scheduler, kwok)…",
  );
  const testbed = await BrupopTestbed.start({
    releases: [{ version: TO_VERSION }],
    hostDurations: hostDurations(opts.speed),
    agentTimings: { loopIntervalMs: 1_000, updateCheckIntervalMs: 2_000, excludeFromLbWaitMs: 0 },
    logger: opts.logger,
  });
  let controller: Controller | undefined;
  try {
    say(
      `creating ${opts.nodes} Bottlerocket nodes on ${FROM_VERSION}, a workload and its PodDisruptionBudget…`,
    );
    await createWorkload(testbed.rest, opts.nodes);
    const names = await testbed.addNodes(opts.nodes, { version: FROM_VERSION, namePrefix: NODE_PREFIX });
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
      },
      { rest: testbed.rest, logger: opts.logger },
    );
    await controller.start();
    return await watchRollout(opts, testbed, title, names);
  } finally {
    await controller?.stop();
    if (!opts.signal.aborted) say("stopping the local cluster…");
    await testbed.stop();
  }
}

async function watchRollout(
  opts: DemoOptions,
  testbed: BrupopTestbed,
  title: string,
  names: string[],
): Promise<number> {
  const say = (line: string) => opts.out.write(`${line}\n`);
  const started = Date.now();
  const timings = new Map<string, NodeTiming>(
    names.map((n) => [n, { node: n, startedMs: null, finishedMs: null }]),
  );
  const events: string[] = [];
  let prev: NodeRow[] = [];
  while (!opts.signal.aborted) {
    const elapsed = Date.now() - started;
    const { rows } = await observe(testbed.rest, testbed.namespace);
    const changes = diffLines(prev, rows, elapsed);
    prev = rows;
    for (const row of rows) {
      const t = timings.get(row.node);
      if (t === undefined) continue;
      if (t.startedMs === null && row.targetState !== "Idle") t.startedMs = elapsed;
      if (t.finishedMs === null && isDone(row, TO_VERSION)) t.finishedMs = elapsed;
    }
    events.push(...changes);
    events.splice(0, Math.max(0, events.length - 8));
    if (opts.tty)
      opts.out.write(
        CLEAR + renderScreen({ elapsedMs: elapsed, rows, goalVersion: TO_VERSION, events }, title),
      );
    else for (const line of changes) say(line);
    if (rows.length === names.length && rows.every((r) => isDone(r, TO_VERSION))) {
      say("");
      say(renderSummary(elapsed, [...timings.values()], TO_VERSION));
      if (opts.keep) await keepRunning(opts, testbed);
      return 0;
    }
    if (elapsed > opts.timeoutMs) {
      say(`the rollout did not finish within ${Math.round(opts.timeoutMs / 1000)} s`);
      return 1;
    }
    await sleep(500, undefined, { signal: opts.signal }).catch(() => undefined);
  }
  return 130;
}

async function keepRunning(opts: DemoOptions, testbed: BrupopTestbed): Promise<void> {
  opts.out.write(
    `The cluster keeps running until you press Ctrl-C. Try:\n` +
      `  kubectl --kubeconfig ${testbed.cluster.kubeconfigPath} get brs -n ${testbed.namespace}\n` +
      `  npm run brupop -- status --kubeconfig ${testbed.cluster.kubeconfigPath}\n`,
  );
  await new Promise<void>((resolve) =>
    opts.signal.addEventListener("abort", () => resolve(), { once: true }),
  );
}
