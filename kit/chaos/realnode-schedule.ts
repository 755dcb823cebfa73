// The real-node chaos schedule (issue 28): on a cluster of real kubelets and containerds
// (kit/testenv/realnode) running brupop as shipped, each node gets one fault while it is being
// drained and one right after it boots from the update's reboot (a node is powered off during the
// reboot itself, so its daemons are already dead then: "mid-reboot" is the boot, while the kubelet
// restarts the node's pods and the agent resumes). Pure and seeded like schedule.ts: the same seed,
// the same schedule (realnode-schedule.test.ts).
import { Prng } from "./prng.js";

/** Where in a node's update a fault fires: its drain (cordoned, not yet rebooted) or its boot. */
export type RealNodeMoment = "drain" | "boot";

/** brupop's pods a "delete-brupop-pods" fault deletes (their labels are the chart's). */
export type BrupopPods = "agent" | "apiserver" | "controller";

export type RealNodeFault =
  /** The node's kubelet SIGKILLed (its containers keep running), started again after downMs. */
  | { kind: "kill-kubelet"; downMs: number }
  /** The node's containerd SIGKILLed (the shims keep the containers), started again after downMs. */
  | { kind: "kill-containerd"; downMs: number }
  /** brupop's pods deleted as `kubectl delete pod` would (the node's agent, or every apiserver/controller). */
  | { kind: "delete-brupop-pods"; pods: BrupopPods };

export interface TimedRealNodeFault {
  /** Node index. */
  node: number;
  at: RealNodeMoment;
  /** After the moment is seen. */
  delayMs: number;
  fault: RealNodeFault;
}

export interface RealNodeSchedule {
  seed: number;
  nodes: number;
  faults: TimedRealNodeFault[];
}

const KINDS = ["kill-kubelet", "kill-containerd", "delete-brupop-pods"] as const;

/**
 * Two faults per node (one at its drain, one at its boot). Every kind appears once the schedule has
 * three slots (two nodes or more): the first three slots are the three kinds in a seeded order, the
 * rest drawn freely.
 */
export function generateRealNodeSchedule(seed: number, opts: { nodes: number }): RealNodeSchedule {
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > 8)
    throw new RangeError(`nodes must be an integer in 1..8, got ${opts.nodes}`);
  const rng = new Prng(seed);
  const order = [...KINDS];
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [order[i], order[j]] = [order[j] as (typeof KINDS)[number], order[i] as (typeof KINDS)[number]];
  }
  const faults: TimedRealNodeFault[] = [];
  for (let node = 0; node < opts.nodes; node++) {
    for (const at of ["drain", "boot"] as const) {
      const kind = order[faults.length] ?? rng.pick(KINDS);
      // A drain of a few real pods takes seconds: fire early in it. A boot lasts longer.
      faults.push({
        node,
        at,
        delayMs: rng.int(0, at === "drain" ? 500 : 3_000),
        fault: drawFault(rng, kind),
      });
    }
  }
  return { seed, nodes: opts.nodes, faults };
}

function drawFault(rng: Prng, kind: (typeof KINDS)[number]): RealNodeFault {
  switch (kind) {
    case "kill-kubelet":
    case "kill-containerd":
      return { kind, downMs: rng.int(2_000, 8_000) };
    case "delete-brupop-pods":
      return { kind, pods: rng.pick(["agent", "apiserver", "controller"] as const) };
  }
}

export function describeRealNodeFault(f: TimedRealNodeFault, nodeName: string): string {
  const { kind, ...rest } = f.fault;
  return `${kind} ${JSON.stringify({ node: nodeName, at: f.at, delayMs: f.delayMs, ...rest })}`;
}
