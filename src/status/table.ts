// The human output of `brupop status`: a table aligned the way kubectl aligns its own (text/tabwriter
// with minwidth 10, padding 3), followed by a one-line summary. Pure; no dependencies.
import { timeWithRelative } from "./format.js";
import type { FleetStatus, NodeRow, ScheduleStatus } from "./model.js";

export const TABLE_HEADERS = ["NODE", "STATE", "VERSION", "CRASHES", "CORDONED", "WHY"] as const;

const MIN_WIDTH = 10;
const PADDING = 3;

const width = (s: string): number => [...s].length;

/** Columns padded to the widest cell (+3, at least 10 wide); the last column is not padded. */
export function alignColumns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, width(cell) + PADDING, MIN_WIDTH);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - width(cell))))
        .join("")
        .trimEnd(),
    )
    .join("\n");
}

function arrow(current: string | null, target: string | null): string {
  if (current === null) return target === null ? "-" : `- -> ${target}`;
  return target === null || target === current ? current : `${current} -> ${target}`;
}

export function rowCells(row: NodeRow): string[] {
  return [
    row.node,
    row.state.current === null ? "-" : arrow(row.state.current, row.state.target),
    arrow(row.version.current, row.version.target),
    row.crashCount === null ? "-" : String(row.crashCount),
    row.cordoned === null ? "-" : row.cordoned ? "yes" : "no",
    row.message,
  ];
}

export function describeSchedule(s: ScheduleStatus, now: Date): string {
  const expr = `"${s.expression}"`;
  if (s.kind === "window") {
    if (s.updatesAllowed) return `window ${expr} open`;
    return s.opensAt === null
      ? `window ${expr} never opens again`
      : `window ${expr} closed until ${timeWithRelative(s.opensAt, now)}`;
  }
  if (s.updatesAllowed) return `trigger ${expr}: round open`;
  return s.opensAt === null
    ? `trigger ${expr} never fires again`
    : `trigger ${expr}: next round at ${timeWithRelative(s.opensAt, now)}`;
}

export function summaryLine(status: FleetStatus, now: Date): string {
  const s = status.summary;
  const parts = [
    `${s.nodes} node${s.nodes === 1 ? "" : "s"}: ${s.upToDate} up to date, ${s.updating} updating, ${s.waiting} waiting${s.failed > 0 ? `, ${s.failed} failed` : ""}`,
  ];
  if (s.needAttention > 0)
    parts[0] += `, ${s.needAttention} need${s.needAttention === 1 ? "s" : ""} attention`;
  parts.push(`schedule: ${describeSchedule(status.controller.schedule, now)}`);
  parts.push(`limit ${s.limit} (${s.active} active)`);
  return parts.join("; ");
}

export function renderTable(status: FleetStatus, now: Date): string {
  const lines: string[] = [];
  if (status.nodes.length === 0) lines.push(`No managed nodes in namespace ${status.namespace}.`);
  else lines.push(alignColumns([[...TABLE_HEADERS], ...status.nodes.map(rowCells)]));
  lines.push("");
  lines.push(summaryLine(status, now));
  const c = status.controller;
  if (!c.settingsKnown) lines.push(`${c.note ?? "controller settings unknown"}; assuming the defaults shown`);
  if (status.policy !== undefined) lines.push(policyLine(status.policy));
  return `${lines.join("\n")}\n`;
}

/** One line for the UpdatePolicy: what holds, the limit, and the conditions that are True. */
export function policyLine(p: NonNullable<FleetStatus["policy"]>): string {
  const on = p.conditions.filter((c) => c.status === "True").map((c) => `${c.type} (${c.reason})`);
  const parts = [`UpdatePolicy ${p.name}: ${p.hold ?? "not holding"}`, `limit ${p.maxConcurrent}`];
  if (on.length > 0) parts.push(on.join(", "));
  if (p.nextWindowOpen !== null) parts.push(`window opens ${p.nextWindowOpen}`);
  return parts.join("; ");
}
