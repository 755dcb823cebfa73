// The chaos observer's history: what it saw, each entry time-stamped on arrival (ms since the epoch,
// one clock for the observer and the runner, both in the runner's process). One JSON object per line
// in history.jsonl. Invariants (invariants.ts) are pure functions over a History.
import type { Schedule } from "./schedule.js";
import type { PolicyEdit } from "./schedule.js";

export interface MetaEvent {
  t: number;
  kind: "meta";
  schedule: Schedule;
  /** Node names by index. */
  nodes: string[];
  fromVersion: string;
  targetVersion: string;
}

export interface NodeEvent {
  t: number;
  kind: "node";
  name: string;
  unschedulable: boolean;
  ready: boolean;
  lbExcluded: boolean;
  zone: string | null;
  /** Annotations of brupop's API group on the Node (its cordon/marks records). */
  brupopAnnotations: string[];
  deleted?: true;
}

export interface ShadowEvent {
  t: number;
  kind: "shadow";
  node: string;
  spec: { state: string; version: string | null } | null;
  status: { state: string; version: string; target: string; crash: number; failure: string | null } | null;
  deleted?: true;
}

export interface PodEvent {
  t: number;
  kind: "pod";
  name: string;
  node: string | null;
  ready: boolean;
  deleting: boolean;
  deleted?: true;
}

export interface PdbEvent {
  t: number;
  kind: "pdb";
  name: string;
  minAvailable: number;
  /** status.disruptionsAllowed, and the pods the Eviction API granted but not yet seen deleted. */
  allowed?: number;
  disrupted?: string[];
}

export interface PolicyEvent {
  t: number;
  kind: "policy";
  /** null: no policy object. */
  spec: PolicyEdit | null;
}

export interface LeaseEvent {
  t: number;
  kind: "lease";
  holder: string | null;
}

export interface RebootLogEvent {
  t: number;
  kind: "reboot";
  node: string;
  from: string;
  to: string;
  rollback: boolean;
}

export interface RebootedLogEvent {
  t: number;
  kind: "rebooted";
  node: string;
  version: string;
}

export interface FaultEvent {
  t: number;
  kind: "fault";
  phase: "inject" | "heal" | "skip";
  fault: string;
  node?: string;
  /** A cut: how many open connections it reset. */
  connections?: number;
}

/** A spec write a controller replica sent (seen at its connection, not reported by it). */
export interface WriteEvent {
  t: number;
  kind: "write";
  replica: string;
  start: number;
  method: string;
  path: string;
  status: number;
}

export interface PhaseEvent {
  t: number;
  kind: "phase";
  /** rollout: faults start; heal: every fault healed; settled / timeout: the end of the run. */
  phase: "rollout" | "heal" | "settled" | "timeout";
  /** With "timeout": why the settle gave up (kit/chaos/settle.ts). */
  reason?: string;
}

export type HistoryEvent =
  | MetaEvent
  | NodeEvent
  | ShadowEvent
  | PodEvent
  | PdbEvent
  | PolicyEvent
  | LeaseEvent
  | RebootLogEvent
  | RebootedLogEvent
  | FaultEvent
  | WriteEvent
  | PhaseEvent;

export type History = readonly HistoryEvent[];

/** Parses history.jsonl (blank lines ignored); entries are sorted by time, stable. */
export function parseHistory(text: string): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    const e = JSON.parse(line) as HistoryEvent;
    if (typeof e.t !== "number" || typeof e.kind !== "string")
      throw new Error(`history line ${i + 1}: no t or kind`);
    out.push(e);
  }
  return sortHistory(out);
}

export function sortHistory(h: readonly HistoryEvent[]): HistoryEvent[] {
  return h
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.t - b.e.t || a.i - b.i)
    .map((x) => x.e);
}

/** The entries within [t - beforeMs, t + afterMs]. */
export function windowAround(h: History, t: number, beforeMs = 3_000, afterMs = 1_000): HistoryEvent[] {
  return h.filter((e) => e.t >= t - beforeMs && e.t <= t + afterMs);
}

/** One line per entry, times relative to t0 (seconds). */
export function formatEvent(e: HistoryEvent, t0: number): string {
  const at = `${((e.t - t0) / 1000).toFixed(3).padStart(8)}s`;
  const { t: _t, kind, ...rest } = e;
  if (kind === "meta") return `${at} meta`;
  return `${at} ${kind.padEnd(8)} ${JSON.stringify(rest)}`;
}

/** The latest state of every object at time t (inclusive): what the observer knew then. */
export interface Snapshot {
  nodes: Map<string, NodeEvent>;
  shadows: Map<string, ShadowEvent>;
  pods: Map<string, PodEvent>;
  pdbs: Map<string, PdbEvent>;
  policy: PolicyEvent["spec"];
  lease: string | null;
}

export function emptySnapshot(): Snapshot {
  return {
    nodes: new Map(),
    shadows: new Map(),
    pods: new Map(),
    pdbs: new Map(),
    policy: null,
    lease: null,
  };
}

/** Applies one entry to a snapshot (in place). */
export function apply(s: Snapshot, e: HistoryEvent): void {
  switch (e.kind) {
    case "node":
      if (e.deleted === true) s.nodes.delete(e.name);
      else s.nodes.set(e.name, e);
      return;
    case "shadow":
      if (e.deleted === true) s.shadows.delete(e.node);
      else s.shadows.set(e.node, e);
      return;
    case "pod":
      if (e.deleted === true) s.pods.delete(e.name);
      else s.pods.set(e.name, e);
      return;
    case "pdb":
      s.pdbs.set(e.name, e);
      return;
    case "policy":
      s.policy = e.spec;
      return;
    case "lease":
      s.lease = e.holder;
      return;
    default:
      return;
  }
}

export function snapshotAt(h: History, t: number): Snapshot {
  const s = emptySnapshot();
  for (const e of h) {
    if (e.t > t) break;
    apply(s, e);
  }
  return s;
}

export function metaOf(h: History): MetaEvent {
  const m = h.find((e): e is MetaEvent => e.kind === "meta");
  if (m === undefined) throw new Error("history has no meta entry");
  return m;
}
