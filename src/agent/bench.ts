// Agent figures for `npm run bench` (not wired into package.json here; bench/run.ts can call these):
//   measureAgentProcess()    one `brupop agent` process against the local cluster + a simulated host:
//                            steady-state RSS and CPU, sampled from /proc (Linux);
//   measureAgentsInProcess() N agents (default 500) in this process, sharing one watch (the demo's
//                            set-up): heap and RSS per agent.
// Both start a BrupopTestbed (real control plane, in-process brupop apiserver, simulated hosts) unless
// given one.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { BrupopTestbed } from "./testbed.js";

const FROM = "1.19.0";
const TO = "1.20.0";

export interface AgentProcessFigures {
  /** How the agent was started (built JS when dist/ exists, else through tsx). */
  command: string[];
  loopIntervalMs: number;
  windowMs: number;
  /** Mean, and highest, resident set size over the window. */
  rssBytesMean: number;
  rssBytesMax: number;
  /** User + system CPU time over the window, as a percentage of one core. */
  cpuPercent: number;
  /** Exit status after SIGTERM (0 expected). */
  exitCode: number | null;
}

export interface AgentProcessOptions {
  testbed?: BrupopTestbed;
  /** Sampling window once the agent is steady (default 30 s). */
  windowMs?: number;
  /** The agent's loop interval (default 5 s, as deployed). */
  loopIntervalMs?: number;
}

export interface InProcessFigures {
  agents: number;
  /** Time from starting the agents until every one had reported its first status. */
  startMs: number;
  heapBytesPerAgent: number;
  rssBytesPerAgent: number;
  /** Whether a forced GC preceded each reading (run node with --expose-gc for steadier numbers). */
  gc: boolean;
}

export interface InProcessOptions {
  testbed?: BrupopTestbed;
  agents?: number;
  /** How long the agents run in steady state before the reading (default 15 s). */
  settleMs?: number;
  loopIntervalMs?: number;
}

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** `brupop agent` as a command line: the built CLI if present, else the sources through tsx. */
export function agentCommand(): string[] {
  const built = join(repoRoot, "dist", "cli", "main.js");
  if (existsSync(built)) return [process.execPath, built, "agent"];
  return [process.execPath, "--import", "tsx", join(repoRoot, "src", "cli", "main.ts"), "agent"];
}

function clockTicksPerSecond(): number {
  try {
    const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** utime + stime of a process, in clock ticks (/proc/<pid>/stat fields 14 and 15). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m?.[1] === undefined ? 0 : Number(m[1]) * 1024;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

async function withTestbed<T>(
  given: BrupopTestbed | undefined,
  fn: (tb: BrupopTestbed) => Promise<T>,
): Promise<T> {
  const tb = given ?? (await BrupopTestbed.start({ releases: [{ version: TO, releasedAt: 0 }] }));
  try {
    return await fn(tb);
  } finally {
    if (given === undefined) await tb.stop();
  }
}

/** One agent as its own process (the way it is deployed): steady-state RSS and CPU. */
export function measureAgentProcess(opts: AgentProcessOptions = {}): Promise<AgentProcessFigures> {
  const windowMs = opts.windowMs ?? 30_000;
  const loopIntervalMs = opts.loopIntervalMs ?? 5_000;
  return withTestbed(opts.testbed, async (tb) => {
    const [node] = await tb.addNodes(1, { version: FROM, namePrefix: "bench-proc-", startAgents: false });
    if (node === undefined) throw new Error("no node");
    const [exe, ...base] = agentCommand() as [string, ...string[]];
    const args = [
      ...base,
      `--namespace=${tb.namespace}`,
      `--apiserver-url=${tb.apiserver.url}`,
      `--ca-path=${tb.caPath}`,
      `--token-path=${tb.tokenPath(node)}`,
      `--socket=${tb.fleet.socketPath(node)}`,
      `--kubeconfig=${tb.cluster.kubeconfigPath}`,
      `--loop-interval-ms=${loopIntervalMs}`,
    ];
    const child = spawn(exe, args, {
      env: { ...process.env, MY_NODE_NAME: node, TRACING_FILTER_DIRECTIVE: "warn" },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error("brupop agent did not start");
    try {
      await tb.waitForStatus(node, "the agent's first status", (s) => s.current_state === "Idle", {
        timeoutMs: 60_000,
      });
      await sleep(Math.min(loopIntervalMs * 2, 10_000)); // past start-up work (JIT, first checks)
      const hz = clockTicksPerSecond();
      const ticks0 = cpuTicks(pid);
      const t0 = performance.now();
      const samples: number[] = [];
      while (performance.now() - t0 < windowMs) {
        samples.push(rssBytes(pid));
        await sleep(Math.min(1_000, windowMs));
      }
      const elapsedS = (performance.now() - t0) / 1000;
      const cpuS = (cpuTicks(pid) - ticks0) / hz;
      child.kill("SIGTERM");
      const exitCode = await exited(child);
      return {
        command: [exe, ...base],
        loopIntervalMs,
        windowMs,
        rssBytesMean: Math.round(samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length)),
        rssBytesMax: Math.max(...samples),
        cpuPercent: Math.round((cpuS / elapsedS) * 10_000) / 100,
        exitCode,
      };
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });
}

function reading(): { heap: number; rss: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

/** N agents in this process (one shared watch, each with its own clients): memory per agent. */
export async function measureAgentsInProcess(opts: InProcessOptions = {}): Promise<InProcessFigures> {
  const count = opts.agents ?? 500;
  const given = opts.testbed;
  const tb =
    given ??
    (await BrupopTestbed.start({
      releases: [{ version: TO, releasedAt: 0 }],
      watch: "shared",
      agentTimings: { loopIntervalMs: opts.loopIntervalMs ?? 5_000 },
    }));
  try {
    const nodes: string[] = [];
    for (let i = 0; i < count; i += 100) {
      const batch = Math.min(100, count - i);
      nodes.push(...(await tb.addNodes(batch, { version: FROM, namePrefix: "bench-", startAgents: false })));
    }
    const before = reading();
    const t0 = performance.now();
    for (const n of nodes) tb.startAgent(n);
    await tb.waitForAll(nodes, "first status", (s) => s.current_state === "Idle", 300_000);
    const startMs = Math.round(performance.now() - t0);
    await sleep(opts.settleMs ?? 15_000);
    const after = reading();
    return {
      agents: count,
      startMs,
      heapBytesPerAgent: Math.round((after.heap - before.heap) / count),
      rssBytesPerAgent: Math.round((after.rss - before.rss) / count),
      gc: typeof (globalThis as { gc?: unknown }).gc === "function",
    };
  } finally {
    if (given === undefined) await tb.stop();
  }
}

// `node --import tsx [--expose-gc] src/agent/bench.ts [agents] [windowSeconds]` prints both figures.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const agents = Number(process.argv[2] ?? 500);
  const windowMs = Number(process.argv[3] ?? 30) * 1000;
  const proc = await measureAgentProcess({ windowMs });
  process.stdout.write(`${JSON.stringify({ process: proc })}\n`);
  const inProc = await measureAgentsInProcess({ agents });
  process.stdout.write(`${JSON.stringify({ inProcess: inProc })}\n`);
}
