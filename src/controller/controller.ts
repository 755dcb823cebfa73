// The brupop controller runtime (SPEC §3): caches, the tick loop, conditional spec writes, clean-up,
// schedule gating, leader election, events and metrics around the pure decisions in decisions.ts.
//
// One tick = rebuild the view from the caches → delete shadows of unlabelled nodes → evaluate the
// schedule gate (persisting trigger-round state) → planTick → write each spec change conditionally
// on the resourceVersion it was decided on. Ticks run every tickIntervalMs, and earlier (debounced)
// when a cache event arrives; never more than one at a time. Only the leader ticks; a standby keeps
// its caches warm so /healthz is green and a failover starts from a full view.
//
// Everything is injected (KubeRest, logger, clock) and nothing is module-level, so many controllers
// can run in one process (tests, demo, benchmarks).
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { systemClock, type Clock } from "../clock.js";
import { EventRecorder, kubeEventSender, type EventSender } from "../k8s/events.js";
import { Informer } from "../k8s/informer.js";
import {
  KubeLeaseStore,
  LeaderElector,
  type LeadershipTerm,
  type LeaseStore,
} from "../k8s/leader-election.js";
import type { KubeRest } from "../k8s/rest.js";
import {
  API_VERSION_V2,
  KIND,
  PLURAL,
  API_GROUP,
  UPDATER_INTERFACE_LABEL,
  UPDATER_INTERFACE_VERSION,
} from "../model/constants.js";
import { DEFAULT_SPEC, type BottlerocketShadow } from "../model/shadow.js";
import {
  planTick,
  shadowsToDelete,
  type ConcurrencyLimit,
  type NodeLike,
  type SpecChange,
} from "./decisions.js";
import { explainFleet, type Explanation } from "./explain.js";
import { evaluateGate, fleetDemand, type GateDecision, type RoundState } from "./gate.js";
import { ControllerHttpServer } from "./http.js";
import { ControllerMetrics, fleetSnapshot, type SpecWriteOutcome } from "./metrics.js";
import { ConfigMapRoundStore, DEFAULT_STATE_CONFIGMAP, type RoundStore } from "./round-store.js";
import type { UpdateSchedule } from "./schedule.js";
import { ShadowView, type RawShadow } from "./view.js";

export const DEFAULT_TICK_INTERVAL_MS = 2_000;
export const DEFAULT_EVENT_DEBOUNCE_MS = 100;
export const DEFAULT_METRICS_PORT = 8080;
export const DEFAULT_LEASE_NAME = "brupop-controller-leader";
export const CONTROLLER_COMPONENT = "brupop-controller";
/** After a failed settings publication, wait this long before the next attempt (not every tick). */
export const SETTINGS_RETRY_MS = 30_000;

export interface LeaderElectionSettings {
  leaseName?: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface ControllerConfig {
  namespace: string;
  maxConcurrent: ConcurrencyLimit;
  schedule: UpdateSchedule;
  /** Node hosting this controller (MY_NODE_NAME): it is updated last. */
  controllerNodeName?: string | undefined;
  tickIntervalMs?: number;
  /** Delay between a cache event and the tick it triggers (coalesces bursts). */
  eventDebounceMs?: number;
  /** null: no HTTP server. Port 0 picks a free port (see `port`). */
  http?: { port: number; host?: string } | null;
  /** null: no election, this instance always leads (single replica, tests, demo). */
  leaderElection?: LeaderElectionSettings | null;
  /** ConfigMap holding the trigger-round state. */
  stateConfigMap?: string;
  /**
   * false: no loop; ticks happen only through tickOnce() (tests, benchmarks driving ticks by hand).
   * Default true.
   */
  autoTick?: boolean;
  /** Concurrent spec writes within one tick. */
  writeConcurrency?: number;
  /** Also export prom-client's process metrics (the CLI does; in-process instances should not). */
  defaultMetrics?: boolean;
}

export interface ControllerDeps {
  rest: KubeRest;
  logger: Logger;
  /** Clock for decisions (back-off, schedule, timestamps written into specs and events). */
  clock?: Clock;
  /** Overrides for tests: where the Lease, the round state and events go. */
  leaseStore?: LeaseStore;
  roundStore?: RoundStore;
  eventSender?: EventSender;
}

export interface TickReport {
  /** Why nothing was done, if so. */
  skipped?: "not-leader" | "not-synced" | "fence-failed" | "round-state-unavailable";
  changes: SpecChange[];
  written: number;
  conflicts: number;
  deleted: string[];
  updatesAllowed: boolean;
  activeCount: number;
  waitingForSlot: string[];
  invalid: string[];
}

interface NodeMeta extends NodeLike {
  metadata?: { name?: string; uid?: string; resourceVersion?: string; labels?: Record<string, string> };
}

/** Keep only what the controller reads of a Node (a full Node object is 5-20 kB; 1 000 add up). */
function slimNode(node: NodeMeta): NodeMeta {
  const m = node.metadata ?? {};
  const metadata: NonNullable<NodeMeta["metadata"]> = {};
  if (m.name !== undefined) metadata.name = m.name;
  if (m.uid !== undefined) metadata.uid = m.uid;
  if (m.resourceVersion !== undefined) metadata.resourceVersion = m.resourceVersion;
  if (m.labels !== undefined) metadata.labels = m.labels;
  return { metadata };
}

function stripManagedFields(raw: RawShadow): RawShadow {
  if (raw.metadata !== undefined && "managedFields" in raw.metadata) delete raw.metadata["managedFields"];
  return raw;
}

const EVENT_REASONS: Record<SpecChange["reason"], string> = {
  start: "StartUpdate",
  progress: "Progress",
  recover: "Recover",
  initialise: "Initialise",
  reset: "ResetSpec",
};

function describeChange(c: SpecChange): string {
  const version = c.to.version === null ? "" : ` (version ${c.to.version})`;
  switch (c.reason) {
    case "start":
      return `starting update to ${c.to.version ?? "?"}: spec ${c.from.state} → ${c.to.state}`;
    case "recover":
      return `update failed (status ErrorReset); spec ${c.from.state} → ${c.to.state}${version}`;
    case "initialise":
      return "initialised spec to Idle";
    case "reset":
      return `Idle on ${c.from.version ?? "its target version"}: spec reset to the default (no target version)`;
    case "progress":
      return c.from.state === "MonitoringUpdate" && c.to.state === "Idle"
        ? `update complete${version}: spec MonitoringUpdate → Idle`
        : `spec ${c.from.state} → ${c.to.state}${version}`;
  }
}

async function mapBounded<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class Controller {
  readonly metrics: ControllerMetrics;
  readonly #cfg: Required<Omit<ControllerConfig, "controllerNodeName" | "http" | "leaderElection">> &
    ControllerConfig;
  readonly #rest: KubeRest;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #shadowPath: string;
  readonly #shadows: Informer<RawShadow>;
  readonly #nodes: Informer<NodeMeta>;
  readonly #view = new ShadowView();
  readonly #events: EventRecorder;
  readonly #roundStore: RoundStore;
  readonly #elector: LeaderElector | undefined;
  readonly #identity: string;
  #http: ControllerHttpServer | undefined;
  #port: number | undefined;

  #term: LeadershipTerm | undefined;
  /** Without leader election this instance leads from start() to stop(). */
  #soloTerm: AbortController | undefined;
  #needsFence = false;
  /** undefined = not loaded in this term; null = nothing persisted yet. */
  #round: RoundState | null | undefined = undefined;
  /** Settings published in this term (for `brupop status`); when the next attempt may run if not. */
  #settingsPublished = false;
  #settingsRetryAt = 0;
  #leaderSince: Date | undefined;
  #lastGate: GateDecision | undefined;
  #lastShadows: BottlerocketShadow[] = [];
  readonly #loggedInvalid = new Map<string, string | undefined>();
  readonly #nodeLabelled = new Map<string, boolean>();

  #started = false;
  #stopping = false;
  #loop: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #dueMs = Infinity;
  #ready = false;
  #waiter: (() => void) | undefined;
  #ticks = 0;
  #tickChain: Promise<void> = Promise.resolve();

  constructor(config: ControllerConfig, deps: ControllerDeps) {
    this.#cfg = {
      tickIntervalMs: DEFAULT_TICK_INTERVAL_MS,
      eventDebounceMs: DEFAULT_EVENT_DEBOUNCE_MS,
      stateConfigMap: DEFAULT_STATE_CONFIGMAP,
      writeConcurrency: 16,
      defaultMetrics: false,
      autoTick: true,
      ...config,
    };
    this.#rest = deps.rest;
    this.#clock = deps.clock ?? systemClock;
    this.#identity = config.leaderElection?.identity ?? `${hostname()}_${randomUUID().slice(0, 8)}`;
    this.#log = deps.logger.child({ component: CONTROLLER_COMPONENT });
    this.metrics = new ControllerMetrics({ defaultMetrics: this.#cfg.defaultMetrics });
    const ns = config.namespace;
    this.#shadowPath = `/apis/${API_GROUP}/v2/namespaces/${ns}/${PLURAL}`;
    this.#shadows = new Informer<RawShadow>({ rest: deps.rest, path: this.#shadowPath, logger: this.#log });
    this.#nodes = new Informer<NodeMeta>({
      rest: deps.rest,
      path: "/api/v1/nodes",
      logger: this.#log,
      transform: slimNode,
    });
    this.#shadows.on((type, raw) => {
      if (type === "delete") this.#view.noteDeleted(raw);
      this.#schedule(this.#cfg.eventDebounceMs);
    });
    this.#nodes.on((type, node) => this.#onNodeEvent(type, node));
    this.#events = new EventRecorder({
      sender: deps.eventSender ?? kubeEventSender(deps.rest),
      component: CONTROLLER_COMPONENT,
      instance: this.#identity,
      clock: this.#clock,
      logger: this.#log,
    });
    this.#roundStore = deps.roundStore ?? new ConfigMapRoundStore(deps.rest, ns, this.#cfg.stateConfigMap);
    if (config.leaderElection !== null && config.leaderElection !== undefined) {
      const le = config.leaderElection;
      this.#elector = new LeaderElector({
        store: deps.leaseStore ?? new KubeLeaseStore(deps.rest, ns, le.leaseName ?? DEFAULT_LEASE_NAME),
        identity: this.#identity,
        logger: this.#log,
        ...(le.leaseDurationMs !== undefined && { leaseDurationMs: le.leaseDurationMs }),
        ...(le.renewDeadlineMs !== undefined && { renewDeadlineMs: le.renewDeadlineMs }),
        ...(le.retryPeriodMs !== undefined && { retryPeriodMs: le.retryPeriodMs }),
        onStartedLeading: (term) => this.#startedLeading(term),
        onStoppedLeading: () => this.#stoppedLeading(),
      });
    }
  }

  get identity(): string {
    return this.#identity;
  }

  /** Bound HTTP port (after start, when an HTTP server was configured). */
  get port(): number | undefined {
    return this.#port;
  }

  get synced(): boolean {
    return this.#shadows.synced && this.#nodes.synced;
  }

  /** True while this instance acts (holds the lease, within its renew deadline). */
  get isLeader(): boolean {
    return this.#term?.isActive() === true;
  }

  /** Leader ticks completed (decided and written). */
  get ticks(): number {
    return this.#ticks;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#shadows.start();
    this.#nodes.start();
    if (this.#cfg.http !== null && this.#cfg.http !== undefined) {
      this.#http = new ControllerHttpServer(
        {
          metrics: async () => ({ contentType: this.metrics.contentType, body: await this.metrics.text() }),
          healthy: () => this.synced,
          describe: () => ({ synced: this.synced, leader: this.isLeader, identity: this.#identity }),
        },
        this.#log,
      );
      this.#port = await this.#http.listen(this.#cfg.http.port, this.#cfg.http.host);
      this.#log.info({ port: this.#port }, "serving /metrics and /healthz");
    }
    if (this.#elector !== undefined) this.#elector.start();
    else {
      const solo = new AbortController();
      this.#soloTerm = solo;
      this.#startedLeading({ signal: solo.signal, isActive: () => !solo.signal.aborted });
    }
    if (this.#cfg.autoTick) this.#loop = this.#run();
    this.#log.info(
      {
        namespace: this.#cfg.namespace,
        maxConcurrent: this.#cfg.maxConcurrent,
        schedule: this.#cfg.schedule.expression,
        scheduleKind: this.#cfg.schedule.kind,
        identity: this.#identity,
        leaderElection: this.#elector !== undefined,
      },
      "controller started",
    );
  }

  /** Resolves once both caches hold a full LIST. */
  async waitForSync(): Promise<void> {
    await Promise.all([this.#shadows.waitForSync(), this.#nodes.waitForSync()]);
  }

  /**
   * Stops everything. By default the Lease is released so a standby takes over at once; with
   * `releaseLease: false` it is left held, as a crash would leave it.
   */
  async stop(opts: { releaseLease?: boolean } = {}): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    // Leadership ends first: no write may start after this point.
    if (this.#elector !== undefined) await this.#elector.stop({ release: opts.releaseLease !== false });
    else {
      this.#soloTerm?.abort();
      this.#stoppedLeading();
    }
    clearTimeout(this.#timer);
    this.#waiter?.();
    // Informers first: a loop still waiting for the first sync (API unreachable) is released by it.
    await Promise.all([this.#shadows.stop(), this.#nodes.stop()]);
    await this.#loop;
    await Promise.race([this.#events.close(), new Promise((r) => setTimeout(r, 2_000).unref())]);
    await this.#http?.close();
    this.#log.info("controller stopped");
  }

  /** Why each node is (not) updating, as of the last tick (empty before the first leader tick). */
  explain(): Explanation[] {
    const gate = this.#lastGate;
    if (gate === undefined) return [];
    return explainFleet(this.#lastShadows, {
      now: this.#clock.now(),
      maxConcurrent: this.#cfg.maxConcurrent,
      gate: { kind: gate.kind, updatesAllowed: gate.updatesAllowed, opensAt: gate.opensAt },
      controllerNodeName: this.#cfg.controllerNodeName,
    });
  }

  /** Asks for a tick soon (tests; also what cache events do). */
  poke(): void {
    this.#schedule(0);
  }

  // ---- leadership -------------------------------------------------------------------------------

  #startedLeading(term: LeadershipTerm): void {
    this.#term = term;
    this.#needsFence = true;
    this.#round = undefined;
    this.#settingsPublished = false;
    this.#settingsRetryAt = 0;
    this.#leaderSince = this.#clock.now();
    this.metrics.setLeader(true);
    this.#schedule(0);
  }

  #stoppedLeading(): void {
    this.#term = undefined;
    this.#round = undefined;
    this.#lastGate = undefined;
    this.metrics.setLeader(false);
    this.metrics.setFleet(null);
    this.metrics.setUpdatesAllowed(false);
  }

  #onNodeEvent(type: string, node: NodeMeta): void {
    const name = node.metadata?.name;
    if (name === undefined) return;
    if (type === "delete") {
      this.#nodeLabelled.delete(name);
      return;
    }
    const labelled = node.metadata?.labels?.[UPDATER_INTERFACE_LABEL] === UPDATER_INTERFACE_VERSION;
    const before = this.#nodeLabelled.get(name);
    this.#nodeLabelled.set(name, labelled);
    // Node status heartbeats are frequent at fleet scale; only a label change matters to us.
    if (before === true && !labelled) this.#schedule(this.#cfg.eventDebounceMs);
  }

  // ---- loop -------------------------------------------------------------------------------------

  /** Requests a tick in `delayMs` unless one is already due sooner. */
  #schedule(delayMs: number): void {
    if (this.#stopping || !this.#started) return;
    const due = performance.now() + delayMs;
    if (this.#timer !== undefined && due >= this.#dueMs) return;
    clearTimeout(this.#timer);
    this.#dueMs = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#dueMs = Infinity;
      this.#ready = true;
      this.#waiter?.();
    }, delayMs);
  }

  #waitForWake(): Promise<void> {
    if (this.#ready) {
      this.#ready = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#waiter = () => {
        this.#waiter = undefined;
        this.#ready = false;
        resolve();
      };
    });
  }

  async #run(): Promise<void> {
    await this.waitForSync();
    while (!this.#stopping) {
      this.#schedule(this.#cfg.tickIntervalMs);
      await this.#waitForWake();
      if (this.#stopping) break;
      try {
        await this.tickOnce();
      } catch (err) {
        this.#log.error({ err }, "tick failed; retrying next tick");
      }
    }
  }

  // ---- one tick ---------------------------------------------------------------------------------

  /**
   * One decision round. The loop calls it; tests and benchmarks may too. Calls are serialised: a
   * tick never starts while another is in flight.
   */
  tickOnce(): Promise<TickReport> {
    const run = this.#tickChain.then(() => this.#tick());
    this.#tickChain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #tick(): Promise<TickReport> {
    const report: TickReport = {
      changes: [],
      written: 0,
      conflicts: 0,
      deleted: [],
      updatesAllowed: false,
      activeCount: 0,
      waitingForSlot: [],
      invalid: [],
    };
    const term = this.#term;
    if (term === undefined || !term.isActive()) return { ...report, skipped: "not-leader" };
    if (!this.synced) return { ...report, skipped: "not-synced" };
    const t0 = performance.now();
    if (this.#needsFence) {
      if (!(await this.#fence(term))) return { ...report, skipped: "fence-failed" };
      this.#needsFence = false;
    }
    await this.#publishSettings(term);
    if (this.#cfg.schedule.kind === "trigger" && this.#round === undefined) {
      try {
        this.#round = await this.#roundStore.load(term.signal);
      } catch (err) {
        this.#log.warn({ err }, "could not read the trigger-round state; retrying next tick");
        return { ...report, skipped: "round-state-unavailable" };
      }
    }
    const now = this.#clock.now();
    const { shadows, invalid } = this.#view.build(this.#shadows.list());
    this.#reportInvalid(invalid);
    report.invalid = invalid.map((i) => i.name);

    const doomed = new Set(
      shadowsToDelete(
        [
          ...shadows,
          ...invalid.map((i): BottlerocketShadow => ({
            apiVersion: API_VERSION_V2,
            kind: KIND,
            metadata: { name: i.name, ...(i.uid !== undefined && { uid: i.uid }) },
            spec: { ...DEFAULT_SPEC },
          })),
        ],
        this.#nodes.list(),
      ),
    );
    if (doomed.size > 0) {
      const uids = new Map<string, string | undefined>([
        ...shadows.map((s) => [s.metadata.name ?? "", s.metadata.uid] as const),
        ...invalid.map((i) => [i.name, i.uid] as const),
      ]);
      await mapBounded([...doomed], this.#cfg.writeConcurrency, async (name) => {
        if (await this.#deleteShadow(name, uids.get(name), term)) report.deleted.push(name);
      });
    }
    const live = shadows.filter((s) => !doomed.has(s.metadata.name ?? ""));

    const gate = evaluateGate(this.#cfg.schedule, this.#round ?? null, now, fleetDemand(live));
    report.updatesAllowed = await this.#adoptGate(gate, term);
    this.metrics.setUpdatesAllowed(report.updatesAllowed);

    const plan = planTick({
      shadows: live,
      now,
      maxConcurrent: this.#cfg.maxConcurrent,
      updatesAllowed: report.updatesAllowed,
      controllerNodeName: this.#cfg.controllerNodeName,
    });
    report.changes = plan.changes;
    report.activeCount = plan.activeCount;
    report.waitingForSlot = plan.waitingForSlot;
    await mapBounded(plan.changes, this.#cfg.writeConcurrency, async (change) => {
      const outcome = await this.#writeSpec(change, term);
      if (outcome === "ok") report.written++;
      if (outcome === "conflict") report.conflicts++;
    });

    this.#lastShadows = live;
    this.#lastGate = { ...gate, updatesAllowed: report.updatesAllowed };
    if (term.isActive()) this.metrics.setFleet(fleetSnapshot(live));
    this.metrics.observeTick((performance.now() - t0) / 1000);
    this.#ticks++;
    return report;
  }

  /**
   * On becoming leader: a quorum LIST of the shadows, so the first decisions cannot rest on a cache
   * that has not yet seen the previous leader's last writes.
   */
  async #fence(term: LeadershipTerm): Promise<boolean> {
    try {
      const res = await this.#rest.request<{ items?: RawShadow[] }>("GET", this.#shadowPath, {
        signal: term.signal,
        timeoutMs: 30_000,
      });
      if (res.status !== 200) throw new Error(`LIST shadows: HTTP ${res.status}`);
      for (const item of res.body.items ?? []) this.#view.noteFresh(stripManagedFields(item));
      return true;
    } catch (err) {
      this.#log.warn({ err }, "fence read at leadership start failed; retrying next tick");
      return false;
    }
  }

  /**
   * Once per leadership term: write the effective settings into the state ConfigMap so `brupop
   * status` can explain the schedule and concurrency verdicts. Best effort: a failure never stops
   * the tick, and the next attempt waits SETTINGS_RETRY_MS (a missing RBAC verb must not cost a
   * request every tick).
   */
  async #publishSettings(term: LeadershipTerm): Promise<void> {
    const store = this.#roundStore;
    if (this.#settingsPublished || store.publishSettings === undefined) return;
    if (performance.now() < this.#settingsRetryAt || !term.isActive()) return;
    const settings = {
      maxConcurrent: this.#cfg.maxConcurrent,
      schedule: this.#cfg.schedule.expression,
      controllerNode: this.#cfg.controllerNodeName ?? null,
      leader: this.#identity,
      leaderSince: (this.#leaderSince ?? this.#clock.now()).toISOString(),
    };
    try {
      await store.publishSettings(settings, term.signal);
      this.#settingsPublished = true;
      // The write moved the ConfigMap's resourceVersion: re-read the round state before saving it.
      this.#round = undefined;
      this.#log.info(settings, "published controller settings");
    } catch (err) {
      this.#settingsRetryAt = performance.now() + SETTINGS_RETRY_MS;
      if (!term.signal.aborted) {
        this.#log.warn({ err }, "could not publish the controller settings (for brupop status); will retry");
      }
    }
  }

  /** Persists a changed trigger-round state; returns whether new updates may start this tick. */
  async #adoptGate(gate: GateDecision, term: LeadershipTerm): Promise<boolean> {
    if (gate.round === null) return gate.updatesAllowed;
    if (this.#term !== term) return false; // leadership changed under this tick: touch nothing
    if (!gate.changed) {
      this.#round = gate.round;
      return gate.updatesAllowed;
    }
    let saved = false;
    if (term.isActive()) {
      try {
        saved = await this.#roundStore.save(gate.round, this.#cfg.schedule.expression, term.signal);
      } catch (err) {
        this.#log.warn({ err }, "could not persist the trigger-round state");
      }
    }
    if (!saved) {
      this.#round = undefined; // reload next tick
      return false;
    }
    this.#round = gate.round;
    for (const event of gate.events) {
      this.#log.info(
        { event, round: gate.round, nextFire: gate.opensAt?.toISOString() },
        `update round ${event}`,
      );
    }
    return gate.updatesAllowed;
  }

  #reportInvalid(
    invalid: readonly { name: string; resourceVersion: string | undefined; error: string }[],
  ): void {
    this.metrics.setInvalidShadows(invalid.length);
    const seen = new Set<string>();
    for (const i of invalid) {
      seen.add(i.name);
      if (this.#loggedInvalid.get(i.name) === i.resourceVersion) continue;
      this.#loggedInvalid.set(i.name, i.resourceVersion);
      this.#log.error(
        { shadow: i.name, resourceVersion: i.resourceVersion, error: i.error },
        "invalid shadow skipped",
      );
    }
    for (const name of this.#loggedInvalid.keys()) if (!seen.has(name)) this.#loggedInvalid.delete(name);
  }

  async #writeSpec(change: SpecChange, term: LeadershipTerm): Promise<SpecWriteOutcome> {
    const outcome = await this.#patchSpec(change, term);
    this.metrics.specWrite(outcome);
    return outcome;
  }

  async #patchSpec(change: SpecChange, term: LeadershipTerm): Promise<SpecWriteOutcome> {
    // Decided by a leader that is no longer one: drop it (the new leader re-decides).
    if (!term.isActive()) return "skipped_not_leader";
    if (change.resourceVersion === undefined) return "error";
    let res;
    try {
      // JSON Patch (keeps explicit nulls in spec). Setting metadata.resourceVersion makes the write
      // conditional: the API server answers 409 if the object changed since we decided.
      res = await this.#rest.request<RawShadow>("PATCH", `${this.#shadowPath}/${change.name}`, {
        body: [
          { op: "replace", path: "/metadata/resourceVersion", value: change.resourceVersion },
          { op: "add", path: "/spec", value: change.to },
        ],
        contentType: "application/json-patch+json",
        signal: term.signal,
        timeoutMs: 10_000,
      });
    } catch (err) {
      if (term.signal.aborted) return "skipped_not_leader";
      this.#log.warn({ err, shadow: change.name }, "spec write failed; re-deciding next tick");
      return "error";
    }
    if (res.status === 409) {
      this.#log.debug(
        { shadow: change.name, decidedOn: change.resourceVersion },
        "spec write conflict (stale view)",
      );
      return "conflict";
    }
    if (res.status === 404) return "not_found";
    if (res.status !== 200) {
      this.#log.warn({ shadow: change.name, status: res.status, body: res.body }, "spec write refused");
      return "error";
    }
    this.#view.noteFresh(stripManagedFields(res.body));
    this.#afterWrite(change, res.body);
    return "ok";
  }

  #afterWrite(change: SpecChange, written: RawShadow): void {
    if (change.reason === "start") this.metrics.updateStarted();
    else if (change.reason === "recover") this.metrics.updateFailed();
    else if (
      change.reason === "progress" &&
      change.from.state === "MonitoringUpdate" &&
      change.to.state === "Idle"
    )
      this.metrics.updateSucceeded();
    const message = describeChange(change);
    this.#log.info({ shadow: change.name, reason: change.reason, from: change.from, to: change.to }, message);
    // Bookkeeping, not a step of the update: no Event (one per finished node would only add noise).
    if (change.reason === "reset") return;
    const meta = written.metadata ?? {};
    this.#events.record({
      regarding: {
        apiVersion: API_VERSION_V2,
        kind: KIND,
        name: change.name,
        namespace: this.#cfg.namespace,
        ...(meta.uid !== undefined && { uid: meta.uid }),
        ...(meta.resourceVersion !== undefined && { resourceVersion: meta.resourceVersion }),
      },
      type: change.reason === "recover" ? "Warning" : "Normal",
      reason: EVENT_REASONS[change.reason],
      message,
      action: "SetSpec",
    });
    // The same on the Node (its owner), so `kubectl describe node` shows brupop's steps too.
    const owner = (
      meta["ownerReferences"] as { kind?: string; name?: string; uid?: string }[] | undefined
    )?.find((o) => o.kind === "Node" && typeof o.name === "string");
    if (owner?.name !== undefined) {
      this.#events.record({
        regarding: {
          apiVersion: "v1",
          kind: "Node",
          name: owner.name,
          ...(owner.uid !== undefined && { uid: owner.uid }),
        },
        type: change.reason === "recover" ? "Warning" : "Normal",
        reason: EVENT_REASONS[change.reason],
        message,
        action: "SetSpec",
      });
    }
  }

  async #deleteShadow(name: string, uid: string | undefined, term: LeadershipTerm): Promise<boolean> {
    if (!term.isActive()) return false;
    try {
      const res = await this.#rest.request("DELETE", `${this.#shadowPath}/${name}`, {
        body: {
          apiVersion: "v1",
          kind: "DeleteOptions",
          ...(uid !== undefined && { preconditions: { uid } }),
        },
        signal: term.signal,
        timeoutMs: 10_000,
      });
      if (res.status === 200 || res.status === 202) {
        this.metrics.shadowDelete("ok");
        this.#log.info({ shadow: name }, "node lost the updater-interface label; deleted its shadow");
        return true;
      }
      // 404: already gone; 409: a different object of that name (precondition failed).
      this.metrics.shadowDelete(res.status === 404 || res.status === 409 ? "gone" : "error");
      if (res.status !== 404 && res.status !== 409)
        this.#log.warn({ shadow: name, status: res.status }, "shadow delete refused");
    } catch (err) {
      this.metrics.shadowDelete("error");
      if (!term.signal.aborted) this.#log.warn({ err, shadow: name }, "shadow delete failed");
    }
    return false;
  }
}
