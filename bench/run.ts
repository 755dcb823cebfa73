// `npm run bench [-- --quick]`: fleet scale, API load and footprint of brupop on a REAL control plane
// (kit/testenv: etcd, kube-apiserver, controller-manager, scheduler, kwok), with simulated Bottlerocket
// hosts and in-process agents (kit/testbed/testbed.ts), the controller as its own process, and an
// observer process recording every BottlerocketShadow change. See docs/benchmarks.md.
//
// Steps: build (tsc and the bundles) → simulator memory → cluster (with an audit log counting our
// components' requests) → footprint of the bundled components (bench/footprint.ts: apiserver,
// controller with 3 nodes, one agent under upstream's limits) → one node's cycle time, alone → N nodes: per-agent memory, a steady-state
// window, a rollout at each concurrency limit → apiserver status-update benchmark → report.
//
// Writes bench/results/<mode>.json and the generated section of docs/benchmarks.md; prints a summary.
// Exit status: 1 on a gross failure (a rollout not completing, a figure over 3× its goal), else 0.
// `--footprint-only`: cluster → footprint (and the agent's V8 flag variants) → report, in ~3 min.
import { execFileSync } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { BrupopTestbed, type TestbedOptions } from "../kit/testbed/testbed.js";
import type { StatusBenchResult } from "../kit/bench/apiserver.js";
import {
  AuditLog,
  auditPolicyYaml,
  BENCH_USERS,
  BENCH_CONTROLLER_SA,
  countLoad,
  perUnit,
  type AuditedRequest,
  type LoadCounts,
} from "../kit/bench/audit.js";
import { grossFailures, judge, type GoalResult } from "../kit/bench/goals.js";
import {
  CpuWindow,
  findProcesses,
  ProcessSampler,
  round,
  rssBytes,
  type CpuBreakdown,
  type WindowFigures,
} from "../kit/bench/proc.js";
import {
  decisionLatencies,
  median,
  rolloutOverhead,
  rolloutTimeline,
  summarize,
  type Overhead,
  type ShadowSample,
  type Summary,
} from "../kit/bench/rollout.js";
import type { FleetMemoryReport } from "../kit/simulator/measure-memory.js";
import { KubeRest } from "../src/k8s/rest.js";
import { shadowNameForNode } from "../src/model/constants.js";
import { freePorts, startCluster, type TestCluster } from "../kit/testenv/cluster.js";
import { brupopCommand, ControllerProcess, Observer, repoRoot, runJsonChild } from "./lib/children.js";
import {
  asIdentity,
  identity,
  inClusterAccess,
  type Identity,
  type InClusterAccess,
} from "./lib/identities.js";
import { footprintLimits, imageEnv, measureFootprint, type FootprintResult } from "./footprint.js";
import { renderFootprintOnly, renderMarkdown, summaryTable, updateDocs } from "./report.js";
import { bundle } from "../tools/bundle.js";

// ---- settings ------------------------------------------------------------------------------------

export interface BenchSettings {
  mode: "quick" | "full";
  nodes: number;
  /** null = unlimited. */
  limits: (number | null)[];
  watch: "own" | "shared";
  controllerTickMs: number;
  agentLoopMs: number;
  updateCheckMs: number;
  hostDurations: { refresh: number; prepare: number; activate: number; deactivate: number; reboot: number };
  nodeDownDuringReboot: boolean;
  singleRuns: number;
  steadyMs: number;
  agentWindowMs: number;
  rolloutTimeoutMs: number;
  apiserverAgents: number;
  apiserverDurationMs: number;
}

function plainName(name: string): string {
  if (!/^[\w.-]+$/.test(name)) throw new Error(`--name: ${name} is not a plain file name`);
  return name;
}

function settingsFrom(argv: readonly string[]): {
  settings: BenchSettings;
  writeDocs: boolean;
  build: boolean;
  /** Names the JSON file and the docs section (default: the mode). */
  name: string;
  footprintOnly: boolean;
  /** Also measure the agent under each V8 flag set (bench/footprint.ts AGENT_FLAG_SETS). */
  variants: boolean;
} {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: "boolean", default: false },
      nodes: { type: "string" },
      limits: { type: "string" },
      watch: { type: "string" },
      "node-down": { type: "boolean", default: false },
      "no-docs": { type: "boolean", default: false },
      "no-build": { type: "boolean", default: false },
      "footprint-only": { type: "boolean", default: false },
      variants: { type: "boolean", default: false },
      name: { type: "string" },
    },
    strict: true,
  });
  const quick = values.quick === true;
  const nodes = Number(values.nodes ?? (quick ? 200 : 1_000));
  if (!Number.isInteger(nodes) || nodes < 1)
    throw new Error(`--nodes: ${values.nodes} is not a positive integer`);
  const limits = (values.limits ?? "50,unlimited").split(",").map((s) => {
    if (s === "unlimited") return null;
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`--limits: ${s} is not a positive integer or "unlimited"`);
    return n;
  });
  const watch = values.watch ?? "own";
  if (watch !== "own" && watch !== "shared") throw new Error(`--watch: own or shared, not ${watch}`);
  return {
    settings: {
      mode: quick ? "quick" : "full",
      nodes,
      limits,
      watch,
      controllerTickMs: 2_000,
      agentLoopMs: 5_000,
      updateCheckMs: 5_000,
      hostDurations: { refresh: 100, prepare: 300, activate: 100, deactivate: 100, reboot: 500 },
      nodeDownDuringReboot: values["node-down"] === true,
      singleRuns: 3,
      steadyMs: quick ? 30_000 : 60_000,
      agentWindowMs: quick ? 15_000 : 30_000,
      rolloutTimeoutMs: quick ? 240_000 : 1_200_000,
      apiserverAgents: 200,
      apiserverDurationMs: 10_000,
    },
    writeDocs: values["no-docs"] !== true,
    build: values["no-build"] !== true,
    footprintOnly: values["footprint-only"] === true,
    variants: values.variants === true || values["footprint-only"] === true,
    name: plainName(
      values.name ?? (values["footprint-only"] === true ? "footprint" : quick ? "quick" : "full"),
    ),
  };
}

// ---- results -------------------------------------------------------------------------------------

export interface RolloutResult {
  label: string;
  maxConcurrent: number | null;
  nodes: number;
  version: string;
  completed: boolean;
  wallMs: number | null;
  overhead: Overhead | null;
  /** Offer → each node's status shows it / spec starts it / node done (ms after the offer). */
  offered: Summary;
  started: Summary;
  done: Summary;
  /** Each node's own start → done. */
  update: Summary;
  maxActive: number;
  decisionLatencyMs: Summary;
  decisionLatencyByState: Record<string, Summary>;
  apiLoad: {
    total: LoadCounts;
    perNode: LoadCounts["total"];
    perNodeByComponent: Record<string, LoadCounts["total"]>;
  };
  controller: WindowFigures & { heapUsedBytes: number | null };
  /**
   * The controller's Events per node updated, by reason (issue 30: which writes they are): Event
   * objects first recorded in the rollout window, and the repeats their series counted.
   */
  eventsPerNode?: Record<string, { events: number; repeats: number }>;
  /** Where the machine's CPU went during the rollout. */
  cpu: CpuBreakdown;
  testbedErrors: number;
}

export interface BenchResults {
  mode: "quick" | "full";
  date: string;
  command: string;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    kernel: string;
    node: string;
    loadAvgStart: number[];
    loadAvgEnd: number[];
  };
  settings: BenchSettings;
  builtJs: boolean;
  countedBy: string;
  durationS: number;
  simulator: FleetMemoryReport | { error: string };
  /** The bundled components, idle, each in its own process (bench/footprint.ts). */
  footprint: FootprintResult | { error: string };
  /** One node alone: offer → done (cycle), offer → noticed (detect), start → done (update); medians. */
  single: {
    runs: { cycleMs: number; detectMs: number; updateMs: number }[];
    /** The controller's RSS with one node (its baseline). */
    controllerRssBytes: number;
    cycleMs: number;
    detectMs: number;
    updateMs: number;
  } | null;
  setup: { nodesSetupS: number; agentsStartMs: number; heapBytesPerAgent: number; rssBytesPerAgent: number };
  steady: {
    windowS: number;
    load: LoadCounts;
    listsPerMinute: number;
    controller: WindowFigures;
    /** Where the machine's CPU went with nothing in flight: the cost of the idle fleet. */
    cpu: CpuBreakdown;
  } | null;
  rollouts: RolloutResult[];
  apiserver: (StatusBenchResult & { baselineRssBytes: number; peakRssBytes: number }) | { error: string };
  goals: GoalResult[];
  gross: string[];
}

// ---- helpers -------------------------------------------------------------------------------------

const now = (): number => performance.timeOrigin + performance.now();
const MiB = 2 ** 20;

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function gcFn(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing !== undefined) return existing;
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

function errorOf(err: unknown): { error: string } {
  return { error: err instanceof Error ? err.message : String(err) };
}

async function readSamples(file: string): Promise<ShadowSample[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  const out: ShadowSample[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      out.push(JSON.parse(line) as ShadowSample);
    } catch {
      // torn last line
    }
  }
  return out;
}

/** Waits (at most `maxMs`) until the audit log shows no LIST by brupop's identities for `quietMs`. */
async function untilNoLists(file: string, quietMs: number, maxMs: number): Promise<void> {
  const t0 = now();
  for (;;) {
    await sleep(2_000);
    const lists = (await readAudit(file)).requests.filter((r) => r.verb === "list");
    const last = Math.max(0, ...lists.map((r) => r.receivedMs));
    if (now() - last >= quietMs) {
      if (now() - t0 > 2_500)
        log(`  no LIST for ${quietMs / 1000} s after ${Math.round((now() - t0) / 1000)} s`);
      return;
    }
    if (now() - t0 >= maxMs) {
      const recent = lists.filter((r) => r.receivedMs >= t0).length;
      log(`  still LISTing after ${maxMs / 1000} s (${recent} LISTs while waiting); measuring anyway`);
      return;
    }
  }
}

async function readAudit(file: string): Promise<AuditLog> {
  const audit = new AuditLog();
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) audit.add(line);
  return audit;
}

function testbedOptions(s: BenchSettings, cluster: TestCluster, namespace: string): TestbedOptions {
  return {
    cluster,
    namespace,
    watch: s.watch,
    hostDurations: s.hostDurations,
    agentTimings: { loopIntervalMs: s.agentLoopMs, updateCheckIntervalMs: s.updateCheckMs },
    nodeDownDuringReboot: s.nodeDownDuringReboot,
  };
}

/** Adds nodes in batches (kwok nodes, hosts, agent pods, tokens), agents not started. */
async function addNodes(
  tb: BrupopTestbed,
  count: number,
  prefix: string,
  version: string,
): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i += 100) {
    names.push(
      ...(await tb.addNodes(Math.min(100, count - i), { version, namePrefix: prefix, startAgents: false })),
    );
    if (count > 100) log(`  ${names.length}/${count} nodes`);
  }
  return names;
}

const CLUSTER_PROCESSES = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"];

/** The controller's V8 heap in use, from its /metrics (prom-client's default metrics). */
async function controllerHeap(c: ControllerProcess): Promise<number | null> {
  try {
    const m = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(await c.metrics());
    return m?.[1] === undefined ? null : Number(m[1]);
  } catch {
    return null;
  }
}

function limitLabel(limit: number | null): string {
  return limit === null ? "unlimited" : String(limit);
}

// ---- steps ---------------------------------------------------------------------------------------

interface Env {
  s: BenchSettings;
  cluster: TestCluster;
  work: string;
  ids: { controller: InClusterAccess; node: Identity; observer: Identity };
  ports: number[];
}

async function controllerFor(
  env: Env,
  namespace: string,
  limit: number | null,
  tag: string,
): Promise<ControllerProcess> {
  const port = env.ports.shift();
  if (port === undefined) throw new Error("out of ports");
  return ControllerProcess.start({
    access: env.ids.controller.env,
    imageEnv: imageEnv(),
    namespace,
    maxConcurrent: limitLabel(limit),
    tickIntervalMs: env.s.controllerTickMs,
    metricsPort: port,
    logFile: join(env.work, `controller-${tag}.log`),
  });
}

/** One node alone, updated `runs` times (a new release each time): offer → done, and offer → noticed. */
async function singleCycles(env: Env): Promise<BenchResults["single"]> {
  const ns = "bench-one";
  const tb = await BrupopTestbed.start(testbedOptions(env.s, asIdentity(env.cluster, env.ids.node), ns));
  const eventsFile = join(env.work, "single-events.jsonl");
  let controller: ControllerProcess | undefined;
  let observer: Observer | undefined;
  try {
    const [node] = await tb.addNodes(1, { version: "1.19.0", namePrefix: "one-" });
    if (node === undefined) throw new Error("no node");
    await tb.waitForAll([node], "first status", (st) => st.current_state === "Idle", 60_000);
    observer = await Observer.start(env.ids.observer.kubeconfigPath, ns, eventsFile);
    controller = await controllerFor(env, ns, env.s.limits[0] ?? 50, "single");
    const marks: { version: string; t0: number; t1: number }[] = [];
    for (let i = 0; i < env.s.singleRuns; i++) {
      const version = `1.${20 + i}.0`;
      await sleep(1_000 + Math.random() * env.s.agentLoopMs); // a random phase of the agent's loop
      const t0 = now();
      tb.fleet.releases.add({ version });
      const t1 = await observer.waitDone(version, [shadowNameForNode(node)], 120_000);
      if (t1 === null) throw new Error(`single node did not finish updating to ${version}`);
      marks.push({ version, t0, t1 });
      log(`  single node → ${version}: ${Math.round(t1 - t0)} ms`);
    }
    const controllerRssBytes = rssBytes(controller.pid);
    await observer.stop();
    observer = undefined;
    const samples = await readSamples(eventsFile);
    const runs = marks.map((m) => {
      const tl = rolloutTimeline(
        samples.filter((x) => x.t >= m.t0 && x.t <= m.t1 + 1),
        m.version,
        [shadowNameForNode(node)],
      );
      const n = tl.nodes.get(shadowNameForNode(node));
      return {
        cycleMs: Math.round(m.t1 - m.t0),
        detectMs: Math.round((n?.offeredMs ?? m.t0) - m.t0),
        updateMs: Math.round(m.t1 - (n?.startedMs ?? m.t0)),
      };
    });
    return {
      runs,
      controllerRssBytes,
      cycleMs: median(runs.map((r) => r.cycleMs)),
      detectMs: median(runs.map((r) => r.detectMs)),
      updateMs: median(runs.map((r) => r.updateMs)),
    };
  } finally {
    await observer?.stop();
    await controller?.stop();
    await tb.stop();
  }
}

interface FleetOutcome {
  setup: BenchResults["setup"];
  steady: BenchResults["steady"];
  rollouts: RolloutResult[];
  windows: { steady: [number, number] | null; rollouts: [number, number][] };
}

async function fleet(env: Env, single: NonNullable<BenchResults["single"]>): Promise<FleetOutcome> {
  const s = env.s;
  const ns = "bench-fleet";
  const gc = gcFn();
  const tb = await BrupopTestbed.start(testbedOptions(s, asIdentity(env.cluster, env.ids.node), ns));
  const eventsFile = join(env.work, "fleet-events.jsonl");
  let observer: Observer | undefined;
  let controller: ControllerProcess | undefined;
  try {
    log(`adding ${s.nodes} kwok nodes with simulated hosts`);
    const t0 = performance.now();
    const nodes = await addNodes(tb, s.nodes, "n-", "1.19.0");
    const nodesSetupS = round((performance.now() - t0) / 1000, 1);
    const shadows = nodes.map(shadowNameForNode);

    // Memory per in-process agent (the method of measureAgentsInProcess, on this fleet).
    gc();
    const before = process.memoryUsage();
    const a0 = performance.now();
    for (const n of nodes) tb.startAgent(n);
    await tb.waitForAll(nodes, "first status", (st) => st.current_state === "Idle", 300_000);
    const agentsStartMs = Math.round(performance.now() - a0);
    await sleep(10_000);
    gc();
    const after = process.memoryUsage();
    const setup = {
      nodesSetupS,
      agentsStartMs,
      heapBytesPerAgent: Math.round((after.heapUsed - before.heapUsed) / nodes.length),
      rssBytesPerAgent: Math.round((after.rss - before.rss) / nodes.length),
    };
    log(
      `${nodes.length} agents reporting after ${agentsStartMs} ms; RSS/agent ${(setup.rssBytesPerAgent / 1024).toFixed(0)} KiB`,
    );

    observer = await Observer.start(env.ids.observer.kubeconfigPath, ns, eventsFile);
    const rollouts: (Pick<
      RolloutResult,
      | "label"
      | "maxConcurrent"
      | "nodes"
      | "version"
      | "completed"
      | "wallMs"
      | "controller"
      | "cpu"
      | "testbedErrors"
    > & { t0: number; t1: number })[] = [];
    let steady: { w: [number, number]; controller: WindowFigures; cpu: CpuBreakdown } | null = null;
    const cpuWindow = (c: ControllerProcess, o: Observer): CpuWindow =>
      new CpuWindow([
        { pid: process.pid, name: "bench process (agents, brupop apiserver, hosts)" },
        { pid: c.pid, name: "brupop controller" },
        { pid: o.pid, name: "observer" },
        ...findProcesses(env.cluster.dir).filter((p) => CLUSTER_PROCESSES.includes(p.name)),
      ]);

    for (const [i, limit] of s.limits.entries()) {
      const label = `c=${limitLabel(limit)}`;
      controller = await controllerFor(env, ns, limit, limitLabel(limit));
      const sampler = new ProcessSampler(controller.pid, 500);
      sampler.start();
      if (i === 0) {
        // Steady state: every node Idle, nothing offered; the controller has ticked a few times,
        // and no LIST for a while (on a loaded machine some agents' first LISTs are still being
        // retried after 429s/timeouts long after every agent reported; those are start-up, not
        // steady state). A component that really polls keeps LISTing: the wait ends at its bound
        // and the window counts it.
        await sleep(5_000);
        await untilNoLists(join(env.work, "audit.log"), 10_000, 90_000);
        log(`steady-state window (${s.steadyMs / 1000} s)`);
        sampler.begin("steady");
        const steadyCpu = cpuWindow(controller, observer);
        steadyCpu.begin();
        const w0 = now();
        await sleep(s.steadyMs);
        steady = { w: [w0, now()], controller: sampler.end("steady"), cpu: steadyCpu.end() };
      } else {
        await sleep(3_000);
      }
      const version = `1.${20 + i}.0`;
      log(`rollout ${label} of ${nodes.length} nodes to ${version}`);
      const errorsBefore = tb.errors.length;
      const cpu = cpuWindow(controller, observer);
      cpu.begin();
      sampler.begin("rollout");
      const r0 = now();
      tb.fleet.releases.add({ version });
      const r1 = await observer.waitDone(version, shadows, s.rolloutTimeoutMs);
      const t1 = r1 ?? now();
      const figures = { ...sampler.end("rollout"), heapUsedBytes: await controllerHeap(controller) };
      const cpuUse = cpu.end();
      sampler.stop();
      log(
        r1 === null
          ? `  rollout ${label} did NOT complete within ${s.rolloutTimeoutMs / 1000} s`
          : `  rollout ${label}: ${Math.round(t1 - r0)} ms; controller peak RSS ${(figures.rssPeakBytes / MiB).toFixed(1)} MiB`,
      );
      rollouts.push({
        label,
        maxConcurrent: limit,
        nodes: nodes.length,
        version,
        completed: r1 !== null,
        wallMs: r1 === null ? null : Math.round(t1 - r0),
        controller: figures,
        cpu: cpuUse,
        testbedErrors: tb.errors.length - errorsBefore,
        t0: r0,
        t1,
      });
      if (r1 === null) log(`controller log (last lines):\n${await controller.logTail()}`);
      await controller.stop();
      controller = undefined;
      if (r1 === null) break;
    }
    await observer.stop();
    observer = undefined;

    // Analysis of the recorded shadow changes.
    const samples = await readSamples(eventsFile);
    const results: RolloutResult[] = rollouts.map((r) => {
      const window = samples.filter((x) => x.t >= r.t0 && x.t <= r.t1 + 1);
      const tl = rolloutTimeline(window, r.version, shadows);
      const rel = (
        pick: (n: { offeredMs?: number; startedMs?: number; doneMs?: number }) => number | undefined,
      ): Summary =>
        summarize(
          [...tl.nodes.values()]
            .map(pick)
            .filter((v): v is number => v !== undefined)
            .map((v) => v - r.t0),
        );
      const update = summarize(
        [...tl.nodes.values()].flatMap((n) =>
          n.startedMs !== undefined && n.doneMs !== undefined ? [n.doneMs - n.startedMs] : [],
        ),
      );
      const lat = decisionLatencies(window);
      const byState: Record<string, Summary> = {};
      for (const st of new Set(lat.map((l) => l.state))) {
        byState[st] = summarize(lat.filter((l) => l.state === st).map((l) => l.latencyMs));
      }
      const { t0: _t0, t1: _t1, ...rest } = r;
      return {
        ...rest,
        overhead:
          r.wallMs === null
            ? null
            : rolloutOverhead({
                nodes: r.nodes,
                maxConcurrent: r.maxConcurrent,
                wallMs: r.wallMs,
                firstStartMs: Math.min(
                  r.wallMs,
                  ...[...tl.nodes.values()].map((n) => (n.startedMs ?? Infinity) - r.t0),
                ),
                singleCycleMs: single.cycleMs,
                singleUpdateMs: single.updateMs,
                meanUpdateMs: update.mean,
              }),
        offered: rel((n) => n.offeredMs),
        started: rel((n) => n.startedMs),
        done: rel((n) => n.doneMs),
        update,
        maxActive: tl.maxActive,
        decisionLatencyMs: summarize(lat.map((l) => l.latencyMs)),
        decisionLatencyByState: byState,
        // filled in from the audit log once it is complete
        apiLoad: {
          total: countLoad([], 0, 0),
          perNode: perUnit(countLoad([], 0, 0).total, 1),
          perNodeByComponent: {},
        },
      };
    });
    const steadyOut =
      steady === null
        ? null
        : {
            windowS: round((steady.w[1] - steady.w[0]) / 1000, 1),
            load: countLoad([], 0, 0),
            listsPerMinute: 0,
            controller: steady.controller,
            cpu: steady.cpu,
          };
    return {
      setup,
      steady: steadyOut,
      rollouts: results,
      windows: { steady: steady?.w ?? null, rollouts: rollouts.map((r) => [r.t0, r.t1]) },
    };
  } finally {
    await observer?.stop();
    await controller?.stop();
    await tb.stop();
  }
}

interface ListedEvent {
  reason?: string;
  eventTime?: string;
  reportingController?: string;
  series?: { count?: number };
}

/** The controller's Events per node by reason, for each rollout window (read from the cluster). */
async function eventsByReason(cluster: TestCluster, fleetOut: FleetOutcome): Promise<void> {
  const rest = new KubeRest(cluster.kubeConfig);
  try {
    const all = ((await rest.list<ListedEvent>("/apis/events.k8s.io/v1/events")).items ?? []).filter(
      (e) => e.reportingController === "brupop-controller",
    );
    for (const [i, r] of fleetOut.rollouts.entries()) {
      const w = fleetOut.windows.rollouts[i];
      if (w === undefined) continue;
      const out: Record<string, { events: number; repeats: number }> = {};
      for (const e of all) {
        const t = Date.parse(e.eventTime ?? "");
        if (!(t >= w[0] && t <= w[1] + 5_000)) continue;
        const k = (out[e.reason ?? "?"] ??= { events: 0, repeats: 0 });
        k.events++;
        k.repeats += Math.max(0, (e.series?.count ?? 1) - 1);
      }
      r.eventsPerNode = Object.fromEntries(
        Object.entries(out).map(([k, v]) => [
          k,
          { events: round(v.events / r.nodes, 2), repeats: round(v.repeats / r.nodes, 2) },
        ]),
      );
    }
  } catch (err) {
    log(`could not list the controller's Events: ${errorOf(err).error}`);
  } finally {
    rest.close();
  }
}

/** When the steady window saw LISTs, says which ones (the goal is none): the first clue in a CI log. */
function logSteadyLists(fleetOut: FleetOutcome, requests: readonly AuditedRequest[]): void {
  const w = fleetOut.windows.steady;
  if (w === null) return;
  const lists = requests.filter((r) => r.verb === "list" && r.receivedMs >= w[0] && r.receivedMs < w[1]);
  if (lists.length === 0) return;
  const byShape = new Map<string, number>();
  for (const r of lists) {
    const shape = `${r.user} ${r.resource}${r.subresource ? `/${r.subresource}` : ""} ${r.uri.replace(/=[^&]*/g, "=…")} → ${r.code ?? "?"}`;
    byShape.set(shape, (byShape.get(shape) ?? 0) + 1);
  }
  const top = [...byShape].sort((a, b) => b[1] - a[1]).slice(0, 8);
  log(`steady window: ${lists.length} LISTs; by shape:`);
  for (const [shape, n] of top) log(`  ${n}× ${shape}`);
  const byUserVerb = new Map<string, number>();
  for (const r of requests.filter((q) => q.receivedMs >= w[0] && q.receivedMs < w[1])) {
    const k = `${r.user} ${r.verb} ${r.resource} ${r.code ?? "?"}`;
    byUserVerb.set(k, (byUserVerb.get(k) ?? 0) + 1);
  }
  for (const [k, n] of [...byUserVerb].sort((a, b) => b[1] - a[1]).slice(0, 8)) log(`  all: ${n}× ${k}`);
}

/** Fills in the API load of each window from the audit log. */
function applyAudit(fleetOut: FleetOutcome, requests: readonly AuditedRequest[]): void {
  for (const [i, r] of fleetOut.rollouts.entries()) {
    const w = fleetOut.windows.rollouts[i];
    if (w === undefined) continue;
    const load = countLoad(requests, w[0], w[1]);
    r.apiLoad = {
      total: load,
      perNode: perUnit(load.total, r.nodes),
      perNodeByComponent: Object.fromEntries(
        Object.entries(load.byComponent).map(([k, v]) => [k, perUnit(v, r.nodes)]),
      ),
    };
  }
  if (fleetOut.steady !== null && fleetOut.windows.steady !== null) {
    const [w0, w1] = fleetOut.windows.steady;
    fleetOut.steady.load = countLoad(requests, w0, w1);
    fleetOut.steady.listsPerMinute = round(fleetOut.steady.load.total.list / ((w1 - w0) / 60_000), 2);
  }
}

/** The footprint figures judged against the goals (bench/footprint.ts). */
function footprintFigures(f: BenchResults["footprint"]): Record<string, number | null> {
  if ("error" in f) return {};
  const p = (c: string) => f.processes.find((x) => x.component === c);
  return {
    "agent-rss": p("agent")?.rssMeanMiB ?? null,
    "agent-start": p("agent")?.startToFirstStatusS ?? null,
    "agent-start-cpu": p("agent")?.startCpuS ?? null,
    "apiserver-rss": p("apiserver")?.rssMeanMiB ?? null,
    "controller-rss-3": p("controller")?.rssMeanMiB ?? null,
    // Upstream's idle agent CPU at the same loop interval is not measured here (no Rust build).
    "agent-cpu": null,
  };
}

/** The figures judged against the goals, and what counts as a gross failure. */
function verdicts(
  s: BenchSettings,
  fleetOut: FleetOutcome,
  footprint: BenchResults["footprint"],
): { goals: GoalResult[]; gross: string[] } {
  const first = fleetOut.rollouts.find((r) => r.maxConcurrent === 50) ?? fleetOut.rollouts[0];
  const goals = judge(
    {
      "rollout-overhead": first?.overhead?.strictRatio,
      "rollout-scheduling": first?.overhead?.schedulingRatio,
      "writes-per-node": first?.apiLoad.perNode.write,
      "steady-lists": fleetOut.steady?.listsPerMinute,
      "decision-p99": first?.decisionLatencyMs.count === 0 ? null : first?.decisionLatencyMs.p99,
      "controller-rss":
        fleetOut.rollouts.length === 0
          ? null
          : Math.max(...fleetOut.rollouts.map((r) => r.controller.rssPeakBytes)) / MiB,
      ...footprintFigures(footprint),
    },
    "error" in footprint ? {} : footprintLimits(footprint),
  );
  const incomplete = fleetOut.rollouts.filter((r) => !r.completed).map((r) => `rollout ${r.label}`);
  if (fleetOut.rollouts.length < s.limits.length) incomplete.push("the remaining rollouts");
  return { goals, gross: grossFailures(goals, incomplete) };
}

/** bench/results/<name>.json, the docs section `bench:<name>` (unless told not to), the summary. */
async function writeResults(results: BenchResults, name: string, writeDocs: boolean): Promise<void> {
  await mkdir(join(repoRoot, "bench", "results"), { recursive: true });
  const jsonPath = join(repoRoot, "bench", "results", `${name}.json`);
  await writeFile(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  const written = [jsonPath];
  if (writeDocs) {
    const doc = join(repoRoot, "docs", "benchmarks.md");
    await updateDocs(doc, name, renderMarkdown(results));
    written.push(doc);
  }
  try {
    // Leave the files as `npm run format` would (tables aligned, short arrays on one line).
    execFileSync(join(repoRoot, "node_modules", ".bin", "prettier"), ["--write", ...written], {
      stdio: "ignore",
    });
  } catch {
    log(`prettier could not format ${written.join(", ")}`);
  }
  process.stdout.write(`${summaryTable(results)}\n`);
  log(`wrote ${jsonPath}${writeDocs ? " and docs/benchmarks.md" : ""} in ${results.durationS} s`);
}

// ---- main ----------------------------------------------------------------------------------------

/** `--footprint-only`: a control plane, the footprint of the bundled components, the report. */
async function footprintMain(
  command: string,
  variants: boolean,
  name: string,
  writeDocs: boolean,
  started: number,
): Promise<number> {
  const loadAvgStart = os.loadavg().map((v) => round(v, 2));
  log("starting the control plane");
  const cluster = await startCluster({ timeoutMs: 120_000 });
  try {
    const footprint = await measureFootprint({ cluster, windowMs: 30_000, variants, log });
    const goals = judge(footprintFigures(footprint), footprintLimits(footprint));
    const result = {
      date: new Date().toISOString(),
      command,
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? "?",
        node: process.version,
        loadAvgStart,
        loadAvgEnd: os.loadavg().map((v) => round(v, 2)),
      },
      durationS: round((performance.now() - started) / 1000, 0),
      footprint,
      goals,
    };
    await mkdir(join(repoRoot, "bench", "results"), { recursive: true });
    const jsonPath = join(repoRoot, "bench", "results", `${name}.json`);
    await writeFile(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
    const written = [jsonPath];
    if (writeDocs) {
      const doc = join(repoRoot, "docs", "benchmarks.md");
      await updateDocs(doc, name, renderFootprintOnly(result));
      written.push(doc);
    }
    execFileSync(join(repoRoot, "node_modules", ".bin", "prettier"), ["--write", ...written], {
      stdio: "ignore",
    });
    for (const g of goals) {
      if (
        g.verdict === "not measured" &&
        ![
          "agent-rss",
          "agent-start",
          "agent-start-cpu",
          "apiserver-rss",
          "controller-rss-3",
          "agent-cpu",
        ].includes(g.id)
      )
        continue;
      log(
        `${g.what}: ${g.value ?? "—"} ${g.unit} (goal ≤ ${g.max}) ${g.verdict}${g.limitedBy === undefined ? "" : ` — ${g.limitedBy}`}`,
      );
    }
    log(`wrote ${written.join(", ")}`);
    return goals.some((g) => g.gross) ? 1 : 0;
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<number> {
  const started = performance.now();
  const {
    settings: s,
    writeDocs,
    build,
    name,
    footprintOnly,
    variants,
  } = settingsFrom(process.argv.slice(2));
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
  const loadAvgStart = os.loadavg().map((v) => round(v, 2));
  log(`mode ${s.mode}: N=${s.nodes}, limits ${s.limits.map(limitLabel).join(", ")}, watch ${s.watch}`);

  if (build) {
    log("building dist/ (npm run build) and dist/bundle (npm run bundle)");
    try {
      execFileSync(join(repoRoot, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.build.json"], {
        cwd: repoRoot,
        stdio: ["ignore", "ignore", "inherit"],
      });
    } catch {
      log("tsc reported errors; using whatever dist/ it emitted");
    }
    await bundle();
  }
  if (footprintOnly) return footprintMain(command, variants, name, writeDocs, started);
  const builtJs = brupopCommand().built;

  log(`simulator memory (${s.nodes} hosts, own process)`);
  const simulator = await runJsonChild<FleetMemoryReport>("bench/children/fleet-memory.ts", [
    String(s.nodes),
  ]).catch(errorOf);

  const work = await mkdtemp(join(os.tmpdir(), "brupop-bench-"));
  const auditLog = join(work, "audit.log");
  const policy = join(work, "audit-policy.yaml");
  await writeFile(policy, auditPolicyYaml(Object.values(BENCH_USERS)));
  log("starting the control plane (audit log on for brupop's identities)");
  const cluster = await startCluster({
    apiserverArgs: [
      `--audit-policy-file=${policy}`,
      `--audit-log-path=${auditLog}`,
      "--audit-log-maxsize=0",
      "--audit-log-mode=batch",
      "--audit-log-batch-max-wait=1s",
    ],
    timeoutMs: 120_000,
  });
  let exitCode = 0;
  try {
    const ids = {
      controller: await inClusterAccess(
        cluster,
        BENCH_CONTROLLER_SA.namespace,
        BENCH_CONTROLLER_SA.name,
        work,
      ),
      node: await identity(cluster, BENCH_USERS.node, work),
      observer: await identity(cluster, "bench-observer", work),
    };
    const env: Env = { s, cluster, work, ids, ports: await freePorts(s.limits.length + 2) };

    log(`footprint of the bundled components (${s.agentWindowMs / 1000} s steady window)`);
    const footprint: BenchResults["footprint"] = await measureFootprint({
      cluster,
      windowMs: s.agentWindowMs,
      loopIntervalMs: s.agentLoopMs,
      variants,
      log,
    }).catch(errorOf);

    log(`one node alone (${s.singleRuns} updates)`);
    const single = await singleCycles(env);
    log(
      `  median offer → done ${single?.cycleMs} ms; noticing the offer ${single?.detectMs} ms; start → done ${single?.updateMs} ms`,
    );
    if (single === null) throw new Error("no single-node cycle");

    const fleetOut = await fleet(env, single);

    log(`apiserver status-update benchmark (${s.apiserverAgents} agents, own process)`);
    const apiserver = await runJsonChild<
      StatusBenchResult & { baselineRssBytes: number; peakRssBytes: number }
    >(
      "bench/children/apiserver.ts",
      [cluster.dir, String(s.apiserverAgents), String(s.apiserverDurationMs)],
      ["--expose-gc"],
    ).catch(errorOf);

    // The audit log: batched, flushed within a second.
    await sleep(2_500);
    log("counting requests in the audit log");
    const audit = await readAudit(auditLog);
    const requests = audit.requests;
    applyAudit(fleetOut, requests);
    logSteadyLists(fleetOut, requests);
    await eventsByReason(cluster, fleetOut);

    const { goals, gross } = verdicts(s, fleetOut, footprint);

    const results: BenchResults = {
      mode: s.mode,
      date: new Date().toISOString(),
      command,
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? "?",
        memoryGiB: round(os.totalmem() / 2 ** 30, 1),
        kernel: os.release(),
        node: process.version,
        loadAvgStart,
        loadAvgEnd: os.loadavg().map((v) => round(v, 2)),
      },
      settings: s,
      builtJs,
      countedBy:
        "kube-apiserver audit log (Metadata level, only brupop's client-certificate identities), one request per auditID",
      durationS: round((performance.now() - started) / 1000, 0),
      simulator,
      footprint,
      single,
      setup: fleetOut.setup,
      steady: fleetOut.steady,
      rollouts: fleetOut.rollouts,
      apiserver,
      goals,
      gross,
    };
    await writeResults(results, name, writeDocs);
    if (gross.length > 0) {
      for (const g of gross) log(`GROSS FAILURE: ${g}`);
      exitCode = 1;
    }
  } finally {
    await cluster.stop();
    await rm(work, { recursive: true, force: true });
  }
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
