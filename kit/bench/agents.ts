// Agent figures for `npm run bench` (not wired into package.json here; bench/run.ts can call it):
//   measureAgentsInProcess() N agents (default 500) in this process, sharing one watch (the demo's
//                            set-up): heap and RSS per agent.
// It starts a BrupopTestbed (real control plane, in-process brupop apiserver, simulated hosts) unless
// given one. (The footprint of one agent process is measured by bench/footprint.ts.)
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { BrupopTestbed } from "../testbed/testbed.js";

const FROM = "1.19.0";
const TO = "1.20.0";

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

// `node --import tsx [--expose-gc] kit/bench/agents.ts [agents]` prints the figures.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const agents = Number(process.argv[2] ?? 500);
  const inProc = await measureAgentsInProcess({ agents });
  process.stdout.write(`${JSON.stringify({ inProcess: inProc })}\n`);
}
