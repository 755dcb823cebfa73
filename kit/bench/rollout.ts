// What the benchmark learns from the stream of BottlerocketShadow changes one observer watched
// during a rollout: when each node noticed the offer, started, finished; how many were in flight at
// once; and how long the controller took to answer each node that reached its desired state.
// Pure functions over recorded events (the observer process records them; see bench/observer.ts).

/** One watch event of one shadow, as the observer recorded it. */
export interface ShadowSample {
  /** Epoch ms (sub-ms precision) when the observer received the event. */
  t: number;
  name: string;
  type: "add" | "update" | "delete";
  spec?: { state: string; version: string | null } | undefined;
  status?: { current_state: string; current_version: string; target_version: string } | undefined;
}

/** States in which the controller's next spec is a progress decision (not a start, not the end). */
export const PROGRESS_STATES: readonly string[] = [
  "StagedAndPerformedUpdate",
  "RebootedIntoUpdate",
  "MonitoringUpdate",
];

/** Done with `version`: told to idle, idle, running it. */
export function isDone(s: ShadowSample, version: string): boolean {
  return (
    s.spec?.state === "Idle" && s.status?.current_state === "Idle" && s.status.current_version === version
  );
}

/** Outside Idle (either side): counts against the concurrency limit. */
export function isActive(s: ShadowSample): boolean {
  if (s.type === "delete") return false;
  return (
    (s.spec !== undefined && s.spec.state !== "Idle") ||
    (s.status !== undefined && s.status.current_state !== "Idle")
  );
}

export interface DecisionLatency {
  name: string;
  /** The state the node reached (the spec it had been given). */
  state: string;
  /** When the status showing it was seen, and when the next spec was seen. */
  reachedMs: number;
  nextSpecMs: number;
  latencyMs: number;
}

/**
 * For every time a node's status reached its spec in a progress state, the time until the
 * controller's next spec for it appeared. Samples must be in the order they were received.
 */
export function decisionLatencies(samples: readonly ShadowSample[]): DecisionLatency[] {
  const reached = new Map<string, { state: string; t: number }>();
  const out: DecisionLatency[] = [];
  for (const s of samples) {
    if (s.type === "delete") {
      reached.delete(s.name);
      continue;
    }
    const spec = s.spec?.state;
    const r = reached.get(s.name);
    if (r !== undefined && spec !== r.state) {
      out.push({ name: s.name, state: r.state, reachedMs: r.t, nextSpecMs: s.t, latencyMs: s.t - r.t });
      reached.delete(s.name);
    }
    if (
      spec !== undefined &&
      PROGRESS_STATES.includes(spec) &&
      s.status?.current_state === spec &&
      !reached.has(s.name)
    ) {
      reached.set(s.name, { state: spec, t: s.t });
    }
  }
  return out;
}

export interface NodeTimeline {
  /** First time its status offered `version` as the target. */
  offeredMs?: number;
  /** First time its spec said StagedAndPerformedUpdate to `version`. */
  startedMs?: number;
  /** First time it was done with `version`. */
  doneMs?: number;
}

export interface RolloutTimeline {
  nodes: Map<string, NodeTimeline>;
  /** Most shadows active at the same time. */
  maxActive: number;
  /** When the last node became done (undefined if any is not). */
  allDoneMs: number | undefined;
}

function noteMilestones(tl: NodeTimeline, s: ShadowSample, version: string): void {
  if (tl.offeredMs === undefined && s.status?.target_version === version) tl.offeredMs = s.t;
  const starting = s.spec?.state === "StagedAndPerformedUpdate" && s.spec.version === version;
  if (tl.startedMs === undefined && starting) tl.startedMs = s.t;
  if (tl.doneMs === undefined && isDone(s, version)) tl.doneMs = s.t;
}

/** Per-node milestones and the peak concurrency for a rollout to `version` over `nodes`. */
export function rolloutTimeline(
  samples: readonly ShadowSample[],
  version: string,
  nodes: readonly string[],
): RolloutTimeline {
  const timeline = new Map<string, NodeTimeline>(nodes.map((n) => [n, {}]));
  const active = new Set<string>();
  let maxActive = 0;
  for (const s of samples) {
    const tl = timeline.get(s.name);
    if (tl === undefined) continue;
    if (isActive(s)) active.add(s.name);
    else active.delete(s.name);
    maxActive = Math.max(maxActive, active.size);
    noteMilestones(tl, s, version);
  }
  let allDoneMs: number | undefined = 0;
  for (const tl of timeline.values()) {
    if (tl.doneMs === undefined) {
      allDoneMs = undefined;
      break;
    }
    allDoneMs = Math.max(allDoneMs, tl.doneMs);
  }
  return { nodes: timeline, maxActive, allDoneMs: nodes.length === 0 ? undefined : allDoneMs };
}

export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of ascending `sorted` (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] ?? 0;
}

export function summarize(values: readonly number[], digits = 0): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const f = 10 ** digits;
  const r = (v: number): number => Math.round(v * f) / f;
  return {
    count: sorted.length,
    mean: r(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
    p50: r(percentile(sorted, 50)),
    p90: r(percentile(sorted, 90)),
    p99: r(percentile(sorted, 99)),
    max: r(sorted[sorted.length - 1] ?? 0),
  };
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

export interface OverheadInputs {
  nodes: number;
  /** null = unlimited. */
  maxConcurrent: number | null;
  /** Offer → every node done, at N. */
  wallMs: number;
  /** Offer → the first node started, at N (noticing the offer plus the controller's first tick). */
  firstStartMs: number;
  /** One node alone: offer → done. */
  singleCycleMs: number;
  /** One node alone: its start → done (the update itself, without noticing the offer). */
  singleUpdateMs: number;
  /** At N: the mean of each node's own start → done (the update under this rollout's load). */
  meanUpdateMs: number;
}

export interface Overhead {
  waves: number;
  /** The brief's ideal: waves × one node's offer → done. */
  idealMs: number;
  ratio: number;
  /**
   * Strict ideal: the time this rollout took to start its first node, then waves × one node's
   * start → done. Noticing the offer (up to one agent loop, random) is paid once, not once per wave.
   */
  strictIdealMs: number;
  strictRatio: number;
  /**
   * The strict ideal with each node's update as slow as it was under this rollout's load: what is
   * left (schedulingRatio) is time lost to scheduling — slots left empty, late starts — not to the
   * machine being busy. strictRatio ≈ (meanUpdateMs ÷ singleUpdateMs) × schedulingRatio.
   */
  loadedIdealMs: number;
  schedulingRatio: number;
}

/** Rollout wall time against an ideal built from one node's cycle. */
export function rolloutOverhead(i: OverheadInputs): Overhead {
  const c = i.maxConcurrent === null ? i.nodes : Math.max(1, i.maxConcurrent);
  const waves = Math.ceil(i.nodes / c);
  const idealMs = waves * i.singleCycleMs;
  const strictIdealMs = i.firstStartMs + waves * i.singleUpdateMs;
  const loadedIdealMs = i.firstStartMs + waves * i.meanUpdateMs;
  const r = (v: number): number => Math.round(v * 1000) / 1000;
  return {
    waves,
    idealMs: Math.round(idealMs),
    ratio: r(i.wallMs / idealMs),
    strictIdealMs: Math.round(strictIdealMs),
    strictRatio: r(i.wallMs / strictIdealMs),
    loadedIdealMs: Math.round(loadedIdealMs),
    schedulingRatio: r(i.wallMs / loadedIdealMs),
  };
}
