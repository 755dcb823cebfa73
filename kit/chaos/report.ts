// What a chaos run prints: one line per schedule, and for a violation its seed, the invariant, and
// the history window around it (times relative to the rollout's start).
import { formatEvent, windowAround, type History } from "./history.js";
import { INVARIANTS, type Violation } from "./invariants.js";
import type { FinalOutcome } from "./invariants.js";

export function rolloutStart(h: History): number {
  return h.find((e) => e.kind === "phase" && e.phase === "rollout")?.t ?? h[0]?.t ?? 0;
}

export function summaryLine(r: {
  seed: number;
  faultsInjected: number;
  outcome: FinalOutcome;
  settled: boolean;
  violations: readonly Violation[];
  durationMs: number;
}): string {
  const o = r.outcome;
  return (
    `seed ${r.seed}: ${r.faultsInjected} faults, ${o.upToDate.length} up to date, ${o.failed.length} failed, ` +
    `${o.stuck.length} stuck${r.settled ? "" : " (did not settle)"}, ${r.violations.length} violations ` +
    `(${(r.durationMs / 1000).toFixed(1)} s)`
  );
}

/** The violation and the history window around it, ready to print. */
export function describeViolation(
  run: { seed: number; nodes: number },
  v: Violation,
  h: History,
  maxLines = 60,
): string {
  const t0 = rolloutStart(h);
  const around = windowAround(h, v.t, 3_000, 1_000);
  const shown = around.slice(-maxLines);
  const lines = [
    `VIOLATION seed ${run.seed}: invariant ${v.invariant} (${INVARIANTS[v.invariant]})`,
    `  at ${((v.t - t0) / 1000).toFixed(3)} s: ${v.message}`,
    `  replay: npm run chaos -- --seed ${run.seed} --schedules 1 --nodes ${run.nodes}`,
    `  history window (${shown.length} of ${around.length} entries, -3 s .. +1 s):`,
    ...shown.map((e) => `    ${formatEvent(e, t0)}`),
  ];
  return lines.join("\n");
}
