// What `brupop demo` shows: a pure rendering of fleet snapshots, so the live view, the plain progress
// lines and the summaries can be tested without a terminal.
//
// The WHY of each node is `brupop status`'s own (src/status/core.ts, on top of the controller's
// explainFleet), so the demo and `brupop status` never disagree. The demo adds what only it knows:
// the text of a host failure it saw (the simulated hosts run in its process).
import { truncate, type TermSize } from "../../src/status/screen.js";
import type { FleetStatus, NodeRow as StatusRow, RowReason } from "../../src/status/model.js";

export { truncate, type TermSize };

/** One host failure the demo saw (the host's most_recent_command was Failed). */
export interface SeenFailure {
  /** e.g. "prepare". */
  command: string;
  /** The host's stderr, e.g. "demo: injected prepare failure". */
  text: string;
}

export interface DemoRow {
  node: string;
  state: string;
  /** Same, with short state names (narrow terminals). */
  shortState: string;
  version: string;
  crashes: number;
  cordoned: boolean;
  done: boolean;
  /** In the controller's active set (its update has started). */
  active: boolean;
  attention: boolean;
  /** Why the node is where it is (status's message, plus a failure's cause). */
  why: string;
  /** What changes when the reason changes (not the clock): for the plain progress lines. */
  reasonKey: string;
}

const SHORT_STATE: Readonly<Record<string, string>> = {
  StagedAndPerformedUpdate: "Staged",
  RebootedIntoUpdate: "Rebooted",
  MonitoringUpdate: "Monitoring",
};

function arrow(current: string | null, target: string | null, short = false): string {
  const s = (x: string) => (short ? (SHORT_STATE[x] ?? x) : x);
  if (current === null) return target === null ? "-" : `- → ${s(target)}`;
  return target === null || target === current ? s(current) : `${s(current)} → ${s(target)}`;
}

export function failureText(f: SeenFailure): string {
  return `${f.command} failed: ${f.text}`;
}

function whyOf(row: StatusRow, failure: SeenFailure | undefined): string {
  // The agent's own account (status.failure) is in row.message already; the host's stderr the demo saw is for upstream agents.
  if (failure === undefined || row.failure !== undefined) return row.message;
  if (row.reason.kind === "backoff") return `${row.message}; last: ${failureText(failure)}`;
  if (row.state.current === "ErrorReset") return `${failureText(failure)}; recovering`;
  return row.message;
}

/** The reason already names the failure (the demo's or the agent's status.failure): no note again. */
function saysWhyItFailed(why: string): boolean {
  return /failed:|; last: |update failed \(/.test(why);
}

function reasonKey(reason: RowReason): string {
  // "updating" carries timestamps that move at every step; the state columns show that already.
  return reason.kind === "updating" ? "updating" : JSON.stringify(reason);
}

export function isDoneRow(row: StatusRow, goalVersion: string): boolean {
  // Up to date by the node's outcome: on the goal version is not enough after a failed health gate.
  return (
    row.phase === "up-to-date" &&
    row.version.current === goalVersion &&
    row.state.current === "Idle" &&
    row.state.target === "Idle"
  );
}

/** Rows of the view, in status's order (by node name). */
export function demoRows(
  status: FleetStatus,
  goalVersion: string,
  failures: ReadonlyMap<string, SeenFailure> = new Map(),
): DemoRow[] {
  const rows = status.nodes.map((r) => ({
    node: r.node,
    state: arrow(r.state.current, r.state.target),
    shortState: arrow(r.state.current, r.state.target, true),
    version: arrow(r.version.current, r.version.target),
    crashes: r.crashCount ?? 0,
    cordoned: r.cordoned === true,
    done: isDoneRow(r, goalVersion),
    active: r.phase === "updating",
    attention: r.attention,
    why: whyOf(r, failures.get(r.node)),
    reasonKey: reasonKey(r.reason),
  }));
  return rows.sort((a, b) => a.node.localeCompare(b.node, undefined, { numeric: true }));
}

export function formatElapsed(ms: number): string {
  const total = Math.floor(ms / 1000);
  const m = Math.floor(total / 60);
  const s = total % 60;
  return `${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}

/** Display width (every character we print is one column wide). */
const width = (s: string): number => [...s].length;

/** Left-aligned columns separated by two spaces, like kubectl; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))));
  return [header, ...rows].map((cells) => alignRow(cells, widths));
}

function alignRow(cells: readonly string[], widths: readonly number[]): string {
  return cells
    .map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat(Math.max(0, (widths[i] ?? 0) - width(c)))))
    .join("  ")
    .trimEnd();
}

export function progressBar(done: number, total: number, barWidth = 30): string {
  const filled = total === 0 ? barWidth : Math.round((done / total) * barWidth);
  return `[${"#".repeat(filled)}${"-".repeat(barWidth - filled)}] ${done}/${total} nodes on the new version`;
}

export const VIEW_HEADER = ["NODE", "STATE", "VERSION", "CRASHES", "CORDONED", "WHY"] as const;
const GAP = 2;
const WHY = 5;
/** A WHY column narrower than this moves the WHY to its own line. */
const MIN_INLINE_WHY = 64;

/** One node's lines in the view: its table row, and its WHY on a line of its own when narrow. */
export interface FittedTable {
  header: string;
  rows: string[][];
}

/**
 * The node table fitted to `columns` without cutting anything that matters: full state names if
 * everything fits, else short ones, else without CORDONED, then CRASHES (a back-off's WHY says the
 * failures, a drain's that it drains). A WHY column of 64+ characters cuts a longer WHY with "…";
 * narrower, the WHY moves to a line of its own under its node ("  └ why"). NODE and VERSION are
 * never cut.
 */
export function fitTable(rows: readonly DemoRow[], columns: number): FittedTable {
  const cellsOf = (r: DemoRow, short: boolean): string[] => [
    r.node,
    short ? r.shortState : r.state,
    r.version,
    String(r.crashes),
    r.cordoned ? "yes" : "",
    r.why,
  ];
  const layout = (short: boolean, keep: readonly number[]) => {
    const header = keep.map((i) => VIEW_HEADER[i] ?? "");
    const grid = rows.map((r) => {
      const c = cellsOf(r, short);
      return keep.map((i) => c[i] ?? "");
    });
    const widths = header.map((h, i) => Math.max(width(h), ...grid.map((c) => width(c[i] ?? ""))));
    const total = widths.reduce((x, y) => x + y, 0) + GAP * (widths.length - 1);
    return { header, grid, widths, total };
  };
  const all = [0, 1, 2, 3, 4, WHY];
  const tries = [
    [false, all],
    [true, all],
    [true, [0, 1, 2, 3, WHY]],
    [true, [0, 1, 2, WHY]],
  ] as const;
  // First a layout where everything fits; else one that cuts only a long WHY (short names first).
  for (const cutWhy of [false, true]) {
    for (const [short, keep] of cutWhy ? tries.slice(1) : tries) {
      const l = layout(short, keep);
      const why = l.widths.at(-1) ?? 0;
      const room = columns - (l.total - why);
      if (l.total <= columns || (cutWhy && room >= MIN_INLINE_WHY)) {
        const widths = [...l.widths.slice(0, -1), Math.min(why, room)];
        return {
          header: alignRow(l.header, widths),
          rows: l.grid.map((c) => [
            alignRow(
              c.map((cell, i) => truncate(cell, widths[i] ?? 0)),
              widths,
            ),
          ]),
        };
      }
    }
  }
  // Narrow: the WHY under each unfinished node.
  let l = layout(true, [0, 1, 2, 3, 4]);
  if (l.total > columns) l = layout(true, [0, 1, 2]);
  return {
    header: truncate(alignRow(l.header, l.widths), columns),
    rows: l.grid.map((c, i) => {
      const r = rows[i];
      const line = truncate(alignRow(c, l.widths), columns);
      return r === undefined || r.done ? [line] : [line, ...whyLines(r.why, columns)];
    }),
  };
}

/** A WHY under its node: "  └ " then words, on at most two lines, the second cut with "…". */
export function whyLines(why: string, columns: number): string[] {
  const room = Math.max(8, columns - 4);
  if (width(why) <= room) return [`  └ ${why}`];
  const words = why.split(" ");
  let first = "";
  while (words.length > 0 && width(first === "" ? (words[0] ?? "") : `${first} ${words[0] ?? ""}`) <= room) {
    first = first === "" ? (words.shift() ?? "") : `${first} ${words.shift() ?? ""}`;
  }
  if (first === "") return [`  └ ${truncate(why, room)}`];
  return [`  └ ${first}`, `    ${truncate(words.join(" "), room)}`];
}

export interface Frame {
  title: string;
  elapsedMs: number;
  rows: DemoRow[];
  /** Newest last. */
  events: string[];
  /** Lines shown under the title (e.g. "the schedule does not open before --timeout"). */
  notes?: string[];
  /** The UpdatePolicy's line, as `brupop status` prints it (none: no policy). */
  policy?: string | undefined;
  /** The keys, on the last line (a terminal's playground; none: no keys). */
  footer?: string | undefined;
}

/**
 * The full-screen view as lines, each at most `size.columns` wide and at most `size.rows` of them:
 * the title and progress always; then the table (nodes that do not fit are summed up in one line,
 * unfinished nodes shown first); then as many recent events as fit.
 */
export function renderFrame(frame: Frame, size: TermSize): string[] {
  const cols = Math.max(20, size.columns);
  const footer = frame.footer === undefined ? [] : [frame.footer];
  const height = Math.max(5, size.rows) - footer.length;
  const done = frame.rows.filter((r) => r.done).length;
  const head = [
    `brupop demo  ${formatElapsed(frame.elapsedMs)}  ${frame.title}`,
    ...(frame.notes ?? []),
    ...(frame.policy === undefined ? [] : [frame.policy]),
    progressBar(done, frame.rows.length, Math.min(30, Math.max(10, cols - 40))),
    "",
  ];
  const table = fitTable(frame.rows, cols);
  // Room for the table's rows: keep the events heading and the newest event if there are events.
  const room = height - head.length - 1 - (frame.events.length > 0 ? 3 : 0);
  const cost = table.rows.reduce((n, r) => n + r.length, 0);
  const shown = new Set<number>();
  if (cost <= room) frame.rows.forEach((_, i) => shown.add(i));
  else {
    // Unfinished nodes first (in node order), then finished ones, while they fit (one line is kept
    // to say what is hidden).
    const order = [...frame.rows.keys()].sort(
      (a, b) => Number(frame.rows[a]?.done) - Number(frame.rows[b]?.done) || a - b,
    );
    let used = 1;
    for (const i of order) {
      const need = table.rows[i]?.length ?? 1;
      if (used + need > room) break;
      used += need;
      shown.add(i);
    }
  }
  const lines = [...head, table.header];
  table.rows.forEach((r, i) => {
    if (shown.has(i)) lines.push(...r);
  });
  const hidden = frame.rows.filter((_, i) => !shown.has(i));
  if (hidden.length > 0) {
    const hiddenDone = hidden.filter((r) => r.done).length;
    lines.push(`… ${hidden.length} more node${hidden.length === 1 ? "" : "s"} (${hiddenDone} done)`);
  }
  const left = height - lines.length - 2;
  if (frame.events.length > 0 && left > 0) {
    lines.push("", "recent events:");
    lines.push(...frame.events.slice(-left).map((e) => `  ${e}`));
  }
  // The footer on the terminal's last line, like top's or k9s's.
  const body = lines.slice(0, height);
  const pad = footer.length === 0 ? [] : Array<string>(height - body.length).fill("");
  return [...body, ...pad, ...footer].map((l) => truncate(l, cols));
}

/** Plain progress lines (no TTY): one line per node whose state, version or reason changed. */
export function diffLines(prev: readonly DemoRow[], next: readonly DemoRow[], elapsedMs: number): string[] {
  const before = new Map(prev.map((r) => [r.node, r]));
  const out: string[] = [];
  for (const row of next) {
    const old = before.get(row.node);
    if (
      old !== undefined &&
      old.state === row.state &&
      old.version === row.version &&
      old.cordoned === row.cordoned &&
      old.crashes === row.crashes &&
      old.reasonKey === row.reasonKey
    ) {
      continue;
    }
    const cordon = row.cordoned ? " (cordoned)" : "";
    const crashes = row.crashes > 0 ? `, ${row.crashes} failed attempt(s)` : "";
    const why = row.done ? "" : ` — ${row.why}`;
    out.push(
      `${formatElapsed(elapsedMs)} ${row.node}: ${row.state}, ${row.version}${crashes}${cordon}${why}`,
    );
  }
  return out;
}

export interface NodeTiming {
  node: string;
  startedMs: number | null;
  finishedMs: number | null;
  /** Host failures seen on this node, oldest first. */
  failures: SeenFailure[];
}

function failureNote(t: NodeTiming, finished: boolean): string {
  const n = t.failures.length;
  if (n === 0) return "";
  const last = t.failures[n - 1];
  const cause = last === undefined ? "" : ` (${failureText(last)})`;
  return `${n} failure${n === 1 ? "" : "s"}${cause}${finished ? ", recovered after back-off" : ""}`;
}

export function renderSummary(totalMs: number, timings: readonly NodeTiming[], goalVersion: string): string {
  const rows = timings.map((t) => [
    t.node,
    t.startedMs === null ? "-" : formatElapsed(t.startedMs),
    t.finishedMs === null ? "-" : formatElapsed(t.finishedMs),
    t.startedMs === null || t.finishedMs === null
      ? "-"
      : `${((t.finishedMs - t.startedMs) / 1000).toFixed(1)} s`,
    failureNote(t, t.finishedMs !== null),
  ]);
  const failed = timings.reduce((n, t) => n + t.failures.length, 0);
  const failures =
    failed === 0 ? "" : ` ${failed} failure${failed === 1 ? "" : "s"}, recovered after back-off.`;
  return [
    `All ${timings.length} nodes run ${goalVersion}. Total time ${(totalMs / 1000).toFixed(1)} s.${failures}`,
    "",
    ...table(["NODE", "STARTED", "FINISHED", "DURATION", "NOTE"], rows),
    "",
  ].join("\n");
}

/** What the demo prints when it gives up: every node that did not finish, and why. */
export function renderTimeout(
  timeoutMs: number,
  rows: readonly DemoRow[],
  timings: readonly NodeTiming[],
): string {
  const open = rows.filter((r) => !r.done);
  const byNode = new Map(timings.map((t) => [t.node, t]));
  const lines = [
    `The rollout did not finish within ${Math.round(timeoutMs / 1000)} s: ` +
      `${open.length} of ${rows.length} node${rows.length === 1 ? "" : "s"} not done.`,
    ...open.map((r) => {
      const t = byNode.get(r.node);
      const failed = t === undefined ? "" : failureNote(t, false);
      return `  ${r.node}: ${r.state}, ${r.version}: ${r.why}${failed === "" || saysWhyItFailed(r.why) ? "" : ` (${failed})`}`;
    }),
    "",
  ];
  return lines.join("\n");
}

/**
 * Said before the rollout when the schedule cannot let an update start before the demo gives up.
 * `msUntilOpen`: 0 when open now, null when never again.
 */
export function scheduleNotice(
  msUntilOpen: number | null,
  timeoutMs: number,
  cron: string,
  now: Date,
): string | undefined {
  if (msUntilOpen === null) return `note: the schedule "${cron}" never opens again; no node will update.`;
  if (msUntilOpen <= timeoutMs) return undefined;
  const at = new Date(Math.ceil((now.getTime() + msUntilOpen) / 1000) * 1000).toISOString();
  return (
    `note: the schedule "${cron}" first lets updates start at ${at.replace(/\.000Z$/, "Z")}, ` +
    `after --timeout (${Math.round(timeoutMs / 1000)} s); no node will update before the demo gives up.`
  );
}
