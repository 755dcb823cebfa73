// The benchmark's goals (issue 10) and how a run is judged against them: each figure is "met" or
// "missed" against its goal; `--quick` (the CI smoke) fails only on gross failures: a rollout that
// did not complete, or a figure above its gross limit (3× its goal unless the goal says why not).

export type Verdict = "met" | "missed" | "not measured";

export interface Goal {
  id: string;
  what: string;
  unit: string;
  /** The figure must be at most this. */
  max: number;
  /** Gross failure above this (default 3 × max). */
  grossAbove: number;
}

export const GOALS: readonly Goal[] = [
  {
    id: "rollout-overhead",
    what: "rollout overhead, c=50 (wall ÷ strict ideal)",
    unit: "×",
    max: 1.1,
    // Not 3×: on one 2-core machine running the control plane, the hosts and the agents too, this
    // mostly measures CPU contention (2.6–4.6× in four quick runs of the same code); 10× still
    // catches a stalled or serialised rollout. rollout-scheduling below is gated at 3×.
    grossAbove: 11,
  },
  {
    id: "rollout-scheduling",
    what: "rollout scheduling loss, c=50 (wall ÷ ideal with the update times seen under load)",
    unit: "×",
    max: 1.1,
    grossAbove: 3.3,
  },
  {
    id: "writes-per-node",
    what: "kube-apiserver writes per node update, c=50",
    unit: "writes",
    // Issue 30: ≤ 16 (upstream ~22; was 20). Not 3×: the count barely depends on the machine's
    // load (15.8 and 21.5 in quick runs a week apart were code, not noise), so a quick run fails
    // from 20 on: one more write per update than the goal allows for, e.g. Events doubled again.
    max: 16,
    grossAbove: 20,
  },
  {
    id: "steady-lists",
    what: "LIST requests per minute, steady state (no update in flight)",
    unit: "LIST/min",
    // "~0": an informer may legitimately relist after a 410; polling would be one per tick or loop.
    max: 1,
    grossAbove: 10,
  },
  {
    id: "decision-p99",
    what: "decision latency p99 (status reached → next spec), c=50",
    unit: "ms",
    max: 3_000,
    grossAbove: 9_000,
  },
  {
    id: "controller-rss",
    what: "controller peak RSS at N (child process)",
    unit: "MiB",
    max: 150,
    grossAbove: 450,
  },
  {
    id: "controller-rss-3",
    what: "controller steady RSS with 3 nodes (bundle, in-cluster access)",
    unit: "MiB",
    max: 64,
    grossAbove: 192,
  },
  {
    id: "apiserver-rss",
    what: "apiserver steady RSS, serving an agent (bundle, in-cluster access)",
    unit: "MiB",
    max: 64,
    grossAbove: 192,
  },
  {
    id: "agent-rss",
    what: "one agent process, steady RSS (mean; bundle, in-cluster access, chart's V8 flags)",
    unit: "MiB",
    // Issue 21: upstream's memory limit for the agent (50 Mi). Was 64 MiB (issue 10).
    max: 50,
    grossAbove: 150,
  },
  {
    id: "agent-start",
    what: "agent start → first status report, under a 10m CPU limit",
    unit: "s",
    max: 5,
    // Not 3×: Node.js alone needs ~4 s to start under 10m of CPU, and the agent measured 26–36 s
    // (docs/benchmarks.md); from 60 s (twice that) a quick run fails. agent-start-cpu below is
    // the same start in CPU time, which the machine's load moves less.
    grossAbove: 60,
  },
  {
    id: "agent-start-cpu",
    what: "agent start → first status report, CPU time used (user + sys)",
    unit: "s",
    // 5 s of wall time under 10m of CPU is 0.05 s of CPU; measured 0.26–0.36 s (issue 30).
    max: 0.05,
    grossAbove: 0.6,
  },
  {
    id: "agent-cpu",
    what: "idle agent CPU ÷ upstream's per node, same loop interval",
    unit: "×",
    max: 2,
    grossAbove: 6,
  },
];

export interface GoalResult extends Goal {
  value: number | null;
  verdict: Verdict;
  gross: boolean;
  /** For a missed goal: what limits the figure (when the run knows). */
  limitedBy?: string;
}

/** Judges each figure (null or absent = not measured); `limits` explains a missed figure. */
export function judge(
  figures: Readonly<Record<string, number | null | undefined>>,
  limits: Readonly<Record<string, string>> = {},
): GoalResult[] {
  return GOALS.map((g) => {
    const v = figures[g.id];
    const value = v === undefined || v === null || !Number.isFinite(v) ? null : v;
    const verdict: Verdict = value === null ? "not measured" : value <= g.max ? "met" : "missed";
    const limitedBy = limits[g.id];
    return {
      ...g,
      value,
      verdict,
      gross: value !== null && value > g.grossAbove,
      ...(verdict === "missed" && limitedBy !== undefined && { limitedBy }),
    };
  });
}

/** Why a `--quick` run fails (empty: it passes). */
export function grossFailures(results: readonly GoalResult[], incomplete: readonly string[]): string[] {
  return [
    ...incomplete.map((what) => `${what} did not complete`),
    ...results
      .filter((r) => r.gross)
      .map((r) => `${r.what}: ${r.value ?? "?"} ${r.unit} is more than ${r.grossAbove} (goal ${r.max})`),
  ];
}
