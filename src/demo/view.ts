// What `brupop demo` shows: a pure rendering of fleet snapshots, so the live view and the plain
// progress lines can be tested without a terminal.
import type { BottlerocketShadow } from "../model/shadow.js";

export interface NodeRow {
  node: string;
  currentState: string;
  targetState: string;
  version: string;
  targetVersion: string;
  crashCount: number;
  cordoned: boolean;
}

export interface FleetSnapshot {
  elapsedMs: number;
  rows: NodeRow[];
  /** Version every node must reach for the demo to finish. */
  goalVersion: string;
  events: string[];
}

export interface NodeFacts {
  name: string;
  unschedulable: boolean;
}

export function rowsFrom(shadows: readonly BottlerocketShadow[], nodes: readonly NodeFacts[]): NodeRow[] {
  const cordoned = new Map(nodes.map((n) => [n.name, n.unschedulable]));
  return shadows
    .map((s) => {
      const node = (s.metadata.name ?? "").replace(/^brs-/, "");
      return {
        node,
        currentState: s.status?.current_state ?? "(no status)",
        targetState: s.spec.state,
        version: s.status?.current_version ?? "?",
        targetVersion: s.status?.target_version ?? "?",
        crashCount: s.status?.crash_count ?? 0,
        cordoned: cordoned.get(node) ?? false,
      };
    })
    .sort((a, b) => a.node.localeCompare(b.node, undefined, { numeric: true }));
}

export function isDone(row: NodeRow, goalVersion: string): boolean {
  return row.version === goalVersion && row.currentState === "Idle" && row.targetState === "Idle";
}

export function formatElapsed(ms: number): string {
  const total = Math.floor(ms / 1000);
  const m = Math.floor(total / 60);
  const s = total % 60;
  return `${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}

function stateCell(row: NodeRow): string {
  return row.currentState === row.targetState ? row.currentState : `${row.currentState} → ${row.targetState}`;
}

function versionCell(row: NodeRow): string {
  return row.version === row.targetVersion ? row.version : `${row.version} → ${row.targetVersion}`;
}

/** Left-aligned columns separated by two spaces, like kubectl. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export function progressBar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} nodes on the new version`;
}

/** The full-screen view (without cursor control codes). */
export function renderScreen(snap: FleetSnapshot, title: string): string {
  const done = snap.rows.filter((r) => isDone(r, snap.goalVersion)).length;
  const lines = [
    `${title}   elapsed ${formatElapsed(snap.elapsedMs)}`,
    "",
    ...table(
      ["NODE", "STATE", "VERSION", "CRASHES", "CORDONED"],
      snap.rows.map((r) => [
        r.node,
        stateCell(r),
        versionCell(r),
        String(r.crashCount),
        r.cordoned ? "yes" : "",
      ]),
    ),
    "",
    progressBar(done, snap.rows.length),
    "",
    "recent events:",
    ...(snap.events.length === 0 ? ["  (none yet)"] : snap.events.map((e) => `  ${e}`)),
  ];
  return lines.join("\n") + "\n";
}

/** Plain progress lines (no TTY): one line per node whose state or version changed. */
export function diffLines(prev: readonly NodeRow[], next: readonly NodeRow[], elapsedMs: number): string[] {
  const before = new Map(prev.map((r) => [r.node, r]));
  const out: string[] = [];
  for (const row of next) {
    const old = before.get(row.node);
    if (
      old !== undefined &&
      old.currentState === row.currentState &&
      old.targetState === row.targetState &&
      old.version === row.version &&
      old.cordoned === row.cordoned &&
      old.crashCount === row.crashCount
    ) {
      continue;
    }
    const cordon = row.cordoned ? " (cordoned)" : "";
    const crashes = row.crashCount > 0 ? `, ${row.crashCount} failed attempt(s)` : "";
    out.push(
      `${formatElapsed(elapsedMs)} ${row.node}: ${stateCell(row)}, ${versionCell(row)}${crashes}${cordon}`,
    );
  }
  return out;
}

export interface NodeTiming {
  node: string;
  startedMs: number | null;
  finishedMs: number | null;
}

export function renderSummary(totalMs: number, timings: readonly NodeTiming[], goalVersion: string): string {
  const rows = timings.map((t) => [
    t.node,
    t.startedMs === null ? "-" : formatElapsed(t.startedMs),
    t.finishedMs === null ? "-" : formatElapsed(t.finishedMs),
    t.startedMs === null || t.finishedMs === null
      ? "-"
      : `${((t.finishedMs - t.startedMs) / 1000).toFixed(1)} s`,
  ]);
  return [
    `All ${timings.length} nodes run ${goalVersion}. Total time ${(totalMs / 1000).toFixed(1)} s.`,
    "",
    ...table(["NODE", "STARTED", "FINISHED", "DURATION"], rows),
    "",
  ].join("\n");
}
