// A chaos schedule: the fleet, the limits and the faults of one run, drawn from a seed. Pure: the same
// seed and options always give the same schedule (schedule.test.ts), so `--seed S` replays a run.
// Nodes are referred to by index; the runner names them.
import { Prng } from "./prng.js";

/** Host calls an agent makes that a "hung request" fault can hold (names as the testbed's CallHook). */
export const HANGABLE_CALLS = [
  "host.prepare",
  "host.activate",
  "host.reboot",
  "host.updateStatus",
  "apiserver.cordonAndDrain",
  "apiserver.updateStatus",
  "apiserver.uncordon",
] as const;
export type HangableCall = (typeof HANGABLE_CALLS)[number];

/** A policy edit replaces the whole UpdatePolicy spec (null fields are left out). */
export interface PolicyEdit {
  paused?: boolean;
  maxConcurrent?: number | string;
  maxConcurrentPerZone?: number;
  failureBudget?: { maxFailures: number; window: string };
}

export type Fault =
  /** SIGKILL-like stop of a controller replica (lease not released), restarted after downMs. */
  | { kind: "kill-controller"; replica: number; downMs: number }
  /** brupop's apiserver gone (connections dropped), back on the same port after downMs. */
  | { kind: "kill-apiserver"; downMs: number }
  /** A node's agent crashes; a new one starts after downMs (a pod restart). */
  | { kind: "kill-agent"; node: number; downMs: number }
  /** The host's next command of this kind fails (exit status 1). */
  | { kind: "fail-command"; node: number; command: "prepare" | "activate" }
  /** The host's update lock is held by a hung refresh: every call answers 423 for durationMs. */
  | { kind: "lock-storm"; node: number; durationMs: number }
  /** The agent's next call of this kind hangs durationMs before it is sent. */
  | { kind: "hang-call"; node: number; call: HangableCall; durationMs: number }
  /** The host's next reboot stays down durationMs longer (null: until the faults heal). */
  | { kind: "host-down"; node: number; durationMs: number | null }
  /** The node goes NotReady for durationMs when its next drain starts. */
  | { kind: "notready-in-drain"; node: number; durationMs: number }
  /** The UpdatePolicy is set to this spec (an empty edit removes every rule). */
  | { kind: "policy"; edit: PolicyEdit }
  /** The controllers' decision clock jumps forward (back-off and windows see it). */
  | { kind: "clock-step"; ms: number }
  /** kube-apiserver SIGKILLed, started again after downMs (same flags, ports, certificates). */
  | { kind: "restart-kube-apiserver"; downMs: number }
  /** etcd SIGKILLed, started again after downMs on the same data dir. */
  | { kind: "restart-etcd"; downMs: number }
  /** Every connection brupop's controllers and apiserver have to kube-apiserver (watches too) reset. */
  | { kind: "cut-connections" }
  /** Every connection the agents have to kube-apiserver (their watches of their shadow and Node) reset. */
  | { kind: "cut-agent-connections" };

export type FaultKind = Fault["kind"];

export interface TimedFault {
  /** When, in ms after the rollout starts. */
  atMs: number;
  fault: Fault;
}

export interface Schedule {
  seed: number;
  nodes: number;
  /** Zone label value of each node, by index. */
  zones: string[];
  /** MAX_CONCURRENT_UPDATE of both controller replicas. */
  maxConcurrent: number;
  replicas: number;
  /** The workload: `pods` replicas under a PDB with `minAvailable`. */
  workload: { pods: number; minAvailable: number };
  /** Faults are injected within [0, faultWindowMs]; all heal at its end. */
  faultWindowMs: number;
  faults: TimedFault[];
}

export interface ScheduleOptions {
  nodes: number;
  /** Default 20 s. */
  faultWindowMs?: number;
  /** Number of faults, both included (default 3..8). */
  minFaults?: number;
  maxFaults?: number;
  /** Restrict the vocabulary (default: every kind). */
  kinds?: readonly FaultKind[];
}

export const FAULT_KINDS: readonly FaultKind[] = [
  "kill-controller",
  "kill-apiserver",
  "kill-agent",
  "fail-command",
  "lock-storm",
  "hang-call",
  "host-down",
  "notready-in-drain",
  "policy",
  "clock-step",
  "restart-kube-apiserver",
  "restart-etcd",
  "cut-connections",
  "cut-agent-connections",
];

/**
 * The vocabulary before the control-plane faults were added: seeds recorded until then (e.g. 1010)
 * replay with `kinds: CLASSIC_FAULT_KINDS` (`npm run chaos -- --kinds classic`).
 */
export const CLASSIC_FAULT_KINDS: readonly FaultKind[] = FAULT_KINDS.slice(0, 10);

/**
 * The vocabulary before "cut-agent-connections" was added (a new kind changes every draw of the full
 * vocabulary): seeds recorded until then (e.g. CI's 11, 12, 13, 22) replay with
 * `--kinds control-plane`.
 */
export const CONTROL_PLANE_FAULT_KINDS: readonly FaultKind[] = FAULT_KINDS.slice(0, 13);

/** `--kinds`: "all", "classic", "control-plane" or a comma-separated list of kinds. */
export function parseKinds(text: string): readonly FaultKind[] {
  if (text === "all") return FAULT_KINDS;
  if (text === "classic") return CLASSIC_FAULT_KINDS;
  if (text === "control-plane") return CONTROL_PLANE_FAULT_KINDS;
  const kinds = text.split(",").map((k) => k.trim());
  const unknown = kinds.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
  if (unknown.length > 0 || kinds.length === 0)
    throw new RangeError(`unknown fault kind(s): ${unknown.join(", ")} (known: ${FAULT_KINDS.join(", ")})`);
  return kinds as FaultKind[];
}

/** Relative weights: the faults that hit the update path most often are drawn most. */
const WEIGHTS: Readonly<Record<FaultKind, number>> = {
  "kill-controller": 3,
  "kill-apiserver": 2,
  "kill-agent": 3,
  "fail-command": 2,
  "lock-storm": 1,
  "hang-call": 2,
  "host-down": 2,
  "notready-in-drain": 2,
  policy: 2,
  "clock-step": 1,
  "restart-kube-apiserver": 1,
  "restart-etcd": 1,
  "cut-connections": 2,
  "cut-agent-connections": 2,
};

const ZONES = ["zone-a", "zone-b", "zone-c"];

export function generateSchedule(seed: number, opts: ScheduleOptions): Schedule {
  if (!Number.isInteger(opts.nodes) || opts.nodes < 2)
    throw new RangeError(`nodes must be an integer ≥ 2, got ${opts.nodes}`);
  const kinds = opts.kinds ?? FAULT_KINDS;
  for (const k of kinds) if (!FAULT_KINDS.includes(k)) throw new RangeError(`unknown fault kind ${k}`);
  if (kinds.length === 0) throw new RangeError("no fault kinds to draw from");
  const minFaults = opts.minFaults ?? 3;
  const maxFaults = opts.maxFaults ?? 8;
  const windowMs = opts.faultWindowMs ?? 20_000;
  const rng = new Prng(seed);
  const n = opts.nodes;
  const zoneCount = rng.int(1, Math.min(3, n));
  const zones = Array.from({ length: n }, (_, i) => ZONES[i % zoneCount] as string);
  const maxConcurrent = rng.int(1, Math.min(3, n - 1));
  const pods = n - 1;
  const workload = { pods, minAvailable: pods - rng.int(1, 2) };
  const count = rng.int(minFaults, maxFaults);
  const faults: TimedFault[] = [];
  for (let i = 0; i < count; i++) {
    const atMs = rng.int(0, windowMs);
    faults.push({ atMs, fault: drawFault(rng, weightedKind(rng, kinds), n) });
  }
  faults.sort((a, b) => a.atMs - b.atMs);
  return { seed, nodes: n, zones, maxConcurrent, replicas: 2, workload, faultWindowMs: windowMs, faults };
}

function weightedKind(rng: Prng, kinds: readonly FaultKind[]): FaultKind {
  const total = kinds.reduce((s, k) => s + WEIGHTS[k], 0);
  let x = rng.next() * total;
  for (const k of kinds) {
    x -= WEIGHTS[k];
    if (x < 0) return k;
  }
  return kinds[kinds.length - 1] as FaultKind;
}

type NodeFault = Extract<Fault, { node: number }>;
const NODE_FAULT_KINDS: ReadonlySet<FaultKind> = new Set<NodeFault["kind"]>([
  "kill-agent",
  "fail-command",
  "lock-storm",
  "hang-call",
  "host-down",
  "notready-in-drain",
]);
const isNodeKind = (kind: FaultKind): kind is NodeFault["kind"] => NODE_FAULT_KINDS.has(kind);

function drawFault(rng: Prng, kind: FaultKind, nodes: number): Fault {
  // Every draw takes a node first (the schedules recorded so far depend on that order).
  const node = rng.int(0, nodes - 1);
  return isNodeKind(kind) ? drawNodeFault(rng, kind, node) : drawFleetFault(rng, kind, nodes);
}

function drawNodeFault(rng: Prng, kind: NodeFault["kind"], node: number): NodeFault {
  switch (kind) {
    case "kill-agent":
      return { kind, node, downMs: rng.int(0, 5_000) };
    case "fail-command":
      return { kind, node, command: rng.pick(["prepare", "activate"] as const) };
    case "lock-storm":
      return { kind, node, durationMs: rng.int(1_000, 6_000) };
    case "hang-call":
      return { kind, node, call: rng.pick(HANGABLE_CALLS), durationMs: rng.int(1_000, 8_000) };
    case "host-down":
      return { kind, node, durationMs: rng.chance(0.25) ? null : rng.int(2_000, 10_000) };
    case "notready-in-drain":
      return { kind, node, durationMs: rng.int(1_000, 6_000) };
  }
}

function drawFleetFault(rng: Prng, kind: Exclude<FaultKind, NodeFault["kind"]>, nodes: number): Fault {
  switch (kind) {
    case "kill-controller":
      return { kind, replica: rng.int(0, 1), downMs: rng.int(500, 8_000) };
    case "kill-apiserver":
      return { kind, downMs: rng.int(500, 6_000) };
    case "policy":
      return { kind, edit: drawPolicy(rng, nodes) };
    case "clock-step":
      return { kind, ms: rng.int(1, 10) * 60_000 };
    case "restart-kube-apiserver":
    case "restart-etcd":
      return { kind, downMs: rng.int(0, 3_000) };
    case "cut-connections":
    case "cut-agent-connections":
      return { kind };
  }
}

function drawPolicy(rng: Prng, nodes: number): PolicyEdit {
  switch (rng.int(0, 4)) {
    case 0:
      return { paused: true };
    case 1:
      return {};
    case 2:
      return {
        maxConcurrent: rng.chance(0.5) ? rng.int(0, Math.min(3, nodes)) : `${rng.pick([10, 25, 50])}%`,
      };
    case 3:
      return { maxConcurrentPerZone: 1 };
    default:
      return { failureBudget: { maxFailures: rng.int(1, 2), window: "1h" } };
  }
}

/** One line per fault, for logs and failure reports. */
export function describeFault(f: Fault): string {
  const { kind, ...rest } = f;
  return `${kind} ${JSON.stringify(rest)}`;
}
