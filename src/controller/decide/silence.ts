// Dead agents (issue 19): the agent enforces its own per-state time limits, but a dead agent
// enforces nothing. With AGENT_SILENCE_LIMIT_SECONDS set, the controller watches each node in the
// active set (spec or status not Idle): when its status has not changed for longer than the limit,
// it records a Warning Event (once per silence) and counts it in a gauge; explain() says "agent
// silent for X in state Y". It never changes the spec: a slow but live agent is not fought.
//
// "No status update" is what the leader has seen: the clock starts when this leader first sees a
// status (a restart or a new leader starts it again), so a silence is reported at the earliest one
// limit after the leader came up. Default off (upstream has no such check).
import { Gauge, type Registry } from "prom-client";
import type { BottlerocketShadow } from "../../model/shadow.js";
import { isActive } from "./decisions.js";

export interface SilenceEntry {
  /** The status as last seen (JSON), and since when (monotonic ms) it has been the same. */
  status: string;
  sinceMs: number;
  /** A Warning was recorded for this silence. */
  warned: boolean;
}

export interface Silent {
  shadow: string;
  /** The reported state the node sits in. */
  state: string;
  forMs: number;
}

/**
 * Updates `track` (by shadow name) with this tick's view and returns the silent nodes, and those
 * newly silent (to warn about). Shadows out of the active set, or gone, leave the track.
 */
export function trackSilence(
  track: Map<string, SilenceEntry>,
  shadows: readonly BottlerocketShadow[],
  nowMs: number,
  limitMs: number,
): { silent: Silent[]; newlySilent: Silent[] } {
  const silent: Silent[] = [];
  const newlySilent: Silent[] = [];
  const seen = new Set<string>();
  for (const s of shadows) {
    const name = s.metadata.name ?? "";
    if (s.status === undefined || !isActive(s)) continue;
    seen.add(name);
    const status = JSON.stringify(s.status);
    const entry = track.get(name);
    if (entry === undefined || entry.status !== status) {
      track.set(name, { status, sinceMs: nowMs, warned: false });
      continue;
    }
    const forMs = nowMs - entry.sinceMs;
    if (forMs <= limitMs) continue;
    const it = { shadow: name, state: s.status.current_state, forMs };
    silent.push(it);
    if (!entry.warned) {
      entry.warned = true;
      newlySilent.push(it);
    }
  }
  for (const name of track.keys()) if (!seen.has(name)) track.delete(name);
  return { silent, newlySilent };
}

/** 125_000 → "2m05s"; 3_725_000 → "1h02m". */
export function formatSilence(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** The check in the controller: tracks per term, warns once per silence, exports a gauge. */
export class SilenceWatch {
  readonly #limitMs: number;
  readonly #warn: (s: Silent) => void;
  readonly #gauge: Gauge | undefined;
  #track = new Map<string, SilenceEntry>();
  #term: object | undefined;
  /** The last tick's silent nodes (for explain), by shadow name. */
  last: ReadonlyMap<string, Silent> = new Map();

  constructor(limitMs: number, deps: { warn: (s: Silent) => void; registry?: Registry }) {
    this.#limitMs = limitMs;
    this.#warn = deps.warn;
    if (deps.registry !== undefined) {
      this.#gauge = new Gauge({
        name: "brupop_controller_agents_silent",
        help: "Nodes in the active set whose status has not changed for longer than AGENT_SILENCE_LIMIT_SECONDS",
        registers: [deps.registry],
      });
    }
  }

  observe(term: object, shadows: readonly BottlerocketShadow[], nowMs: number): void {
    if (this.#term !== term) {
      this.#term = term;
      this.#track = new Map();
    }
    const { silent, newlySilent } = trackSilence(this.#track, shadows, nowMs, this.#limitMs);
    this.last = new Map(silent.map((s) => [s.shadow, s]));
    this.#gauge?.set(silent.length);
    for (const s of newlySilent) this.#warn(s);
  }
}
