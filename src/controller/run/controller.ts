// The brupop controller runtime (SPEC §3): caches, the tick loop, leadership terms, the HTTP server,
// events and metrics around the tick (stages.ts) and the pure decisions it calls.
//
// One tick = the stages of stages.ts for the current leadership term (term.ts): fence once per term →
// publish settings → load the round state → rebuild the view from the caches → delete shadows of
// unlabelled nodes → evaluate the schedule gate → planTick → write each spec change conditionally on
// the resourceVersion it was decided on. Ticks run every tickIntervalMs, and earlier (debounced) when a
// cache event arrives (the shared Wakeup of runtime/loop.ts); never more than one at a time. Only the
// leader ticks; a standby keeps its caches warm so /healthz is green and a failover starts from a
// full view.
//
// Everything is injected (KubeApi, logger, clock, timers) and nothing is module-level, so many
// controllers can run in one process (tests, demo, benchmarks).
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { systemClock, systemTimers, type Clock, type Timers } from "../../clock.js";
import { EventRecorder, kubeEventSender, type EventSender } from "../../k8s/events.js";
import { CONTROLLER_EVENTS } from "../act/event-reasons.js";
import { Informer } from "../../k8s/informer.js";
import {
  KubeLeaseStore,
  LeaderElector,
  type LeadershipTerm,
  type LeaseStore,
} from "../../k8s/leader-election.js";
import type { KubeApi } from "../../k8s/api.js";
import { UPDATER_INTERFACE_LABEL, UPDATER_INTERFACE_VERSION } from "../../model/constants.js";
import { sleep, Wakeup } from "../../runtime/loop.js";
import type { ConcurrencyLimit, NodeLike } from "../decide/decisions.js";
import type { Explanation } from "../decide/explain.js";
import { explainDecision } from "../decide/fleet.js";
import { makeExtras, type ExtrasConfig } from "./extras.js";
import { BlockersPublisher } from "../act/blockers-publish.js";
import type { Notifier } from "../act/notify.js";
import { ControllerHttpServer } from "./http.js";
import { ControllerMetrics } from "../act/metrics.js";
import { DEFAULT_POLICY_NAME, NODE_PAUSED_ANNOTATION } from "../../model/policy.js";
import { PolicySource } from "../view/policy-source.js";
import { PolicyMetrics, type PolicyRuntime } from "../act/policy-stage.js";
import { ConfigMapRoundStore, DEFAULT_STATE_CONFIGMAP, type RoundStore } from "../act/round-store.js";
import type { UpdateSchedule } from "../decide/schedule.js";
import { runTick, type TickDeps, type TickReport } from "../act/stages.js";
import { Term } from "../act/term.js";
import { paths } from "../../k8s/objects.js";
import { ShadowView, type RawShadow } from "../view/view.js";

export { SETTINGS_RETRY_MS, type TickReport } from "../act/stages.js";

export const DEFAULT_TICK_INTERVAL_MS = 2_000;
export const DEFAULT_EVENT_DEBOUNCE_MS = 100;
export const DEFAULT_METRICS_PORT = 8080;
export const DEFAULT_LEASE_NAME = "brupop-controller-leader";
export const CONTROLLER_COMPONENT = "brupop-controller";

export interface LeaderElectionSettings {
  leaseName?: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface ControllerConfig extends ExtrasConfig {
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
  /** The UpdatePolicy honoured (docs/policy.md); default "default"; null: none is watched. */
  policyName?: string | null;
}

export interface ControllerDeps {
  /** The typed Kubernetes layer (src/k8s/api.ts): KubeRest in production, test/kit/fake-kube.ts in tests. */
  rest: KubeApi;
  logger: Logger;
  /** Clock for decisions (back-off, schedule, timestamps written into specs and events). */
  clock?: Clock;
  /** What the loops wait on (tick period, debounce, leader election, cache back-off); default real. */
  timers?: Timers;
  /** Overrides for tests: where the Lease, the round state and events go. */
  leaseStore?: LeaseStore;
  roundStore?: RoundStore;
  eventSender?: EventSender;
}

interface NodeMeta extends NodeLike {
  metadata?: {
    name?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
}

/** Keep only what the controller reads of a Node (a full Node object is 5-20 kB; 1 000 add up). */
function slimNode(node: NodeMeta): NodeMeta {
  const m = node.metadata ?? {};
  const metadata: NonNullable<NodeMeta["metadata"]> = {};
  if (m.name !== undefined) metadata.name = m.name;
  if (m.uid !== undefined) metadata.uid = m.uid;
  if (m.resourceVersion !== undefined) metadata.resourceVersion = m.resourceVersion;
  if (m.labels !== undefined) metadata.labels = m.labels;
  const paused = m.annotations?.[NODE_PAUSED_ANNOTATION];
  if (paused !== undefined) metadata.annotations = { [NODE_PAUSED_ANNOTATION]: paused };
  return { metadata };
}

export class Controller {
  readonly metrics: ControllerMetrics;
  readonly #cfg: Required<
    Omit<
      ControllerConfig,
      "controllerNodeName" | "http" | "leaderElection" | "policyName" | keyof ExtrasConfig
    >
  > &
    ControllerConfig;
  readonly #log: Logger;
  readonly #timers: Timers;
  readonly #identity: string;
  readonly #shadows: Informer<RawShadow>;
  readonly #nodes: Informer<NodeMeta>;
  readonly #policy: PolicyRuntime | undefined;
  readonly #elector: LeaderElector | undefined;
  /** The blocker verdicts for `brupop status` (only with blockers configured). */
  readonly #blockersOut: BlockersPublisher | undefined;
  /** What every tick reads and acts through (shared by all terms). */
  readonly #deps: TickDeps;
  /** The tick loop's sleep: cache events and new terms wake it early; stop() ends it. */
  readonly #wakeup: Wakeup;
  readonly #nodeLabelled = new Map<string, boolean>();
  #http: ControllerHttpServer | undefined;
  #port: number | undefined;
  /** The current leadership term; undefined while not leading. */
  #term: Term | undefined;
  /** Without leader election this instance leads from start() to stop(). */
  #soloTerm: AbortController | undefined;
  #started = false;
  #stopping = false;
  #loop: Promise<void> | undefined;
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
    const timers = deps.timers ?? systemTimers;
    this.#timers = timers;
    this.#wakeup = new Wakeup(timers);
    this.#identity = config.leaderElection?.identity ?? `${hostname()}_${randomUUID().slice(0, 8)}`;
    this.#log = deps.logger.child({ component: CONTROLLER_COMPONENT });
    this.metrics = new ControllerMetrics({ defaultMetrics: this.#cfg.defaultMetrics });
    const view = new ShadowView();
    this.#shadows = new Informer<RawShadow>({
      rest: deps.rest,
      path: paths.shadows(config.namespace),
      logger: this.#log,
      timers,
    });
    this.#nodes = new Informer<NodeMeta>({
      rest: deps.rest,
      path: "/api/v1/nodes",
      logger: this.#log,
      transform: slimNode,
      timers,
    });
    this.#shadows.on((type, raw) => {
      if (type === "delete") view.noteDeleted(raw);
      this.#schedule(this.#cfg.eventDebounceMs);
    });
    this.#nodes.on((type, node) => this.#onNodeEvent(type, node));
    const policyName = config.policyName === undefined ? DEFAULT_POLICY_NAME : config.policyName;
    this.#policy =
      policyName === null
        ? undefined
        : {
            source: new PolicySource({
              rest: deps.rest,
              name: policyName,
              logger: this.#log,
              timers,
              onChange: () => this.#schedule(this.#cfg.eventDebounceMs),
            }),
            metrics: new PolicyMetrics(this.metrics.registry),
          };
    this.#deps = { ...this.#makeTickDeps(config, deps, view), policy: this.#policy };
    this.#elector = this.#makeElector(config, deps);
    this.#blockersOut =
      this.#deps.blockers &&
      new BlockersPublisher({ api: deps.rest, namespace: config.namespace, logger: this.#log, timers });
  }

  /** What every tick reads and acts through. */
  #makeTickDeps(config: ControllerConfig, deps: ControllerDeps, view: ShadowView): TickDeps {
    const ns = config.namespace;
    const clock = deps.clock ?? systemClock;
    const timers = this.#timers;
    const tickDeps: TickDeps = {
      settings: {
        namespace: ns,
        maxConcurrent: config.maxConcurrent,
        schedule: config.schedule,
        controllerNodeName: config.controllerNodeName,
        identity: this.#identity,
        writeConcurrency: this.#cfg.writeConcurrency,
      },
      api: deps.rest,
      roundStore: deps.roundStore ?? new ConfigMapRoundStore(deps.rest, ns, this.#cfg.stateConfigMap),
      view,
      events: new EventRecorder({
        sender: deps.eventSender ?? kubeEventSender(deps.rest),
        catalogue: CONTROLLER_EVENTS,
        reporter: { controller: CONTROLLER_COMPONENT, instance: this.#identity },
        clock,
        logger: this.#log,
        registry: this.metrics.registry,
      }),
      metrics: this.metrics,
      log: this.#log,
      clock,
      timers,
      loggedInvalid: new Map(),
    };
    const extras = makeExtras(config, {
      ...tickDeps,
      api: deps.rest,
      namespace: ns,
      registry: this.metrics.registry,
    });
    return { ...tickDeps, ...extras };
  }

  /** The webhook notifier (undefined when none is configured); notify() queues one and returns. */
  get notifier(): Notifier | undefined {
    return this.#deps.notifier;
  }

  /** undefined without leader election (this instance always leads). */
  #makeElector(config: ControllerConfig, deps: ControllerDeps): LeaderElector | undefined {
    const le = config.leaderElection;
    if (le === null || le === undefined) return undefined;
    return new LeaderElector({
      store:
        deps.leaseStore ??
        new KubeLeaseStore(deps.rest, config.namespace, le.leaseName ?? DEFAULT_LEASE_NAME),
      identity: this.#identity,
      logger: this.#log,
      timers: this.#timers,
      ...(le.leaseDurationMs !== undefined && { leaseDurationMs: le.leaseDurationMs }),
      ...(le.renewDeadlineMs !== undefined && { renewDeadlineMs: le.renewDeadlineMs }),
      ...(le.retryPeriodMs !== undefined && { retryPeriodMs: le.retryPeriodMs }),
      onStartedLeading: (term) => this.#startedLeading(term),
      onStoppedLeading: () => this.#stoppedLeading(),
    });
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
    this.#policy?.source.start();
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
    this.#wakeup.stop();
    // Informers first: a loop still waiting for the first sync (API unreachable) is released by it.
    await Promise.all([this.#shadows.stop(), this.#nodes.stop(), this.#policy?.source.stop()]);
    await this.#loop;
    this.#deps.notifier?.close();
    const closed = new AbortController();
    await Promise.race([this.#deps.events.close(), sleep(2_000, closed.signal, this.#timers)]);
    closed.abort();
    await this.#http?.close();
    this.#log.info("controller stopped");
  }

  /** Why each node is (not) updating, as of the last tick (empty before the first leader tick). */
  explain(): Explanation[] {
    const last = this.#term?.last;
    if (last === undefined) return [];
    return explainDecision(last.shadows, last.fleet, {
      now: this.#deps.clock.now(),
      controllerNodeName: this.#cfg.controllerNodeName,
      blocked: this.#deps.blockers?.last,
      silent: this.#deps.silence?.last,
    });
  }

  /** Asks for a tick soon (tests; also what cache events do). */
  poke(): void {
    this.#schedule(0);
  }

  /**
   * One decision round. The loop calls it; tests and benchmarks may too. Calls are serialised: a
   * tick never starts while another is in flight.
   */
  tickOnce(): Promise<TickReport> {
    const run = this.#tickChain.then(async () => {
      const report = await runTick(this.#deps, this.#term, {
        synced: this.synced,
        shadows: () => this.#shadows.list(),
        nodes: () => this.#nodes.list(),
      });
      if (report.skipped === undefined) this.#ticks++;
      if (report.skipped === undefined) await this.#publishBlockers();
      return report;
    });
    this.#tickChain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** The tick's blocker verdicts for `brupop status` (blockers-publish.ts: written on change only). */
  async #publishBlockers(): Promise<void> {
    const term = this.#term;
    const verdicts = this.#deps.blockers?.last;
    if (term === undefined || verdicts === undefined) return;
    await this.#blockersOut?.publish(verdicts, { identity: this.#identity, term }, term.signal);
  }

  // ---- leadership -------------------------------------------------------------------------------

  #startedLeading(lease: LeadershipTerm): void {
    this.#term?.end();
    this.#term = new Term(lease, this.#deps.clock.now());
    this.metrics.setLeader(true);
    this.#schedule(0);
  }

  #stoppedLeading(): void {
    this.#term?.end();
    this.#term = undefined;
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
    this.#wakeup.wakeIn(delayMs);
  }

  async #run(): Promise<void> {
    await this.waitForSync();
    while (!this.#stopping) {
      await this.#wakeup.sleep(this.#cfg.tickIntervalMs);
      if (this.#stopping) break;
      try {
        await this.tickOnce();
      } catch (err) {
        this.#log.error({ err }, "tick failed; retrying next tick");
      }
    }
  }
}
