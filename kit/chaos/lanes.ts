// A large chaos run in parallel lanes: each lane is its own child process with its own control plane
// (faults such as a kube-apiserver restart must not reach another lane's schedules), running a
// contiguous block of seeds one after the other. These are the pure parts: the split and the sum.

/** One lane's block of schedules: seeds `seed` .. `seed + schedules - 1`. */
export interface LaneBlock {
  readonly lane: number;
  readonly seed: number;
  readonly schedules: number;
}

/**
 * Splits `schedules` schedules starting at `seed0` into at most `lanes` contiguous blocks, the first
 * blocks one schedule longer when it does not divide evenly, so seed S+i is always schedule i of the
 * whole run (a lane's seeds replay alone with `--seed`). Lanes left empty are not returned.
 */
export function splitIntoLanes(seed0: number, schedules: number, lanes: number): LaneBlock[] {
  if (!Number.isSafeInteger(lanes) || lanes < 1)
    throw new Error(`lanes must be an integer ≥ 1, got ${lanes}`);
  const base = Math.floor(schedules / lanes);
  const extra = schedules % lanes;
  const blocks: LaneBlock[] = [];
  let seed = seed0;
  for (let lane = 0; lane < lanes; lane++) {
    const n = base + (lane < extra ? 1 : 0);
    if (n === 0) continue;
    blocks.push({ lane, seed, schedules: n });
    seed += n;
  }
  return blocks;
}

/** What one run (or one lane) writes to its summary.json. */
export interface ChaosSummary {
  readonly schedules: number;
  readonly nodes: number;
  readonly seeds: readonly number[];
  readonly faultsInjected: number;
  readonly violations: number;
  readonly failedSeeds: readonly number[];
}

/** The lanes' summaries added up; seeds sorted. Throws when the lanes disagree on the node count. */
export function sumSummaries(parts: readonly ChaosSummary[]): ChaosSummary {
  const nodes = new Set(parts.map((p) => p.nodes));
  if (nodes.size > 1) throw new Error(`lanes ran different node counts: ${[...nodes].join(", ")}`);
  const byNumber = (a: number, b: number): number => a - b;
  return {
    schedules: parts.reduce((n, p) => n + p.schedules, 0),
    nodes: parts[0]?.nodes ?? 0,
    seeds: parts.flatMap((p) => p.seeds).sort(byNumber),
    faultsInjected: parts.reduce((n, p) => n + p.faultsInjected, 0),
    violations: parts.reduce((n, p) => n + p.violations, 0),
    failedSeeds: parts.flatMap((p) => p.failedSeeds).sort(byNumber),
  };
}
