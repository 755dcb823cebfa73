// The invariants of a chaos run, as pure functions over the observer's history (history.ts). Each
// returns the violations it finds, with the time of the entry that broke it, so the runner can print
// the history window around it. Nothing here trusts a component's own report: the inputs are the
// observer's watches, the simulated hosts' reboot log and the controllers' requests as sent.
import { CORDONED_BY_BRUPOP_ANNOTATION } from "../../src/k8s/cordon-marker.js";
import { UPDATE_MARKS_ANNOTATION } from "../../src/apiserver/node-marks.js";
import { compareSemver } from "../../src/model/semver.js";
import { ON_SUCCESS, isShadowState } from "../../src/model/state.js";
import {
  apply,
  emptySnapshot,
  metaOf,
  snapshotAt,
  type History,
  type HistoryEvent,
  type NodeEvent,
  type PodEvent,
  type PolicyEvent,
  type ShadowEvent,
  type Snapshot,
} from "./history.js";
import type { PolicyEdit } from "./schedule.js";

export type InvariantId = 1 | 2 | 3 | 4 | 5 | 6;

export const INVARIANTS: Readonly<Record<InvariantId, string>> = {
  1: "never more nodes in flight than the effective limit (fleet and per zone)",
  2: "no eviction a PodDisruptionBudget forbids",
  3: "each node reboots at most once per target version, and only cordoned and drained",
  4: "at the end every node is up to date or has a named failure; no cordon, mark or LB exclusion left",
  5: "a node's reported state never regresses except through ErrorReset",
  6: "at most one controller replica writes specs at any instant (the lease holder)",
};

export interface Violation {
  invariant: InvariantId;
  t: number;
  node?: string;
  message: string;
}

export interface CheckOptions {
  /**
   * How long a component may act on what it saw before the observer saw a change (watch lag, one
   * controller tick): a policy edit binds the controller graceMs after the observer saw it, a pod
   * deleted by the drain may reach the observer graceMs after the reboot. Default 2 s.
   */
  graceMs?: number;
  /**
   * How long after the controller acted on a policy change the observer may see it (its watch
   * resuming after a kube-apiserver restart). Default 10 s.
   */
  observerLagMs?: number;
}

const DEFAULT_GRACE_MS = 2_000;
const DEFAULT_OBSERVER_LAG_MS = 10_000;

export function checkAll(h: History, opts: CheckOptions = {}): Violation[] {
  return [
    ...checkConcurrency(h, opts),
    ...checkPdb(h),
    ...checkReboots(h, opts),
    ...checkFinal(h),
    ...checkStatusProgress(h),
    ...checkSingleWriter(h, opts),
  ].sort((a, b) => a.t - b.t);
}

// --- 1: concurrency ---

export function inFlight(s: ShadowEvent): boolean {
  return (s.spec !== null && s.spec.state !== "Idle") || (s.status !== null && s.status.state !== "Idle");
}

/** The fleet limit a policy sets over a base MAX_CONCURRENT_UPDATE (docs/policy.md). */
export function effectiveLimit(base: number, policy: PolicyEdit | null, managed: number): number {
  if (policy === null) return base;
  if (policy.paused === true) return 0;
  const m = policy.maxConcurrent;
  if (typeof m === "number") return m;
  if (typeof m === "string") {
    const pct = Number(m.replace(/%$/, ""));
    return Math.max(1, Math.floor((pct * managed) / 100));
  }
  return base;
}

/**
 * The policies in effect at some instant of [t - graceMs, t + lagMs]: the controller may still act
 * on a policy graceMs after the observer saw it change, and it may act on a change the observer has
 * not seen yet — after a kube-apiserver restart the observer's watch resumed seconds after the
 * controller's (clean run: seed 6201 started a node 0.8 s before the observer saw the pause lifted,
 * seed 6327 one 3.8 s before it saw maxConcurrent 3, written 1.9 s before the start).
 */
function policiesAround(
  policies: readonly PolicyEvent[],
  t: number,
  graceMs: number,
  lagMs: number,
): (PolicyEdit | null)[] {
  let before: PolicyEdit | null = null;
  const during: (PolicyEdit | null)[] = [];
  for (const p of policies) {
    if (p.t <= t - graceMs) before = p.spec;
    else if (p.t <= t + lagMs) during.push(p.spec);
  }
  return [before, ...during];
}

export function checkConcurrency(h: History, opts: CheckOptions = {}): Violation[] {
  const grace = opts.graceMs ?? DEFAULT_GRACE_MS;
  const meta = metaOf(h);
  const base = meta.schedule.maxConcurrent;
  const policies = h.filter((e): e is PolicyEvent => e.kind === "policy");
  const s = emptySnapshot();
  const out: Violation[] = [];
  for (const e of h) {
    const prev = e.kind === "shadow" ? s.shadows.get(e.node) : undefined;
    apply(s, e);
    if (e.kind !== "shadow" || e.deleted === true) continue;
    if (!isStart(prev, e)) continue;
    const flying = [...s.shadows.values()].filter(inFlight);
    const inEffect = policiesAround(policies, e.t, grace, opts.observerLagMs ?? DEFAULT_OBSERVER_LAG_MS);
    const limit = Math.max(...inEffect.map((p) => effectiveLimit(base, p, s.shadows.size)));
    if (flying.length > limit) {
      out.push({
        invariant: 1,
        t: e.t,
        node: e.node,
        message: `${e.node} started with ${flying.length} nodes in flight (${flying.map((x) => x.node).join(", ")}), limit ${limit}`,
      });
    }
    const zoneViolation = checkZone(s, e, flying, inEffect);
    if (zoneViolation !== undefined) out.push(zoneViolation);
  }
  return out;
}

/** The controller moved this node's spec out of Idle. */
function isStart(prev: ShadowEvent | undefined, e: ShadowEvent): boolean {
  const wasIdle = prev?.spec === null || prev?.spec === undefined || prev.spec.state === "Idle";
  return wasIdle && e.spec !== null && e.spec.state !== "Idle";
}

function checkZone(
  s: Snapshot,
  e: ShadowEvent,
  flying: readonly ShadowEvent[],
  inEffect: readonly (PolicyEdit | null)[],
): Violation | undefined {
  const perZone: number[] = [];
  for (const p of inEffect) {
    if (p?.maxConcurrentPerZone === undefined) return undefined;
    perZone.push(p.maxConcurrentPerZone);
  }
  const zone = s.nodes.get(e.node)?.zone ?? null;
  if (zone === null) return undefined;
  const zoneLimit = Math.max(...perZone);
  const inZone = flying.filter((x) => s.nodes.get(x.node)?.zone === zone);
  if (inZone.length <= zoneLimit) return undefined;
  return {
    invariant: 1,
    t: e.t,
    node: e.node,
    message: `${e.node} started with ${inZone.length} nodes of ${zone} in flight (${inZone.map((x) => x.node).join(", ")}), per-zone limit ${zoneLimit}`,
  };
}

// --- 2: PDB ---

const healthy = (s: Snapshot): number => [...s.pods.values()].filter((p) => p.ready && !p.deleting).length;

/** Every workload pod taken away (deleting or deleted) while ready must leave ≥ minAvailable healthy. */
export function checkPdb(h: History): Violation[] {
  const s = emptySnapshot();
  const out: Violation[] = [];
  let armed = false;
  for (const e of h) {
    if (e.kind === "phase" && e.phase === "rollout") armed = true;
    const prev = e.kind === "pod" ? s.pods.get(e.name) : undefined;
    apply(s, e);
    if (!armed || e.kind !== "pod" || prev === undefined) continue;
    const taken = (e.deleting || e.deleted === true) && !prev.deleting && prev.ready;
    if (!taken) continue;
    const min = Math.max(0, ...[...s.pdbs.values()].map((p) => p.minAvailable));
    const now = healthy(s);
    if (now < min) {
      out.push({
        invariant: 2,
        t: e.t,
        ...(prev.node !== null && { node: prev.node }),
        message: `pod ${e.name} on ${prev.node ?? "?"} taken away leaving ${now} healthy, PDB minAvailable ${min}`,
      });
    }
  }
  return out;
}

// --- 3: reboots ---

export function checkReboots(h: History, opts: CheckOptions = {}): Violation[] {
  const grace = opts.graceMs ?? DEFAULT_GRACE_MS;
  const out: Violation[] = [];
  const seen = new Map<string, number>();
  for (const e of h) {
    if (e.kind !== "reboot") continue;
    if (e.from === e.to && !e.rollback) {
      out.push({
        invariant: 3,
        t: e.t,
        node: e.node,
        message: `${e.node} rebooted without an update (on ${e.from})`,
      });
    }
    const key = `${e.node}→${e.to}`;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    if (n > 1 && e.from !== e.to) {
      out.push({ invariant: 3, t: e.t, node: e.node, message: `${e.node} rebooted into ${e.to} ${n} times` });
    }
    // What the observer knew at the reboot, completed by what reached it within the grace (its
    // watches lag the host's reboot log): a cordon or a pod deletion seen then happened before.
    const s = snapshotAt(h, e.t);
    const late = h.filter((x) => x.t > e.t && x.t <= e.t + grace);
    const node = s.nodes.get(e.node);
    const firstLate = late.find((x): x is NodeEvent => x.kind === "node" && x.name === e.node);
    if (node !== undefined && !node.unschedulable && firstLate?.unschedulable !== true) {
      out.push({
        invariant: 3,
        t: e.t,
        node: e.node,
        message: `${e.node} rebooted while schedulable (not cordoned)`,
      });
    }
    const goneLate = new Set(
      late
        .filter((x): x is PodEvent => x.kind === "pod" && (x.deleting || x.deleted === true))
        .map((x) => x.name),
    );
    const left = [...s.pods.values()].filter(
      (p) => p.node === e.node && !p.deleting && !goneLate.has(p.name),
    );
    if (left.length > 0) {
      out.push({
        invariant: 3,
        t: e.t,
        node: e.node,
        message: `${e.node} rebooted with workload pods not drained: ${left.map((p) => p.name).join(", ")}`,
      });
    }
  }
  return out;
}

// --- 4: the end ---

export const LEFTOVER_ANNOTATIONS: readonly string[] = [
  CORDONED_BY_BRUPOP_ANNOTATION,
  UPDATE_MARKS_ANNOTATION,
];

export interface FinalOutcome {
  upToDate: string[];
  /** Nodes not updated whose shadow names a failure (crash count and reason). */
  failed: { node: string; crash: number; failure: string | null }[];
  /** Neither: stuck. */
  stuck: string[];
}

export function finalOutcome(h: History): FinalOutcome {
  const meta = metaOf(h);
  const s = snapshotAt(h, Number.POSITIVE_INFINITY);
  const out: FinalOutcome = { upToDate: [], failed: [], stuck: [] };
  for (const node of meta.nodes) {
    const sh = s.shadows.get(node);
    const done =
      sh?.spec?.state === "Idle" && sh.status?.state === "Idle" && sh.status.version === meta.targetVersion;
    if (done) out.upToDate.push(node);
    else if (
      sh?.status !== null &&
      sh?.status !== undefined &&
      sh.status.crash > 0 &&
      sh.spec?.state === "Idle"
    ) {
      out.failed.push({ node, crash: sh.status.crash, failure: sh.status.failure });
    } else out.stuck.push(node);
  }
  return out;
}

export function checkFinal(h: History): Violation[] {
  const end = h.find((e) => e.kind === "phase" && (e.phase === "settled" || e.phase === "timeout"));
  if (end === undefined) return [];
  const last = h[h.length - 1] as HistoryEvent;
  const s = snapshotAt(h, Number.POSITIVE_INFINITY);
  const out: Violation[] = [];
  const outcome = finalOutcome(h);
  for (const node of outcome.stuck) {
    const sh = s.shadows.get(node);
    out.push({
      invariant: 4,
      t: last.t,
      node,
      message: `${node} neither up to date nor failed: spec ${JSON.stringify(sh?.spec ?? null)}, status ${JSON.stringify(sh?.status ?? null)}`,
    });
  }
  for (const node of metaOf(h).nodes) {
    const n = s.nodes.get(node);
    if (n === undefined) continue;
    if (n.unschedulable) out.push({ invariant: 4, t: last.t, node, message: `${node} left cordoned` });
    if (n.lbExcluded)
      out.push({ invariant: 4, t: last.t, node, message: `${node} left excluded from load balancers` });
    const marks = n.brupopAnnotations.filter((a) => LEFTOVER_ANNOTATIONS.includes(a));
    if (marks.length > 0)
      out.push({ invariant: 4, t: last.t, node, message: `${node} left marked: ${marks.join(", ")}` });
  }
  return out;
}

// --- 5: no regression ---

const BEFORE_REBOOT: ReadonlySet<string> = new Set(["Idle", "StagedAndPerformedUpdate"]);
const AFTER_REBOOT: ReadonlySet<string> = new Set(["RebootedIntoUpdate", "MonitoringUpdate"]);

export function allowedStatusStep(from: string, to: string): boolean {
  if (from === to || to === "ErrorReset") return true;
  return isShadowState(from) && ON_SUCCESS[from] === to;
}

/**
 * A watch cut (a kube-apiserver restart) resumes with the latest object only, so the observer can
 * miss the steps in between. Two jumps are such gaps, not regressions:
 * - Idle on a newer version: the cycle completed, whatever the last state seen (chaos CI seed 11:
 *   StagedAndPerformedUpdate, then Idle on 1.20.0);
 * - from before the reboot to after it, onto the newer version, with the host's reboot logged in
 *   between: the reboot really happened, its
 *   RebootedIntoUpdate report fell in the cut (seed 5116: a kube-apiserver restart while n393
 *   rebooted; StagedAndPerformedUpdate on 1.19.0, then MonitoringUpdate on 1.20.0).
 */
function stepsHiddenByWatchCut(
  prev: { state: string; version: string },
  next: { state: string; version: string },
  rebootedBetween: boolean,
): boolean {
  if (compareSemver(next.version, prev.version) <= 0) return false;
  if (next.state === "Idle") return true;
  return rebootedBetween && BEFORE_REBOOT.has(prev.state) && AFTER_REBOOT.has(next.state);
}

export function checkStatusProgress(h: History): Violation[] {
  const last = new Map<string, { state: string; version: string }>();
  const rollbacks = new Set<string>();
  /** Nodes whose host came back from a reboot since their last shadow event (the simulated hosts' log). */
  const rebooted = new Set<string>();
  const out: Violation[] = [];
  for (const e of h) {
    if (e.kind === "reboot" && e.rollback) rollbacks.add(e.node);
    if (e.kind === "rebooted") rebooted.add(e.node);
    if (e.kind !== "shadow") continue;
    const rebootedBetween = rebooted.delete(e.node);
    if (e.deleted === true) {
      last.delete(e.node);
      continue;
    }
    if (e.status === null) continue;
    const prev = last.get(e.node);
    last.set(e.node, { state: e.status.state, version: e.status.version });
    if (prev === undefined) continue;
    if (
      !allowedStatusStep(prev.state, e.status.state) &&
      !stepsHiddenByWatchCut(prev, e.status, rebootedBetween)
    ) {
      out.push({
        invariant: 5,
        t: e.t,
        node: e.node,
        message: `${e.node} status went ${prev.state} → ${e.status.state}`,
      });
    }
    if (compareSemver(e.status.version, prev.version) < 0 && !rollbacks.has(e.node)) {
      out.push({
        invariant: 5,
        t: e.t,
        node: e.node,
        message: `${e.node} reported version went back ${prev.version} → ${e.status.version}`,
      });
    }
  }
  return out;
}

// --- 6: one writer ---

/**
 * Each successful spec write by a replica must fall where the observer saw that replica hold the
 * lease: the holder at (start - grace), or any holder named in [start - grace, end + grace].
 */
export function checkSingleWriter(h: History, opts: CheckOptions = {}): Violation[] {
  const grace = opts.graceMs ?? DEFAULT_GRACE_MS;
  const leases = h.filter((e) => e.kind === "lease");
  const out: Violation[] = [];
  for (const e of h) {
    if (e.kind !== "write" || e.status >= 300) continue;
    const from = e.start - grace;
    const to = e.t + grace;
    let holderAtFrom: string | null = null;
    const during: (string | null)[] = [];
    for (const l of leases) {
      if (l.t <= from) holderAtFrom = l.holder;
      else if (l.t <= to) during.push(l.holder);
    }
    if (holderAtFrom !== e.replica && !during.includes(e.replica)) {
      out.push({
        invariant: 6,
        t: e.t,
        message: `replica ${e.replica} wrote ${e.method} ${e.path} (HTTP ${e.status}) while the lease was held by ${holderAtFrom ?? "nobody"}${during.length > 0 ? ` then ${during.join(", ")}` : ""}`,
      });
    }
  }
  return out;
}
