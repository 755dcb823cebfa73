// Footprint of the three components as they ship (the bundles of `npm run bundle`, each its own
// process, each on the in-cluster access path a pod uses), on a real control plane, idle:
//
//   brupop apiserver   serving the agent below (TokenReviews, status writes)
//   brupop controller  leader, 3 nodes (3 shadows), nothing to update
//   brupop agent       one node's agent, a simulated Bottlerocket host, talking to the apiserver above
//
// Each runs in its own cgroup (memory limit, CFS CPU quota) when the machine allows it: the agent
// with upstream's limits (50 Mi, 10m CPU). Figures: process RSS (mean, max over the window), the
// cgroup's working set (what `kubectl top` shows), CPU, and the agent's start → first status
// report. Then the agent again under each V8 flag set of AGENT_FLAG_SETS, for the comparison.
//
//   tsx bench/footprint.ts [--window-s 30] [--variants] [--json out.json]
//
// bench/run.ts calls measureFootprint() too. Needs the testenv binaries (npm run testenv:build)
// and dist/bundle (npm run bundle: run here first unless --no-bundle).
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { BrupopTestbed } from "../kit/testbed/testbed.js";
import { BenchCgroup, type CgroupLimits, type CgroupReading } from "../kit/bench/cgroup.js";
import { clockTicksPerSecond, cpuSeconds, parseCpuTicks, rssBytes } from "../kit/bench/proc.js";
import { parseDockerfile, stageEnv } from "../kit/deploy/dockerfile.js";
import { API_GROUP, PLURAL, shadowNameForNode } from "../src/model/constants.js";
import type { TestCluster } from "../kit/testenv/cluster.js";
import { kube } from "../kit/testenv/kube-call.js";
import { inClusterAccess } from "./lib/identities.js";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
export const BUNDLE_MAIN = join(repoRoot, "dist", "bundle", "main.js");
const VERSION = "1.19.0";
const MiB = 1024 * 1024;

/** The agent's V8 flags as the chart runs it (deploy/charts: the agent container's command). */
export const CHART_AGENT_FLAGS = ["--max-semi-space-size=1"];

/** Flag sets compared for the agent (the first is what the chart runs). */
export const AGENT_FLAG_SETS: readonly (readonly string[])[] = [
  CHART_AGENT_FLAGS,
  [],
  ["--lite-mode", "--max-semi-space-size=1"],
  ["--jitless", "--max-semi-space-size=1"],
  ["--lite-mode", "--max-semi-space-size=1", "--v8-pool-size=0", "--single-threaded-gc"],
  ["--lite-mode", "--max-semi-space-size=1", "--max-old-space-size=16"],
];

/** Limits each component runs under here: upstream's for the agent, the goals for the others. */
export const LIMITS: Readonly<Record<Component, CgroupLimits>> = {
  agent: { memoryBytes: 50 * MiB, cpuMillis: 10 },
  apiserver: { memoryBytes: 64 * MiB },
  controller: { memoryBytes: 64 * MiB },
};

export type Component = "agent" | "apiserver" | "controller";

export interface ProcessFootprint {
  component: Component;
  command: string[];
  windowS: number;
  rssMeanMiB: number;
  rssMaxMiB: number;
  cpuPercent: number;
  /** Under the cgroup limits (when the machine allows cgroups), else null. */
  cgroup: (CgroupLimits & { workingSetMeanMiB: number; reading: CgroupReading }) | null;
  /** Agent only: process start → its shadow shows a status, and the CPU time that took. */
  startToFirstStatusS?: number;
  startCpuS?: number;
  exitCode: number | null;
}

/** What Node.js itself costs here: the floor under every figure above. */
export interface NodeBaseline {
  /** A bare `node` idling (a timer), RSS mean over 5 s. */
  rssMiB: number;
  /** `node -e 0` under the agent's CPU limit (10m), wall time; null without cgroups. */
  startUnderAgentCpuLimitS: number | null;
  /** CPU time of `node -e 0` (user + system). */
  startCpuS: number;
}

export interface FootprintResult {
  nodes: number;
  loopIntervalMs: number;
  processes: ProcessFootprint[];
  agentVariants: ProcessFootprint[];
  baseline: NodeBaseline;
}

export interface FootprintOptions {
  windowMs?: number;
  loopIntervalMs?: number;
  /** Also measure the agent under each of AGENT_FLAG_SETS, then under each of `runtimes`. */
  variants?: boolean;
  /** Other JavaScript runtimes (executables) to run the agent bundle with, for the comparison. */
  runtimes?: readonly string[];
  /** Measure under cgroup limits when possible (default true). */
  cgroups?: boolean;
  /** An existing control plane (default: a new one, stopped at the end). */
  cluster?: TestCluster;
  log?: (line: string) => void;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === "object" && addr !== null ? resolve(addr.port) : reject(new Error("port")),
      );
    });
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

async function stopChild(child: ChildProcess): Promise<number | null> {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  const code = await Promise.race([exited(child), sleep(15_000).then(() => "timeout" as const)]);
  if (code !== "timeout") return code;
  child.kill("SIGKILL");
  return exited(child);
}

const mib = (bytes: number): number => Math.round((bytes / MiB) * 10) / 10;

interface Running {
  component: Component;
  child: ChildProcess;
  command: string[];
  group: BenchCgroup | undefined;
  stderr: string[];
}

function launch(
  component: Component,
  argv: string[],
  env: NodeJS.ProcessEnv,
  opts: { cgroups: boolean; name: string },
): Running {
  const group = opts.cgroups ? BenchCgroup.create(opts.name, LIMITS[component]) : undefined;
  const full = group === undefined ? argv : group.wrap(argv);
  const [exe, ...args] = full as [string, ...string[]];
  const child = spawn(exe, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  const stderr: string[] = [];
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (d: string) => {
    stderr.push(d);
    if (stderr.length > 50) stderr.shift();
  });
  return { component, child, command: argv, group, stderr };
}

/** Samples RSS (and the cgroup) of each process every second for the window. */
async function sample(procs: readonly Running[], windowMs: number): Promise<ProcessFootprint[]> {
  const rss = procs.map(() => [] as number[]);
  const ws = procs.map(() => [] as number[]);
  const cpu0 = procs.map((p) => cpuSeconds(p.child.pid ?? 0));
  const t0 = performance.now();
  while (performance.now() - t0 < windowMs) {
    procs.forEach((p, i) => {
      rss[i]?.push(rssBytes(p.child.pid ?? 0));
      if (p.group !== undefined) ws[i]?.push(p.group.read().workingSetBytes);
    });
    await sleep(1_000);
  }
  const elapsedS = (performance.now() - t0) / 1000;
  return procs.map((p, i) => {
    const r = rss[i] ?? [];
    const w = ws[i] ?? [];
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    return {
      component: p.component,
      command: p.command.map((a) => a.replace(repoRoot + "/", "")),
      windowS: Math.round(elapsedS),
      rssMeanMiB: mib(mean(r)),
      rssMaxMiB: mib(Math.max(0, ...r)),
      cpuPercent: Math.round(((cpuSeconds(p.child.pid ?? 0) - (cpu0[i] ?? 0)) / elapsedS) * 10_000) / 100,
      cgroup:
        p.group === undefined
          ? null
          : { ...p.group.limits, workingSetMeanMiB: mib(mean(w)), reading: p.group.read() },
      exitCode: null,
    };
  });
}

async function waitFirstStatus(tb: BrupopTestbed, node: string, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    try {
      if ((await tb.shadow(node)).status !== undefined) return (performance.now() - t0) / 1000;
    } catch {
      // no shadow yet
    }
    await sleep(100);
  }
  throw new Error(`${node}: no status from the agent within ${timeoutMs / 1000} s`);
}

/** The runtime image's ENV (the Dockerfile's last stage). */
export function imageEnv(): Record<string, string> {
  const final = parseDockerfile(readFileSync(join(repoRoot, "Dockerfile"), "utf8")).at(-1);
  return final === undefined ? {} : stageEnv(final);
}

/** Bare Node.js: its idle RSS, and its start-up alone under the agent's CPU limit. */
async function nodeBaseline(cgroups: boolean): Promise<NodeBaseline> {
  const idle = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  await sleep(1_000);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(rssBytes(idle.pid ?? 0));
    await sleep(1_000);
  }
  await stopChild(idle);
  const t = spawn("/usr/bin/time", ["-f", "%U %S", process.execPath, "-e", "0"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let timeOut = "";
  t.stderr?.on("data", (d: Buffer) => (timeOut += d.toString()));
  await exited(t);
  const [u, sy] = timeOut.trim().split(/\s+/).map(Number);
  let startUnderAgentCpuLimitS: number | null = null;
  const group = cgroups
    ? BenchCgroup.create(`brupop-footprint-${process.pid}-bare`, LIMITS.agent)
    : undefined;
  if (group !== undefined) {
    const [exe, ...args] = group.wrap([process.execPath, "-e", "0"]) as [string, ...string[]];
    const t0 = performance.now();
    await exited(spawn(exe, args, { stdio: "ignore" }));
    startUnderAgentCpuLimitS = Math.round((performance.now() - t0) / 100) / 10;
    group.remove();
  }
  return {
    rssMiB: mib(samples.reduce((a, b) => a + b, 0) / samples.length),
    startUnderAgentCpuLimitS,
    startCpuS: Math.round(((u ?? 0) + (sy ?? 0)) * 100) / 100,
  };
}

/** Runs the measurement; see the top of this file. */
export async function measureFootprint(opts: FootprintOptions = {}): Promise<FootprintResult> {
  const windowMs = opts.windowMs ?? 30_000;
  const loopIntervalMs = opts.loopIntervalMs ?? 5_000;
  const cgroups = opts.cgroups ?? true;
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const node = process.execPath;
  const baseline = await nodeBaseline(cgroups);
  log(`footprint: bare node ${baseline.rssMiB} MiB RSS, \`node -e 0\` ${baseline.startCpuS} s CPU`);
  const tb = await BrupopTestbed.start({
    releases: [{ version: VERSION, releasedAt: 0 }],
    namespace: "footprint",
    ...(opts.cluster !== undefined && { cluster: opts.cluster }),
  });
  const dir = await mkdtemp(join(tmpdir(), "brupop-footprint-"));
  const running: Running[] = [];
  const tag = `brupop-footprint-${process.pid}`;
  try {
    const access = await inClusterAccess(tb.cluster, tb.namespace, "bench-footprint", dir);
    const inCluster: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      // As in the image: its ENV (NODE_ENV, malloc settings).
      ...imageEnv(),
      ...access.env,
      TRACING_FILTER_DIRECTIVE: "warn",
    };
    const [agentNode, ...others] = await tb.addNodes(3, {
      version: VERSION,
      namePrefix: "fp-",
      startAgents: false,
    });
    if (agentNode === undefined) throw new Error("no node");
    for (const n of others) tb.startAgent(n);

    const apiPort = await freePort();
    const api = launch(
      "apiserver",
      [
        node,
        BUNDLE_MAIN,
        "apiserver",
        `--namespace=${tb.namespace}`,
        `--tls-dir=${dirname(tb.caPath)}`,
        "--host=127.0.0.1",
      ],
      { ...inCluster, APISERVER_INTERNAL_PORT: String(apiPort) },
      { cgroups, name: `${tag}-apiserver` },
    );
    running.push(api);
    const metricsPort = await freePort();
    const ctl = launch(
      "controller",
      [node, BUNDLE_MAIN, "controller", `--namespace=${tb.namespace}`, `--metrics-port=${metricsPort}`],
      { ...inCluster, POD_NAME: "footprint-controller", MY_NODE_NAME: "footprint-controller-node" },
      { cgroups, name: `${tag}-controller` },
    );
    running.push(ctl);

    const agentRun = async (
      flags: readonly string[],
      name: string,
      runtime: string = node,
    ): Promise<Running & { startS: number; startCpuS: number }> => {
      const argv = [
        runtime,
        ...flags,
        BUNDLE_MAIN,
        "agent",
        `--namespace=${tb.namespace}`,
        `--apiserver-url=https://127.0.0.1:${apiPort}`,
        `--ca-path=${tb.caPath}`,
        `--token-path=${tb.tokenPath(agentNode)}`,
        `--socket=${tb.fleet.socketPath(agentNode)}`,
        `--loop-interval-ms=${loopIntervalMs}`,
      ];
      // A fresh shadow status each time: the start is measured from no status to the first one.
      await kube(
        tb.rest,
        "DELETE",
        `/apis/${API_GROUP}/v2/namespaces/${tb.namespace}/${PLURAL}/${shadowNameForNode(agentNode)}`,
      ).catch(() => undefined);
      const r = launch("agent", argv, { ...inCluster, MY_NODE_NAME: agentNode }, { cgroups, name });
      const startS = await waitFirstStatus(tb, agentNode, 180_000).catch((err: unknown) => {
        throw new Error(`${String(err)}\nagent stderr:\n${r.stderr.join("")}`);
      });
      return { ...r, startS, startCpuS: cpuSeconds(r.child.pid ?? 0) };
    };

    log(
      `footprint: apiserver, controller, agent (${CHART_AGENT_FLAGS.join(" ")}); ${windowMs / 1000} s window`,
    );
    const agent = await agentRun(CHART_AGENT_FLAGS, `${tag}-agent`);
    running.push(agent);
    await sleep(Math.min(2 * loopIntervalMs, 10_000)); // past start-up (first checks, JIT)
    const processes = await sample([api, ctl, agent], windowMs);
    const agentFigures = processes.find((p) => p.component === "agent");
    if (agentFigures !== undefined) {
      agentFigures.startToFirstStatusS = Math.round(agent.startS * 10) / 10;
      agentFigures.startCpuS = Math.round(agent.startCpuS * 100) / 100;
    }
    const agentExit = await stopChild(agent.child);
    if (agentFigures !== undefined) agentFigures.exitCode = agentExit;
    agent.group?.remove();
    running.splice(running.indexOf(agent), 1);

    const agentVariants: ProcessFootprint[] = [];
    if (opts.variants === true) {
      const variants = [
        ...AGENT_FLAG_SETS.map((flags) => ({ runtime: node, flags })),
        ...(opts.runtimes ?? []).map((runtime) => ({ runtime, flags: [] as readonly string[] })),
      ];
      for (const [i, { runtime, flags }] of variants.entries()) {
        log(`footprint: agent with ${runtime} [${flags.join(" ")}]`);
        const v = await agentRun(flags, `${tag}-agent-${i}`, runtime);
        await sleep(Math.min(2 * loopIntervalMs, 10_000));
        const [fig] = await sample([v], Math.min(windowMs, 20_000));
        if (fig !== undefined) {
          fig.startToFirstStatusS = Math.round(v.startS * 10) / 10;
          fig.startCpuS = Math.round(v.startCpuS * 100) / 100;
          fig.exitCode = await stopChild(v.child);
          agentVariants.push(fig);
        }
        v.group?.remove();
      }
    }
    for (const p of [api, ctl]) {
      const fig = processes.find((f) => f.component === p.component);
      const code = await stopChild(p.child);
      if (fig !== undefined) fig.exitCode = code;
    }
    return { nodes: 3, loopIntervalMs, processes, agentVariants, baseline };
  } finally {
    for (const r of running) {
      await stopChild(r.child);
      r.group?.remove();
    }
    await tb.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export interface StartVariant {
  name: string;
  /** Node's flags before the bundle (e.g. CHART_AGENT_FLAGS). */
  flags: readonly string[];
  /** Extra environment (e.g. NODE_COMPILE_CACHE). */
  env?: Readonly<Record<string, string>>;
  /** A script run instead of the bundle's launcher, with the agent's arguments (the floor). */
  script?: string;
  /**
   * Node's arguments of a process measured from its start to its exit instead (e.g. `["-e", "0"]`):
   * no status; its CPU from `/usr/bin/time` (10 ms ticks, as /proc for the others).
   */
  exitArgs?: readonly string[];
}

export interface StartFigure {
  variant: string;
  /** Process start → its shadow shows a status (s), and the CPU (user + sys) that took. */
  startS: number;
  startCpuS: number;
  /** CPU seconds by thread name (/proc/<pid>/task/<tid>/comm) at that moment: where the CPU went. */
  threads: Record<string, number>;
}

/** CPU seconds of each live thread of `pid`, summed by thread name. */
function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const dir = `/proc/${pid}/task/${tid}`;
      const name = readFileSync(`${dir}/comm`, "utf8").trim();
      const s = parseCpuTicks(readFileSync(`${dir}/stat`, "utf8")) / clockTicksPerSecond();
      out[name] = Math.round(((out[name] ?? 0) + s) * 1000) / 1000;
    }
  } catch {
    // the process is gone
  }
  return out;
}

/**
 * The agent's start alone (issue 30): a control plane, the apiserver bundle, then the agent bundle
 * started `runs` times per variant under the agent's cgroup limits (10m CPU), each from no shadow
 * to its first status. `npx tsx bench/agent-start.ts`; ~1 min per 10 runs under the limit.
 */
export async function measureAgentStart(opts: {
  variants: readonly StartVariant[];
  runs: number;
  cgroups?: boolean;
  log?: (line: string) => void;
}): Promise<StartFigure[]> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const cgroups = opts.cgroups ?? true;
  const node = process.execPath;
  const tb = await BrupopTestbed.start({
    releases: [{ version: VERSION, releasedAt: 0 }],
    namespace: "start",
  });
  const dir = await mkdtemp(join(tmpdir(), "brupop-start-"));
  const tag = `brupop-start-${process.pid}`;
  let api: Running | undefined;
  try {
    const access = await inClusterAccess(tb.cluster, tb.namespace, "bench-footprint", dir);
    const inCluster: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      ...imageEnv(),
      ...access.env,
      TRACING_FILTER_DIRECTIVE: "warn",
    };
    const [agentNode] = await tb.addNodes(1, { version: VERSION, namePrefix: "st-", startAgents: false });
    if (agentNode === undefined) throw new Error("no node");
    const apiPort = await freePort();
    api = launch(
      "apiserver",
      [
        node,
        BUNDLE_MAIN,
        "apiserver",
        `--namespace=${tb.namespace}`,
        `--tls-dir=${dirname(tb.caPath)}`,
        "--host=127.0.0.1",
      ],
      { ...inCluster, APISERVER_INTERNAL_PORT: String(apiPort) },
      { cgroups: false, name: `${tag}-apiserver` },
    );
    const out: StartFigure[] = [];
    for (let run = 0; run < opts.runs; run++) {
      for (const [i, v] of opts.variants.entries()) {
        if (v.exitArgs !== undefined) {
          const fig = await timeToExit(v, cgroups, `${tag}-${run}-${i}`);
          log(
            `agent start [${v.name}] run ${run + 1}: ${fig.startS} s, ${fig.startCpuS} s CPU (to its exit)`,
          );
          out.push(fig);
          continue;
        }
        await kube(
          tb.rest,
          "DELETE",
          `/apis/${API_GROUP}/v2/namespaces/${tb.namespace}/${PLURAL}/${shadowNameForNode(agentNode)}`,
        ).catch(() => undefined);
        const argv = [
          node,
          ...v.flags,
          v.script ?? BUNDLE_MAIN,
          "agent",
          `--namespace=${tb.namespace}`,
          `--apiserver-url=https://127.0.0.1:${apiPort}`,
          `--ca-path=${tb.caPath}`,
          `--token-path=${tb.tokenPath(agentNode)}`,
          `--socket=${tb.fleet.socketPath(agentNode)}`,
        ];
        const r = launch(
          "agent",
          argv,
          { ...inCluster, ...v.env, MY_NODE_NAME: agentNode },
          { cgroups, name: `${tag}-${run}-${i}` },
        );
        try {
          const startS = await Promise.race([
            waitFirstStatus(tb, agentNode, 180_000),
            exited(r.child).then((code) => {
              throw new Error(`exited (${code}) before its first status`);
            }),
          ]).catch((err: unknown) => {
            throw new Error(`${String(err)}\n${v.name} stderr:\n${r.stderr.join("")}`);
          });
          const fig = {
            threads: threadCpu(r.child.pid ?? 0),
            variant: v.name,
            startS: Math.round(startS * 10) / 10,
            startCpuS: Math.round(cpuSeconds(r.child.pid ?? 0) * 1000) / 1000,
          };
          log(
            `agent start [${v.name}] run ${run + 1}: ${fig.startS} s, ${fig.startCpuS} s CPU (threads: ${JSON.stringify(fig.threads)})`,
          );
          out.push(fig);
        } finally {
          await stopChild(r.child);
          r.group?.remove();
        }
      }
    }
    return out;
  } finally {
    if (api !== undefined) await stopChild(api.child);
    await tb.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** A variant measured from its start to its exit (`node -e 0`) under the agent's limits. */
async function timeToExit(v: StartVariant, cgroups: boolean, name: string): Promise<StartFigure> {
  const argv = ["/usr/bin/time", "-f", "%U %S", process.execPath, ...v.flags, ...(v.exitArgs ?? [])];
  const t0 = performance.now();
  const r = launch("agent", argv, { PATH: process.env.PATH, ...imageEnv(), ...v.env }, { cgroups, name });
  await exited(r.child);
  const startS = (performance.now() - t0) / 1000;
  r.group?.remove();
  const [u, sy] = (r.stderr.join("").trim().split("\n").at(-1) ?? "").split(/\s+/).map(Number);
  if (u === undefined || sy === undefined || Number.isNaN(u + sy))
    throw new Error(`${v.name}: no CPU time from /usr/bin/time: ${r.stderr.join("")}`);
  return {
    variant: v.name,
    startS: Math.round(startS * 10) / 10,
    startCpuS: Math.round((u + sy) * 1000) / 1000,
    threads: {},
  };
}

function table(rows: readonly ProcessFootprint[]): string {
  const lines = [
    "| process | RSS mean / max | working set (cgroup limit) | CPU | start → first status (CPU used) |",
    "|---|---|---|---|---|",
  ];
  for (const r of rows) {
    const cg =
      r.cgroup === null
        ? "—"
        : `${r.cgroup.workingSetMeanMiB} MiB (${r.cgroup.memoryBytes === undefined ? "none" : `${mib(r.cgroup.memoryBytes)} MiB`}${r.cgroup.cpuMillis === undefined ? "" : `, ${r.cgroup.cpuMillis}m CPU`}; OOM kills ${r.cgroup.reading.oomKills}, limit hit ${r.cgroup.reading.failcnt}×)`;
    const flags = r.command.slice(1, r.command.indexOf("dist/bundle/main.js")).join(" ");
    const exe = r.command[0] ?? "";
    const runtime = exe === process.execPath ? "" : ` (${exe.replace(/.*node_modules\//, "")})`;
    lines.push(
      `| ${r.component}${runtime}${flags === "" ? "" : ` \`${flags}\``} | ${r.rssMeanMiB} / ${r.rssMaxMiB} MiB | ${cg} | ${r.cpuPercent} % | ${r.startToFirstStatusS === undefined ? "" : `${r.startToFirstStatusS} s (${r.startCpuS ?? "?"} s)`} |`,
    );
  }
  return lines.join("\n");
}

export function footprintMarkdown(r: FootprintResult): string {
  const b = r.baseline;
  return [
    table(r.processes),
    "",
    `Node.js alone on this machine: ${b.rssMiB} MiB RSS idle; \`node -e 0\` takes ${b.startCpuS} s of CPU` +
      (b.startUnderAgentCpuLimitS === null
        ? "."
        : `, ${b.startUnderAgentCpuLimitS} s of wall time under a 10m CPU limit.`),
    ...(r.agentVariants.length > 0 ? ["", "Agent V8 flags compared:", "", table(r.agentVariants)] : []),
  ].join("\n");
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i < 0 ? undefined : process.argv[i + 1];
  };
  if (!process.argv.includes("--no-bundle")) {
    const { bundle } = await import("../tools/bundle.js");
    await bundle();
  }
  const result = await measureFootprint({
    windowMs: Number(arg("--window-s") ?? "30") * 1000,
    variants: process.argv.includes("--variants"),
    runtimes: process.argv.flatMap((a, i) => (a === "--runtime" ? [process.argv[i + 1] ?? ""] : [])),
    cgroups: !process.argv.includes("--no-cgroups"),
  });
  const out = arg("--json");
  if (out !== undefined) await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${footprintMarkdown(result)}\n`);
}

/** For each footprint goal, what limits its figure (shown when the goal is missed). */
export function footprintLimits(r: FootprintResult): Record<string, string> {
  const b = r.baseline;
  const agent = r.processes.find((p) => p.component === "agent");
  const cg = agent?.cgroup;
  const node = `Node.js itself: a bare \`node\` is ${b.rssMiB} MiB RSS here, most of it the node binary's own pages`;
  return {
    "agent-rss":
      `${node}; TLS (OpenSSL) adds ~8 MiB once https is loaded.` +
      (cg === null || cg === undefined
        ? ""
        : ` Under upstream's 50 Mi limit the agent's cgroup working set was ${cg.workingSetMeanMiB} MiB, ${cg.reading.oomKills} OOM kills`),
    "agent-start":
      `Node.js's own start-up: \`node -e 0\` needs ${b.startCpuS} s of CPU` +
      (b.startUnderAgentCpuLimitS === null
        ? ""
        : `, ${b.startUnderAgentCpuLimitS} s of wall time under a 10m limit`) +
      "; the agent adds loading its bundle and two TLS handshakes",
    "apiserver-rss": `${node}; fastify, prom-client and TLS on top`,
    "controller-rss-3": `${node}; prom-client, croner and TLS on top`,
  };
}
