// Rendering the benchmark results: the summary table printed at the end of a run, and the generated
// section of docs/benchmarks.md (between `<!-- bench:<mode>:begin -->` and `<!-- bench:<mode>:end -->`).
import { readFile, writeFile } from "node:fs/promises";
import type { KindCounts } from "../kit/bench/audit.js";
import type { GoalResult } from "../kit/bench/goals.js";
import { footprintMarkdown, type FootprintResult } from "./footprint.js";
import type { BenchResults, RolloutResult } from "./run.js";

const MiB = 2 ** 20;
const mib = (b: number): string => `${(b / MiB).toFixed(1)} MiB`;
const kib = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;
const s1 = (ms: number | null | undefined): string =>
  ms === null || ms === undefined ? "—" : `${(ms / 1000).toFixed(1)} s`;

function fmtGoalValue(g: GoalResult): string {
  if (g.value === null) return "—";
  const v =
    g.unit === "×"
      ? g.value.toFixed(2)
      : g.unit === "MiB"
        ? g.value.toFixed(1)
        : String(Math.round(g.value * 100) / 100);
  return g.unit === "×" ? `${v}×` : `${v} ${g.unit}`;
}

function fmtGoal(g: GoalResult): string {
  return g.unit === "×" ? `≤ ${g.max.toFixed(2)}×` : `≤ ${g.max} ${g.unit}`;
}

function kinds(k: KindCounts | undefined): string {
  if (k === undefined) return "—";
  return `${k.read} / ${k.write} / ${k.watch}`;
}

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

function rolloutRows(r: RolloutResult): string[] {
  return [
    r.label,
    String(r.nodes),
    r.completed ? s1(r.wallMs) : `**did not complete**`,
    r.overhead === null ? "—" : `${s1(r.overhead.strictIdealMs)} / ${s1(r.overhead.idealMs)}`,
    r.overhead === null
      ? "—"
      : `${r.overhead.strictRatio.toFixed(2)}× / ${r.overhead.ratio.toFixed(2)}× / ${r.overhead.schedulingRatio.toFixed(2)}×`,
    `${r.maxActive}`,
    `${r.decisionLatencyMs.p50} / ${r.decisionLatencyMs.p99} ms`,
    kinds(r.apiLoad.perNode),
    mib(r.controller.rssPeakBytes),
    `${r.controller.cpuSeconds} s`,
  ];
}

function cpuParts(byProcess: Record<string, number>): string {
  return Object.entries(byProcess)
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
}

function goalsTable(goals: readonly GoalResult[]): string {
  return table(
    ["figure", "measured", "goal", "verdict", "what limits it"],
    goals.map((g) => [
      g.what,
      fmtGoalValue(g),
      fmtGoal(g),
      g.verdict === "missed" ? "**missed**" : g.verdict,
      g.limitedBy ?? "",
    ]),
  );
}

/** The generated section of a `--footprint-only` run. */
export function renderFootprintOnly(r: {
  date: string;
  command: string;
  machine: { cpus: number; cpuModel: string; node: string; loadAvgStart: number[]; loadAvgEnd: number[] };
  durationS: number;
  footprint: FootprintResult;
  goals: readonly GoalResult[];
}): string {
  return [
    `Run ${r.date.slice(0, 16).replace("T", " ")} UTC, \`${r.command}\`, ${r.durationS} s. Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ` +
      `Node ${r.machine.node}; load average ${r.machine.loadAvgStart.join(" ")} at the start, ${r.machine.loadAvgEnd.join(" ")} at the end (the machine is shared). ` +
      `Each component is its bundle (\`dist/bundle/main.js <component>\`), on the in-cluster access path (a service-account token), idle: ` +
      `${r.footprint.nodes} nodes, agent loop ${r.footprint.loopIntervalMs / 1000} s.`,
    "",
    "**Goals**",
    "",
    goalsTable(r.goals.filter((g) => g.verdict !== "not measured" || g.id === "agent-cpu")),
    "",
    "**Processes** (RSS from /proc; working set = the cgroup's usage − inactive file pages, as `kubectl top` shows it)",
    "",
    footprintMarkdown(r.footprint),
  ].join("\n");
}

/** The generated section of docs/benchmarks.md for one run. */
export function renderMarkdown(r: BenchResults): string {
  const s = r.settings;
  const out: string[] = [];
  out.push(
    `Run ${r.date.slice(0, 16).replace("T", " ")} UTC, \`${r.command}\`, ${r.durationS} s. Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ` +
      `${r.machine.memoryGiB} GiB, Linux ${r.machine.kernel}, Node ${r.machine.node}; load average ${r.machine.loadAvgStart.join(" ")} at the start, ` +
      `${r.machine.loadAvgEnd.join(" ")} at the end (the machine is shared). ` +
      `Processes measured from ${r.builtJs ? "the bundles as shipped (dist/bundle)" : "the TypeScript sources through tsx (no dist/)"}.`,
    "",
    `Settings: N = ${s.nodes}, agents' watches ${s.watch === "own" ? "their own (two per agent, as deployed)" : "shared (one for all agents)"}, ` +
      `controller tick ${s.controllerTickMs} ms, agent loop ${s.agentLoopMs} ms, update check ${s.updateCheckMs} ms, ` +
      `host refresh/prepare/activate/reboot ${s.hostDurations.refresh}/${s.hostDurations.prepare}/${s.hostDurations.activate}/${s.hostDurations.reboot} ms, ` +
      `kwok node ${s.nodeDownDuringReboot ? "NotReady" : "left Ready"} during reboots.`,
    "",
    "**Goals**",
    "",
    goalsTable(r.goals),
    "",
  );
  if (r.single !== null) {
    out.push(
      `**One node alone** (${r.single.runs.length} updates): offer → done ${r.single.runs.map((x) => s1(x.cycleMs)).join(", ")} ` +
        `(median ${s1(r.single.cycleMs)}); of which noticing the offer ${r.single.runs.map((x) => s1(x.detectMs)).join(", ")} ` +
        `(median ${s1(r.single.detectMs)}); start → done ${r.single.runs.map((x) => s1(x.updateMs)).join(", ")} ` +
        `(median ${s1(r.single.updateMs)}). Controller RSS with this one node: ${mib(r.single.controllerRssBytes)}.`,
      "",
    );
  }
  out.push(
    "**Rollouts** (strict ideal = this rollout's offer → first start, then waves × one node's start → done; " +
      "brief ideal = waves × one node's offer → done)",
    "",
    table(
      [
        "limit",
        "nodes",
        "offer → all done",
        "ideal strict / brief",
        "overhead strict / brief / scheduling",
        "max in flight",
        "decision p50 / p99",
        "API per node: reads / writes / watches",
        "controller peak RSS",
        "controller CPU",
      ],
      r.rollouts.map(rolloutRows),
    ),
    "",
  );
  for (const ro of r.rollouts) {
    const byReq = Object.entries(ro.apiLoad.total.byRequest)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${(v / ro.nodes).toFixed(2)}`);
    const states = Object.entries(ro.decisionLatencyByState)
      .map(([k, v]) => `${k} p50 ${v.p50} / p99 ${v.p99} / max ${v.max} ms (${v.count})`)
      .join("; ");
    const pc = ro.apiLoad.perNodeByComponent;
    out.push(
      `- ${ro.label}: per node, controller ${kinds(pc["controller"])}, apiserver ${kinds(pc["apiserver"])}, agents ${kinds(pc["agent"])} ` +
        `(reads / writes / watches); 409 conflicts ${ro.apiLoad.total.conflicts}. Requests per node: ${byReq.join(", ")}. ` +
        eventsLine(ro) +
        `Offer → noticed p50/max ${s1(ro.offered.p50)}/${s1(ro.offered.max)}, → started p50/max ${s1(ro.started.p50)}/${s1(ro.started.max)}, ` +
        `→ done p50/max ${s1(ro.done.p50)}/${s1(ro.done.max)}. Decision latency by state: ${states}. ` +
        `Each node's start → done p50/p99 ${s1(ro.update.p50)}/${s1(ro.update.p99)}. ` +
        `Controller mean RSS ${mib(ro.controller.rssMeanBytes)}` +
        (ro.controller.heapUsedBytes === null
          ? ""
          : ` (V8 heap in use ${mib(ro.controller.heapUsedBytes)})`) +
        `, CPU ${ro.controller.cpuPercent} % of a core. ` +
        `Machine CPU ${ro.cpu.systemBusyPercent} % busy of ${ro.cpu.cores} cores; CPU seconds: ${cpuParts(ro.cpu.byProcess)}.` +
        (ro.testbedErrors > 0 ? ` Testbed reboot-handling errors: ${ro.testbedErrors}.` : ""),
    );
  }
  out.push("");
  if (r.steady !== null) {
    const l = r.steady.load;
    const byReq = Object.entries(l.byRequest)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`);
    out.push(
      `**Steady state** (${r.steady.windowS} s, every node Idle and up to date, nothing offered): ` +
        `${l.total.total} requests (reads / writes / watches ${kinds(l.total)}), LISTs ${l.total.list} ` +
        `(${r.steady.listsPerMinute}/min)${byReq.length > 0 ? `: ${byReq.join(", ")}` : ""}. ` +
        `Controller RSS ${mib(r.steady.controller.rssMeanBytes)}, CPU ${r.steady.controller.cpuPercent} % of a core. ` +
        `Machine CPU ${r.steady.cpu.systemBusyPercent} % busy of ${r.steady.cpu.cores} cores; CPU seconds: ${cpuParts(r.steady.cpu.byProcess)}.`,
      "",
    );
  }
  if ("error" in r.footprint) out.push(`**Bundled components:** failed: ${r.footprint.error}`, "");
  else out.push("**Bundled components**, idle (bench/footprint.ts)", "", footprintMarkdown(r.footprint), "");
  const foot: string[][] = [];
  foot.push([
    `${s.nodes} agents in one process (${s.watch} watches)`,
    `${kib(r.setup.rssBytesPerAgent)} RSS, ${kib(r.setup.heapBytesPerAgent)} heap per agent`,
    `after a forced GC; includes the in-process apiserver's side of each agent's connection; all reporting ${s1(r.setup.agentsStartMs)} after start`,
  ]);
  if (!("error" in r.apiserver)) {
    const a = r.apiserver;
    foot.push([
      `brupop apiserver, ${a.agents} concurrent agents' status updates`,
      `${a.requestsPerSecond} req/s, p50 ${a.p50Ms} ms, p99 ${a.p99Ms} ms, errors ${a.errors}; process RSS peak ${mib(a.peakRssBytes)} (${mib(a.baselineRssBytes)} before the server started)`,
      `own process through tsx, clients in the same process; ${a.tokenReviews} TokenReviews in the window`,
    ]);
  } else foot.push(["brupop apiserver", `failed: ${r.apiserver.error}`, ""]);
  if (!("error" in r.simulator)) {
    const m = r.simulator;
    foot.push([
      `simulated hosts (${m.hosts})`,
      `${kib(m.rssBytesPerHost)} RSS, ${kib(m.heapBytesPerHost)} heap per host`,
      `each serving its own Unix socket; started in ${s1(m.startMs)}`,
    ]);
  }
  out.push("**Footprint**", "", table(["what", "figure", "notes"], foot), "");
  if (r.gross.length > 0) out.push(`**Gross failures:** ${r.gross.join("; ")}.`, "");
  return out.join("\n");
}

/** Replaces the generated section for `mode` in the doc (appends one if the markers are missing). */
export async function updateDocs(path: string, mode: string, section: string): Promise<void> {
  const begin = `<!-- bench:${mode}:begin -->`;
  const end = `<!-- bench:${mode}:end -->`;
  const doc = await readFile(path, "utf8").catch(() => "# Benchmarks\n");
  const block = `${begin}\n\n${section.trim()}\n\n${end}`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  const next =
    i >= 0 && j > i ? doc.slice(0, i) + block + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n${block}\n`;
  await writeFile(path, next);
}

/** The plain-text summary printed at the end of a run. */
export function summaryTable(r: BenchResults): string {
  const rows: [string, string, string, string][] = r.goals.map((g) => [
    g.what,
    fmtGoalValue(g),
    fmtGoal(g),
    g.verdict,
  ]);
  for (const ro of r.rollouts) {
    rows.push([
      `rollout ${ro.label}, N=${ro.nodes}: offer → all done`,
      ro.completed ? s1(ro.wallMs) : "did not complete",
      "",
      ro.overhead === null
        ? ""
        : `overhead ${ro.overhead.strictRatio.toFixed(2)}× strict, ${ro.overhead.ratio.toFixed(2)}× brief`,
    ]);
  }
  const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i as 0 | 1 | 2 | 3].length), 6));
  const line = (row: readonly string[]): string => row.map((c, i) => c.padEnd(w[i] ?? 0)).join("  ");
  return [`brupop bench (${r.mode})`, line(["figure", "value", "goal", "verdict"]), ...rows.map(line)].join(
    "\n",
  );
}

/** The controller's Events per node by reason (what its `create events` writes are). */
function eventsLine(ro: RolloutResult): string {
  const e = ro.eventsPerNode;
  if (e === undefined) return "";
  const parts = Object.entries(e)
    .sort((a, b) => b[1].events - a[1].events)
    .map(
      ([k, v]) =>
        `${k} ${v.events.toFixed(2)}${v.repeats > 0 ? ` (+${v.repeats.toFixed(2)} repeats in series)` : ""}`,
    );
  return `Controller Events per node by reason: ${parts.length === 0 ? "none" : parts.join(", ")}. `;
}
