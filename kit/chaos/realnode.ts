// The real-node chaos run (issue 28, docs/reliability.md): brupop as shipped on real kubelets and
// containerds (kit/testenv/realnode), a RealNodeSchedule's faults fired at each node's drain and boot,
// and invariants 2-4 checked by the same observer and checkers as the kwok runs (observer.ts,
// invariants.ts) over its history. The caller starts the cluster, wires each host API's log lines
// to hostLine() (the reboot log), starts this before installing brupop, then awaits settle().
import { mkdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CORDONED_BY_BRUPOP_ANNOTATION } from "../../src/k8s/cordon-marker.js";
import type { RealNodeCluster } from "../testenv/realnode/cluster.js";
import { RawKubeRest } from "../testenv/raw-rest.js";
import { sortHistory, snapshotAt, type HistoryEvent } from "./history.js";
import {
  checkFinal,
  checkPdb,
  checkReboots,
  finalOutcome,
  type FinalOutcome,
  type Violation,
} from "./invariants.js";
import { ChaosObserver, now } from "./observer.js";
import {
  describeRealNodeFault,
  type BrupopPods,
  type RealNodeSchedule,
  type TimedRealNodeFault,
} from "./realnode-schedule.js";
import { fleetFingerprint, fleetSettled, ProgressJudge } from "./settle.js";

/** The chart's `brupop.bottlerocket.aws/component` value of each kind of brupop pod. */
const COMPONENT: Readonly<Record<BrupopPods, string>> = {
  agent: "agent",
  apiserver: "apiserver",
  controller: "brupop-controller",
};

export interface RealNodeChaosOptions {
  cluster: RealNodeCluster;
  schedule: RealNodeSchedule;
  /** brupop's namespace (shadows, its pods). */
  namespace: string;
  /** The workload under its PDB. */
  workloadNamespace: string;
  podSelector: string;
  /** Label selector of the nodes brupop manages. */
  nodeSelector: string;
  fromVersion: string;
  targetVersion: string;
  /** history.jsonl and verdict.json (created). */
  dir: string;
}

export interface RealNodeChaosResult {
  seed: number;
  faultsInjected: number;
  /** Faults whose moment never came (e.g. a drain over before the fault fired). */
  skipped: string[];
  errors: string[];
  settled: boolean;
  outcome: FinalOutcome;
  violations: Violation[];
  history: HistoryEvent[];
}

export class RealNodeChaos {
  readonly #opts: RealNodeChaosOptions;
  readonly #observer: ChaosObserver;
  readonly #rest: RawKubeRest;
  readonly #nodes: string[];
  readonly #pending: TimedRealNodeFault[];
  readonly #running = new Set<Promise<void>>();
  readonly #skipped: string[] = [];
  readonly #errors: string[] = [];
  #injected = 0;
  #stopped = false;
  #loop: Promise<void> | undefined;

  constructor(opts: RealNodeChaosOptions) {
    this.#opts = opts;
    this.#nodes = opts.cluster.nodes.map((n) => n.name).slice(0, opts.schedule.nodes);
    this.#pending = [...opts.schedule.faults];
    this.#rest = new RawKubeRest(opts.cluster.kubeConfig);
    mkdirSync(opts.dir, { recursive: true });
    this.#observer = new ChaosObserver({
      kubeConfig: opts.cluster.kubeConfig,
      namespace: opts.namespace,
      podNamespace: opts.workloadNamespace,
      nodeSelector: opts.nodeSelector,
      podSelector: opts.podSelector,
      policyName: "",
      leaseName: "brupop-controller-leader",
      file: join(opts.dir, "history.jsonl"),
      brupopLater: true,
    });
  }

  /** A line of a node's host API log: its reboots go into the history (the hosts' reboot log). */
  hostLine(node: string, line: string): void {
    let e: { msg?: string; fromVersion?: string; toVersion?: string; rollback?: boolean; version?: string };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      return;
    }
    if (e.msg === "rebooting")
      this.#observer.record({
        t: now(),
        kind: "reboot",
        node,
        from: e.fromVersion ?? "",
        to: e.toVersion ?? "",
        rollback: e.rollback === true,
      });
    if (e.msg === "booted")
      this.#observer.record({ t: now(), kind: "rebooted", node, version: e.version ?? "" });
  }

  /** Starts the observer and the triggers: call before brupop is installed (the rollout starts then). */
  async start(): Promise<void> {
    const { schedule } = this.#opts;
    this.#observer.record({
      t: now(),
      kind: "meta",
      // The kwok runs' Schedule shape; the real-node faults are recorded as they fire.
      schedule: {
        seed: schedule.seed,
        nodes: this.#nodes.length,
        zones: this.#nodes.map(() => ""),
        maxConcurrent: 1,
        replicas: 1,
        workload: { pods: 0, minAvailable: 0 },
        faultWindowMs: 0,
        faults: [],
      },
      nodes: this.#nodes,
      fromVersion: this.#opts.fromVersion,
      targetVersion: this.#opts.targetVersion,
    });
    await this.#observer.start();
    this.#observer.record({ t: now(), kind: "phase", phase: "rollout" });
    this.#loop = this.#trigger();
  }

  /** Fires each fault when its node reaches its moment. */
  async #trigger(): Promise<void> {
    while (!this.#stopped && this.#pending.length > 0) {
      const h = sortHistory(this.#observer.history);
      const s = snapshotAt(h, Number.POSITIVE_INFINITY);
      for (const f of [...this.#pending]) {
        const node = this.#nodes[f.node] ?? "";
        const rebooted = h.some((e) => e.kind === "rebooted" && e.node === node);
        const rebooting = h.some((e) => e.kind === "reboot" && e.node === node);
        const n = s.nodes.get(node);
        const draining =
          n?.unschedulable === true &&
          n.brupopAnnotations.includes(CORDONED_BY_BRUPOP_ANNOTATION) &&
          !rebooting;
        if (f.at === "drain" && rebooting && !draining) {
          this.#pending.splice(this.#pending.indexOf(f), 1);
          this.#note("skip", f, node);
          this.#skipped.push(describeRealNodeFault(f, node));
        } else if ((f.at === "drain" && draining) || (f.at === "boot" && rebooted)) {
          this.#pending.splice(this.#pending.indexOf(f), 1);
          this.#track(this.#fire(f, node));
        }
      }
      await sleep(100);
    }
  }

  #track(p: Promise<void>): void {
    const tracked = p.catch((err: unknown) => {
      this.#errors.push(err instanceof Error ? err.message : String(err));
    });
    this.#running.add(tracked);
    void tracked.finally(() => this.#running.delete(tracked));
  }

  #note(phase: "inject" | "heal" | "skip", f: TimedRealNodeFault, node: string): void {
    if (phase === "inject") this.#injected++;
    this.#observer.record({ t: now(), kind: "fault", phase, fault: describeRealNodeFault(f, node), node });
  }

  async #fire(f: TimedRealNodeFault, node: string): Promise<void> {
    await sleep(f.delayMs);
    // The settle may have judged the fleet meanwhile: a fault now would count without having hit an
    // update (review finding).
    if (this.#stopped) {
      this.#note("skip", f, node);
      this.#skipped.push(describeRealNodeFault(f, node));
      return;
    }
    const { cluster, namespace } = this.#opts;
    const fault = f.fault;
    if (fault.kind === "delete-brupop-pods") {
      const selector = `brupop.bottlerocket.aws/component=${COMPONENT[fault.pods]}`;
      const field = fault.pods === "agent" ? `&fieldSelector=spec.nodeName%3D${node}` : "";
      this.#note("inject", f, node);
      const res = await this.#rest.request(
        "DELETE",
        `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}${field}`,
      );
      if (res.status >= 300) throw new Error(`${describeRealNodeFault(f, node)}: HTTP ${res.status}`);
      return;
    }
    const daemon = fault.kind === "kill-kubelet" ? "kubelet" : "containerd";
    // At the boot the host logs "booted" before the node's daemons are up: wait for them (30 s).
    let killed = await cluster.killDaemon(node, daemon);
    for (let i = 0; !killed && i < 150 && !this.#stopped; i++) {
      await sleep(200);
      killed = await cluster.killDaemon(node, daemon);
    }
    if (!killed) {
      this.#note("skip", f, node);
      this.#skipped.push(describeRealNodeFault(f, node));
      return;
    }
    this.#note("inject", f, node);
    await sleep(fault.downMs);
    // false when the node rebooted meanwhile (its boot started every daemon). The other daemon too,
    // if it died meanwhile (a kubelet starting while containerd is down exits): systemd would
    // restart it on a real host.
    await cluster.startDaemon(node, daemon);
    await cluster.startDaemon(node, daemon === "kubelet" ? "containerd" : "kubelet");
    this.#note("heal", f, node);
  }

  /**
   * Waits until every node is Idle on the target and uncordoned, while the fleet keeps changing
   * (quietMs without a change, or capMs, and it gives up), heals what is still down, then judges
   * invariants 2-4 over the history.
   */
  async settle(opts: { quietMs: number; capMs: number }): Promise<RealNodeChaosResult> {
    const judge = new ProgressJudge({ startMs: performance.now(), ...opts });
    let reason: string | undefined;
    for (;;) {
      const s = snapshotAt(sortHistory(this.#observer.history), Number.POSITIVE_INFINITY);
      if (fleetSettled(s, this.#nodes, this.#opts.targetVersion)) break;
      const verdict = judge.observe(fleetFingerprint(s, this.#nodes), performance.now());
      if (verdict !== "waiting") {
        reason = `${verdict}: no change for ${Math.round((performance.now() - judge.lastChangeMs) / 1_000)} s`;
        break;
      }
      await sleep(250);
    }
    this.#stopped = true;
    await this.#loop;
    await Promise.all(this.#running);
    for (const f of this.#pending) {
      const node = this.#nodes[f.node] ?? "";
      this.#note("skip", f, node);
      this.#skipped.push(describeRealNodeFault(f, node));
    }
    for (const node of this.#nodes) {
      await this.#opts.cluster.startDaemon(node, "containerd");
      await this.#opts.cluster.startDaemon(node, "kubelet");
    }
    // Trailing events (the last uncordon, the last status) reach the observer a little later.
    await sleep(1_500);
    this.#observer.record({
      t: now(),
      kind: "phase",
      phase: reason === undefined ? "settled" : "timeout",
      ...(reason !== undefined && { reason }),
    });
    const history = sortHistory(this.#observer.history);
    const result: RealNodeChaosResult = {
      seed: this.#opts.schedule.seed,
      faultsInjected: this.#injected,
      skipped: [...this.#skipped],
      errors: [...this.#errors],
      settled: reason === undefined,
      outcome: finalOutcome(history),
      violations: [...checkPdb(history), ...checkReboots(history), ...checkFinal(history)],
      history,
    };
    const { history: _h, ...verdict } = result;
    await writeFile(join(this.#opts.dir, "verdict.json"), `${JSON.stringify(verdict, null, 2)}\n`);
    return result;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    await this.#observer.stop();
    this.#rest.close();
  }
}
