// Applies a schedule's faults to a ChaosWorld at their instants and heals them all at the end of the
// fault window. Each injection and heal is recorded in the history. Faults armed on a node (a hung
// call, a host that stays down, NotReady during the drain) fire when the agent gets there; one that
// never fires is recorded as skipped at the heal.
import { setTimeout as sleep } from "node:timers/promises";
import type { CallPhase } from "../testbed/testbed.js";
import type { RebootEvent } from "../simulator/host.js";
import { eventually, kube } from "../testenv/kube-call.js";
import { POLICY_API_VERSION, POLICY_COLLECTION_PATH, POLICY_KIND } from "../../src/model/policy.js";
import type { FaultEvent, HistoryEvent } from "./history.js";
import { now } from "./observer.js";
import {
  describeFault,
  type Fault,
  type HangableCall,
  type PolicyEdit,
  type TimedFault,
} from "./schedule.js";
import type { ChaosWorld } from "./world.js";

interface Armed {
  fault: Fault;
  node: string;
}

export class FaultInjector {
  readonly #world: ChaosWorld;
  readonly #nodes: readonly string[];
  readonly #record: (e: HistoryEvent) => void;
  readonly #policyName: string;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #running = new Set<Promise<unknown>>();
  /** Resolves when the faults heal: every held fault lets go then. */
  readonly #healed: Promise<void>;
  #heal!: () => void;
  #healing = false;
  readonly #hangs = new Map<string, { call: HangableCall; durationMs: number; fault: Fault }>();
  readonly #downs = new Map<string, Armed & { durationMs: number | null }>();
  readonly #notReady = new Map<string, Armed & { durationMs: number }>();
  readonly #agentsDown = new Set<string>();
  #controlPlane: Promise<void> = Promise.resolve();
  /** A NotReady fault's heal writing Ready, by node (a reboot starting waits for it). */
  readonly #readyWrites = new Map<string, Promise<void>>();
  /** Faults injected (fired), for the run's figures. */
  injected = 0;
  readonly errors: string[] = [];

  constructor(opts: {
    world: ChaosWorld;
    nodes: readonly string[];
    record: (e: HistoryEvent) => void;
    policyName: string;
  }) {
    this.#world = opts.world;
    this.#nodes = opts.nodes;
    this.#record = opts.record;
    this.#policyName = opts.policyName;
    this.#healed = new Promise((resolve) => (this.#heal = resolve));
    const tb = this.#world.testbed;
    tb.onCall = (node, call, phase) => this.#onCall(node, call, phase);
    tb.onReboot = (e) => this.#onReboot(e);
  }

  /** Schedules every fault relative to now. */
  start(faults: readonly TimedFault[]): void {
    for (const f of faults) {
      this.#timers.push(setTimeout(() => this.#track(this.#inject(f.fault)), f.atMs));
    }
  }

  #track(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) => {
      this.errors.push(err instanceof Error ? err.message : String(err));
    });
    this.#running.add(tracked);
    void tracked.finally(() => this.#running.delete(tracked));
  }

  #note(phase: FaultEvent["phase"], fault: Fault, node?: string, connections?: number): void {
    if (phase === "inject") this.injected++;
    this.#record({
      t: now(),
      kind: "fault",
      phase,
      fault: describeFault(fault),
      ...(node !== undefined && { node }),
      ...(connections !== undefined && { connections }),
    });
  }

  /** Waits ms, or less if the faults heal first. */
  #hold(ms: number | null): Promise<void> {
    return ms === null ? this.#healed : Promise.race([sleep(ms), this.#healed]);
  }

  async #inject(fault: Fault): Promise<void> {
    if (this.#healing) return;
    switch (fault.kind) {
      case "kill-controller":
      case "kill-apiserver":
        return this.#kill(fault);
      case "policy":
        await this.#setPolicy(fault.edit);
        this.#note("inject", fault);
        return;
      case "clock-step":
        this.#world.clock.advance(fault.ms);
        this.#note("inject", fault);
        return;
      case "restart-kube-apiserver":
      case "restart-etcd":
        return this.#restartControlPlane(fault);
      case "cut-connections":
        this.#note("inject", fault, undefined, this.#world.cutConnections());
        return;
      case "cut-agent-connections":
        this.#note("inject", fault, undefined, this.#world.cutAgentConnections());
        return;
      default: {
        const node = this.#nodes[fault.node];
        if (node !== undefined) await this.#onNode(fault, node);
      }
    }
  }

  async #kill(fault: Extract<Fault, { kind: "kill-controller" | "kill-apiserver" }>): Promise<void> {
    const w = this.#world;
    const killed =
      fault.kind === "kill-controller" ? await w.killController(fault.replica) : await w.killApiserver();
    if (!killed) return;
    this.#note("inject", fault);
    await this.#hold(fault.downMs);
    if (fault.kind === "kill-controller") await w.startController(fault.replica);
    else await w.restartApiserver();
    this.#note("heal", fault);
  }

  /** One control-plane restart at a time (a second one waits for the first to be healthy). */
  async #restartControlPlane(
    fault: Extract<Fault, { kind: "restart-kube-apiserver" | "restart-etcd" }>,
  ): Promise<void> {
    const cluster = this.#world.testbed.cluster;
    if (cluster.restartComponent === undefined) return;
    const restart = cluster.restartComponent.bind(cluster);
    const component = fault.kind === "restart-etcd" ? "etcd" : "kube-apiserver";
    const turn = this.#controlPlane.then(async () => {
      this.#note("inject", fault);
      await restart(component, { downMs: fault.downMs });
      this.#note("heal", fault);
    });
    this.#controlPlane = turn.catch(() => undefined);
    await turn;
  }

  async #onNode(fault: Extract<Fault, { node: number }>, node: string): Promise<void> {
    const tb = this.#world.testbed;
    switch (fault.kind) {
      case "kill-agent":
        if (tb.agent(node) === undefined) return;
        tb.killAgent(node);
        this.#agentsDown.add(node);
        this.#note("inject", fault, node);
        await this.#hold(fault.downMs);
        this.#restartAgent(node);
        this.#note("heal", fault, node);
        return;
      case "fail-command":
        tb.fleet
          .host(node)
          .failCommand(fault.command, { times: 1, stderr: `chaos: injected ${fault.command} failure` });
        this.#note("inject", fault, node);
        return;
      case "lock-storm":
        return this.#lockStorm(fault, node);
      case "hang-call":
        this.#hangs.set(node, { call: fault.call, durationMs: fault.durationMs, fault });
        return;
      case "host-down":
        this.#downs.set(node, { fault, node, durationMs: fault.durationMs });
        return;
      case "notready-in-drain":
        this.#notReady.set(node, { fault, node, durationMs: fault.durationMs });
        return;
    }
  }

  /** A refresh that never finishes holds the host's update lock: every command answers 423. */
  async #lockStorm(fault: Extract<Fault, { kind: "lock-storm" }>, node: string): Promise<void> {
    const host = this.#world.testbed.fleet.host(node);
    if (!host.reachable) return;
    host.hang("refresh");
    const started = host.act("refresh");
    this.#note("inject", fault, node);
    await this.#hold(fault.durationMs);
    host.unhang("refresh");
    this.#note("heal", fault, node);
    if (started.status !== 204) this.errors.push(`lock-storm on ${node}: refresh answered ${started.status}`);
  }

  /** A new agent unless the host is down (the testbed starts one when the host is back). */
  #restartAgent(node: string): void {
    if (!this.#agentsDown.delete(node)) return;
    const host = this.#world.testbed.fleet.host(node);
    if (host.reachable && this.#world.testbed.agent(node) === undefined) this.#world.testbed.startAgent(node);
  }

  async #onCall(node: string, call: string, phase: CallPhase): Promise<void> {
    if (phase !== "before") return;
    const tb = this.#world.testbed;
    const hang = this.#hangs.get(node);
    if (hang !== undefined && hang.call === call) {
      this.#hangs.delete(node);
      const agent = tb.agent(node);
      this.#note("inject", hang.fault, node);
      await this.#hold(hang.durationMs);
      this.#note("heal", hang.fault, node);
      // The agent that made the call may have died meanwhile: a dead process sends nothing.
      if (tb.agent(node) !== agent || agent === undefined)
        throw new Error(`chaos: ${node}'s agent died during a hung ${call}`);
    }
    const nr = this.#notReady.get(node);
    if (nr !== undefined && call === "apiserver.cordonAndDrain") {
      this.#notReady.delete(node);
      this.#note("inject", nr.fault, node);
      this.#track(
        (async () => {
          await tb.cluster.setNodeReady(node, false);
          await this.#hold(nr.durationMs);
          // Unless the host is rebooting (the testbed brings the node back when it is up).
          // A reboot beginning meanwhile waits for this write (#onReboot) before the testbed takes
          // the node NotReady: ours must not land after it (seed 13 on a loaded machine: the
          // testbed waited for NotReady and timed out).
          if (!tb.fleet.host(node).rebooting) {
            const write = tb.cluster.setNodeReady(node, true);
            this.#readyWrites.set(node, write);
            try {
              await write;
            } finally {
              this.#readyWrites.delete(node);
            }
          }
          this.#note("heal", nr.fault, node);
        })(),
      );
    }
  }

  async #onReboot(e: RebootEvent): Promise<void> {
    await this.#readyWrites.get(e.hostId)?.catch(() => undefined);
    const down = this.#downs.get(e.hostId);
    if (down === undefined) return;
    this.#downs.delete(e.hostId);
    const tb = this.#world.testbed;
    const host = tb.fleet.host(e.hostId);
    this.#note("inject", down.fault, e.hostId);
    await tb.cluster.setNodeReady(e.hostId, false);
    host.disconnect();
    await this.#hold(down.durationMs);
    host.reconnect();
    this.#note("heal", down.fault, e.hostId);
  }

  /**
   * Applies the policy edit as a person would: retried (30 s) while kube-apiserver is restarting
   * (503 "before all known HTTP paths have been installed", refused connections) or the write
   * conflicts, so a control-plane fault next to it does not drop the edit (a 503 dropped one in the 200-schedule run).
   */
  async #setPolicy(edit: PolicyEdit): Promise<void> {
    const rest = this.#world.testbed.rest;
    const path = `${POLICY_COLLECTION_PATH}/${this.#policyName}`;
    await eventually(
      `the policy edit ${JSON.stringify(edit)}`,
      30_000,
      async () => {
        const got = await rest.request<{ metadata: { resourceVersion: string } }>("GET", path);
        if (got.status !== 200 && got.status !== 404) throw new Error(`GET ${path}: HTTP ${got.status}`);
        const body = {
          apiVersion: POLICY_API_VERSION,
          kind: POLICY_KIND,
          metadata: {
            name: this.#policyName,
            ...(got.status === 200 && { resourceVersion: got.body.metadata.resourceVersion }),
          },
          spec: edit,
        };
        if (got.status === 200) await kube(rest, "PUT", path, body);
        else await kube(rest, "POST", POLICY_COLLECTION_PATH, body);
        return true;
      },
      500,
    );
  }

  /** Ends every fault: held ones let go, armed ones are dropped, everything killed is back. */
  async healAll(): Promise<void> {
    this.#healing = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#heal();
    const tb = this.#world.testbed;
    for (const [node, h] of this.#hangs) this.#note("skip", h.fault, node);
    for (const [node, d] of this.#downs) this.#note("skip", d.fault, node);
    for (const [node, n] of this.#notReady) this.#note("skip", n.fault, node);
    this.#hangs.clear();
    this.#downs.clear();
    this.#notReady.clear();
    await Promise.all(this.#running);
    for (const node of this.#nodes) tb.fleet.host(node).clearFaults();
    for (let i = 0; i < this.#world.replicaCount; i++) await this.#world.startController(i);
    await this.#world.restartApiserver();
    for (const node of [...this.#agentsDown]) this.#restartAgent(node);
    const res = await tb.rest.request("DELETE", `${POLICY_COLLECTION_PATH}/${this.#policyName}`);
    if (res.status !== 200 && res.status !== 404) this.errors.push(`delete policy: HTTP ${res.status}`);
  }

  detach(): void {
    const tb = this.#world.testbed;
    tb.onCall = undefined;
    tb.onReboot = undefined;
    for (const t of this.#timers) clearTimeout(t);
  }
}
