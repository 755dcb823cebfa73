// When the fleet has settled after the heal, and when it has stopped trying: the settle judges
// progress, not a fixed wait. On the shared machine a fleet at load 13 can need far longer than at
// load 1 (seed 1010: its last two nodes, retried after their crash back-off, were mid-drain when a
// fixed 60 s settle ran out, 25 s into the same phase at load 1), while a stuck drain changes nothing
// at all. So the fleet fails to settle only after `quietMs` without a change to what the observer
// sees of it (shadows, cordons, workload pods), or at a hard cap.
import type { Snapshot } from "./history.js";

/**
 * What counts as progress: each node's shadow spec and status, cordon and LB exclusion, and where
 * the workload's pods are and whether they are going. Heartbeats and PDB recounts do not change it.
 */
export function fleetFingerprint(s: Snapshot, nodes: readonly string[]): string {
  const perNode = nodes.map((n) => {
    const sh = s.shadows.get(n);
    const node = s.nodes.get(n);
    return { spec: sh?.spec, status: sh?.status, cordoned: node?.unschedulable, lb: node?.lbExcluded };
  });
  const pods = [...s.pods.values()]
    .map((p) => `${p.name}@${p.node ?? "-"}${p.deleting ? "!" : ""}${p.ready ? "" : "?"}`)
    .sort();
  return JSON.stringify([perNode, pods]);
}

export type SettleVerdict = "waiting" | "stalled" | "cap";

/** Tracks the fingerprint over time; pure apart from the times handed in. */
export class ProgressJudge {
  readonly #quietMs: number;
  readonly #capMs: number;
  readonly #startMs: number;
  #last: string | undefined;
  #lastChangeMs: number;

  constructor(opts: { startMs: number; quietMs: number; capMs: number }) {
    if (!(opts.quietMs > 0 && opts.capMs >= opts.quietMs))
      throw new RangeError(`need 0 < quietMs ≤ capMs, got ${opts.quietMs}, ${opts.capMs}`);
    this.#quietMs = opts.quietMs;
    this.#capMs = opts.capMs;
    this.#startMs = opts.startMs;
    this.#lastChangeMs = opts.startMs;
  }

  /** One look at the fleet at `atMs`: keep waiting, or give up (no change for quietMs, or the cap). */
  observe(fingerprint: string, atMs: number): SettleVerdict {
    if (fingerprint !== this.#last) {
      this.#last = fingerprint;
      this.#lastChangeMs = atMs;
    }
    if (atMs - this.#startMs >= this.#capMs) return "cap";
    if (atMs - this.#lastChangeMs >= this.#quietMs) return "stalled";
    return "waiting";
  }

  /** Since when nothing changed. */
  get lastChangeMs(): number {
    return this.#lastChangeMs;
  }
}

/** Every node Idle on `target` (spec and status), uncordoned and not excluded from load balancers. */
export function fleetSettled(s: Snapshot, nodes: readonly string[], target: string): boolean {
  return nodes.every((n) => {
    const sh = s.shadows.get(n);
    const node = s.nodes.get(n);
    return (
      sh?.spec?.state === "Idle" &&
      sh.status?.state === "Idle" &&
      sh.status.version === target &&
      node?.unschedulable === false &&
      !node.lbExcluded
    );
  });
}
