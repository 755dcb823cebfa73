// `npm run chaos -- --schedules N --nodes M --seed S`: randomized fault schedules against brupop on a
// REAL control plane (kit/testenv) with kwok nodes, simulated hosts and in-process agents, apiserver
// and two controller replicas; the invariants are checked over an independent observer's history
// (kit/chaos, docs/reliability.md). Schedule i uses seed S+i; `--seed S --schedules 1` replays one.
// Each schedule's history.jsonl and verdict.json go under --results (default
// bench/results/chaos/<time>/seed-<S>/, gitignored). Exit status 1 if any invariant was violated.
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startCluster } from "../kit/testenv/cluster.js";
import { runSchedule, type RunResult } from "../kit/chaos/run.js";
import { describeViolation, summaryLine } from "../kit/chaos/report.js";
import { generateSchedule, parseKinds } from "../kit/chaos/schedule.js";
import { splitIntoLanes, sumSummaries, type ChaosSummary } from "../kit/chaos/lanes.js";
import { createLogger, silentLogger } from "../src/log.js";

/** Real-node clusters never run two at once on a machine (docs/testenv.md). */
const REALNODE_LOCK = "/tmp/brupop-realnode.lock";

const USAGE = `usage: npm run chaos -- [--schedules N] [--nodes M] [--seed S] [--fault-window MS] [--settle MS] [--results DIR]
  --schedules N     schedules to run (default 1)
  --nodes M         kwok nodes per schedule (default 6, at least 2)
  --seed S          seed of the first schedule (default: random, printed); schedule i uses S+i
  --fault-window MS faults are drawn within this window after the rollout starts (default 20000)
  --settle MS       after the heal, the fleet fails to converge once nothing changed for this
                    long (default 120000; hard cap 5 × MS)
  --results DIR     where histories and verdicts go (default bench/results/chaos/<time>)
  --real-nodes      instead: the real-node schedule (test/e2e/chaos-realnodes.test.ts, seed
                    --seed or 1) on two real kubelets, under flock ${REALNODE_LOCK}
  --budget MS       start no schedule after MS since the run began (default: no limit): a large
                    run that fits a time slot, e.g. --schedules 200 --budget 1200000
  --lanes K         run the schedules in K child processes, each with its own control plane and a
                    contiguous block of the seeds (lane j's output in <results>/lane-j); the
                    summary adds the lanes up (default 1: this process, one cluster)
  --kinds K         fault kinds drawn: all (default), classic (the ten before the control-plane
                    faults), control-plane (the thirteen before cut-agent-connections): each
                    replays seeds recorded until then; or a comma-separated list`;

function intOption(
  values: Record<string, string | boolean | undefined>,
  name: string,
  fallback: number,
  min: number,
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== "string" || !Number.isSafeInteger(n) || n < min) {
    throw new Error(`--${name} must be an integer ≥ ${min}, got ${String(raw)}\n${USAGE}`);
  }
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      schedules: { type: "string" },
      nodes: { type: "string" },
      seed: { type: "string" },
      "fault-window": { type: "string" },
      settle: { type: "string" },
      results: { type: "string" },
      kinds: { type: "string" },
      budget: { type: "string" },
      lanes: { type: "string" },
      "real-nodes": { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values["real-nodes"] === true) return realNodes(intOption(values, "seed", 1, 0));
  const schedules = intOption(values, "schedules", 1, 1);
  const nodes = intOption(values, "nodes", 6, 2);
  const seed0 = intOption(values, "seed", Math.floor(Math.random() * 1_000_000), 0);
  const faultWindowMs = intOption(values, "fault-window", 20_000, 0);
  const settleMs = intOption(values, "settle", 120_000, 1_000);
  const kinds = parseKinds(values.kinds ?? "all");
  const budgetMs = intOption(values, "budget", Number.POSITIVE_INFINITY, 1);
  const lanes = intOption(values, "lanes", 1, 1);
  const started = performance.now();
  const results =
    values.results ?? join("bench", "results", "chaos", new Date().toISOString().replace(/[:.]/g, "-"));
  await mkdir(results, { recursive: true });
  if (lanes > 1) {
    const passOn = { nodes, faultWindowMs, settleMs, kinds: values.kinds ?? "all", budgetMs };
    return runLanes(splitIntoLanes(seed0, schedules, lanes), results, passOn);
  }
  const logger =
    process.env["BRUPOP_CHAOS_LOG"] === "1"
      ? createLogger({ level: "debug", name: "chaos" })
      : silentLogger();

  process.stdout.write(
    `chaos: ${schedules} schedule(s) × ${nodes} nodes, seeds ${seed0}..${seed0 + schedules - 1}, results in ${results}\n`,
  );
  const cluster = await startCluster();
  const runs: RunResult[] = [];
  let faults = 0;
  let violations = 0;
  try {
    for (let i = 0; i < schedules; i++) {
      if (performance.now() - started > budgetMs) {
        process.stdout.write(`chaos: --budget ${budgetMs} ms spent, ${i} of ${schedules} schedules run\n`);
        break;
      }
      const seed = seed0 + i;
      const schedule = generateSchedule(seed, { nodes, faultWindowMs, kinds });
      const r = await runSchedule({
        cluster,
        schedule,
        namespace: `chaos-s${seed}`,
        dir: join(results, `seed-${seed}`),
        settleMs,
        logger,
      });
      runs.push(r);
      faults += r.faultsInjected;
      violations += r.violations.length;
      process.stdout.write(`${summaryLine(r)}\n`);
      for (const v of r.violations)
        process.stdout.write(`${describeViolation({ seed, nodes }, v, r.history)}\n`);
      for (const e of [...r.faultErrors, ...r.testbedErrors]) process.stdout.write(`  note: ${e}\n`);
    }
  } finally {
    await cluster.stop();
  }
  const summary: ChaosSummary = {
    schedules: runs.length,
    nodes,
    seeds: runs.map((r) => r.seed),
    faultsInjected: faults,
    violations,
    failedSeeds: runs.filter((r) => r.violations.length > 0).map((r) => r.seed),
  };
  await writeFile(join(results, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(
    `chaos: schedules run ${summary.schedules}, faults injected ${faults}, invariant violations ${violations}` +
      (summary.failedSeeds.length > 0 ? ` (seeds ${summary.failedSeeds.join(", ")})` : "") +
      "\n",
  );
  return violations > 0 ? 1 : 0;
}

/**
 * Each lane a child `bench/chaos.ts` with its own cluster and seed block, all at once; their
 * summaries added up into <results>/summary.json. The children's lines are prefixed with the lane.
 */
async function runLanes(
  blocks: ReturnType<typeof splitIntoLanes>,
  results: string,
  o: { nodes: number; faultWindowMs: number; settleMs: number; kinds: string; budgetMs: number },
): Promise<number> {
  process.stdout.write(`chaos: ${blocks.length} lanes, each its own control plane\n`);
  const exits = await Promise.all(
    blocks.map(async (b) => {
      const dir = join(results, `lane-${b.lane}`);
      const args = [
        "--import",
        "tsx",
        import.meta.filename,
        ...["--schedules", String(b.schedules), "--seed", String(b.seed), "--nodes", String(o.nodes)],
        ...["--fault-window", String(o.faultWindowMs), "--settle", String(o.settleMs), "--kinds", o.kinds],
        ...["--results", dir],
        ...(Number.isFinite(o.budgetMs) ? ["--budget", String(o.budgetMs)] : []),
      ];
      const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: process.env });
      createInterface({ input: child.stdout }).on("line", (l) =>
        process.stdout.write(`[lane ${b.lane}] ${l}\n`),
      );
      createInterface({ input: child.stderr }).on("line", (l) =>
        process.stderr.write(`[lane ${b.lane}] ${l}\n`),
      );
      const code = await new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? 2)));
      return { dir, code };
    }),
  );
  const parts: ChaosSummary[] = [];
  for (const e of exits) {
    try {
      parts.push(JSON.parse(await readFile(join(e.dir, "summary.json"), "utf8")) as ChaosSummary);
    } catch {
      process.stderr.write(`chaos: ${e.dir} wrote no summary (exit ${e.code})\n`);
    }
  }
  const summary = sumSummaries(parts);
  await writeFile(join(results, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(
    `chaos: ${blocks.length} lanes: schedules run ${summary.schedules}, faults injected ${summary.faultsInjected}, ` +
      `invariant violations ${summary.violations}` +
      (summary.failedSeeds.length > 0 ? ` (seeds ${summary.failedSeeds.join(", ")})` : "") +
      "\n",
  );
  if (summary.violations > 0) return 1;
  return exits.every((e) => e.code === 0) && parts.length === exits.length ? 0 : 2;
}

/** The real-node schedule's e2e file, under the machine's real-node lock; its exit status. */
function realNodes(seed: number): number {
  process.stdout.write(`chaos: real nodes, seed ${seed} (waits for ${REALNODE_LOCK})\n`);
  const file = join(import.meta.dirname, "..", "test", "e2e", "chaos-realnodes.test.ts");
  const r = spawnSync(
    "flock",
    [REALNODE_LOCK, process.execPath, "--import", "tsx", "--test", "--test-concurrency=1", file],
    { stdio: "inherit", env: { ...process.env, BRUPOP_CHAOS_REALNODE_SEED: String(seed) } },
  );
  if (r.error !== undefined) throw r.error;
  return r.status ?? 2;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
