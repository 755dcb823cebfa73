// The set-up the e2e files share: one real control plane per file (`E2eCluster`: the cluster, an
// admin connection, the cluster's logs on a failure, per-scenario cleanups) and, for the controller
// files, testbeds (in-process apiserver, simulated hosts, in-process agents) and controllers made
// for a scenario and stopped after it (`E2eScenarios`). A file writes
//
//   const e2e = new E2eScenarios({ timings: FAST, to: "1.20.0" });
//   before(() => e2e.start());
//   after(() => e2e.stop());
//   it("...", e2e.run(async () => { const tb = await e2e.testbed("ns"); ... e2e.controller(tb, {}) }));
import assert from "node:assert/strict";
import type { Logger } from "pino";
import type { Clock } from "../../src/clock.js";
import { Controller, type ControllerTuning } from "../../src/controller/run/controller.js";
import { inProcessSettings, type ControllerSettings } from "../../src/controller/run/settings.js";
import { parseSchedule } from "../../src/controller/decide/schedule.js";
import { createLogger, silentLogger } from "../../src/log.js";
import { startCluster, type StartClusterOptions, type TestCluster } from "../../kit/testenv/cluster.js";
import { RawKubeRest } from "../../kit/testenv/raw-rest.js";
import { BrupopTestbed, type TestbedOptions } from "./testbed.js";

/** Debug logs of the product under test with BRUPOP_E2E_LOG=1, else none. */
export const e2eLogger: Logger =
  process.env["BRUPOP_E2E_LOG"] === "1" ? createLogger({ level: "debug", name: "e2e" }) : silentLogger();

export const elapsed = (t0: number): string => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

export interface E2eClusterOptions {
  /** Lines of each component's log printed when a scenario fails (default 30). */
  dumpLines?: number;
  /** Print each scenario's duration. */
  timed?: boolean;
  /** How the file's control plane starts. */
  cluster?: StartClusterOptions;
  /** Name printed with the cluster's start-up time (none when unset). */
  name?: string;
}

type Cleanup = () => unknown;

/** One real control plane for a file: its admin connection, logs on failure, scenario cleanups. */
export class E2eCluster {
  readonly #co: E2eClusterOptions;
  #cluster: TestCluster | undefined;
  #rest: RawKubeRest | undefined;
  readonly #cleanups: Cleanup[] = [];

  constructor(opts: E2eClusterOptions = {}) {
    this.#co = opts;
  }

  get cluster(): TestCluster {
    if (this.#cluster === undefined) throw new Error("e2e: start() first");
    return this.#cluster;
  }

  /** The file's admin connection to kube-apiserver (closed by stop()). */
  get rest(): RawKubeRest {
    this.#rest ??= new RawKubeRest(this.cluster.kubeConfig);
    return this.#rest;
  }

  /** For before(): the file's control plane. */
  async start(): Promise<TestCluster> {
    const t0 = performance.now();
    this.#cluster = await startCluster(this.#co.cluster);
    if (this.#co.name !== undefined)
      process.stderr.write(`${this.#co.name}: cluster ready in ${elapsed(t0)}\n`);
    return this.#cluster;
  }

  /** For after(): runs what is still registered, then stops the control plane. */
  async stop(): Promise<void> {
    await this.#runCleanups();
    this.#rest?.close();
    await this.#cluster?.stop();
  }

  /** Runs after the current scenario (or at stop()), last registered first. */
  cleanup(fn: Cleanup): void {
    this.#cleanups.push(fn);
  }

  /** The cluster's logs on stderr (what a failed scenario prints). */
  async dumpLogs(): Promise<void> {
    process.stderr.write(`\n${await this.cluster.dumpLogs(this.#co.dumpLines ?? 30)}\n`);
  }

  /** `fn` with the cluster's logs on failure (a before() that sets up what several tests read). */
  withLogs(fn: () => Promise<void>): () => Promise<void> {
    return async () => {
      try {
        await fn();
      } catch (err) {
        await this.dumpLogs();
        throw err;
      }
    };
  }

  /** One scenario: the cluster's logs on failure, then its cleanups whatever happened. */
  run(fn: () => Promise<void>): () => Promise<void> {
    return async () => {
      const t0 = performance.now();
      try {
        await fn();
        this.checkScenario();
      } catch (err) {
        await this.dumpLogs();
        throw err;
      } finally {
        await this.#runCleanups();
        this.endScenario();
        if (this.#co.timed === true) process.stderr.write(`  scenario took ${elapsed(t0)}\n`);
      }
    };
  }

  /** Asserts what every scenario must leave true (after a scenario that passed). */
  protected checkScenario(): void {}

  /** Forgets the scenario's state (after its cleanups). */
  protected endScenario(): void {}

  async #runCleanups(): Promise<void> {
    for (const c of this.#cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
  }
}

/** How fast the simulated hosts, the agents and the controller move. */
export interface E2eTimings {
  tickMs: number;
  hostDurations: TestbedOptions["hostDurations"];
  agentTimings: TestbedOptions["agentTimings"];
}

export interface E2eOptions extends E2eClusterOptions {
  timings: E2eTimings;
  /** The release the testbeds offer. */
  to: string;
  /** Fail a scenario whose testbeds saw reboot-handling errors. */
  checkTestbeds?: boolean;
  /** The controllers' maxConcurrent unless a scenario says otherwise (default 1). */
  maxConcurrent?: number;
}

/** The controller's own collaborators, when a scenario gives them. */
export interface ControllerDepsOverride {
  clock?: Clock;
  /** Its connection (default: a new one, like a separate pod), closed after the scenario. */
  rest?: RawKubeRest;
}

/** The controller files' scenarios: testbeds and controllers on the file's control plane. */
export class E2eScenarios extends E2eCluster {
  readonly #o: E2eOptions;
  readonly #testbeds: BrupopTestbed[] = [];

  constructor(opts: E2eOptions) {
    super(opts);
    this.#o = opts;
  }

  protected override checkScenario(): void {
    if (this.#o.checkTestbeds === true)
      for (const tb of this.#testbeds) assert.deepEqual(tb.errors, [], "testbed reboot handling");
  }

  protected override endScenario(): void {
    this.#testbeds.splice(0);
  }

  /** A testbed in namespace `ns` offering the release `to`, stopped after the scenario. */
  async testbed(ns: string, opts: Partial<TestbedOptions> = {}): Promise<BrupopTestbed> {
    const tb = await BrupopTestbed.start({
      cluster: this.cluster,
      namespace: ns,
      releases: [{ version: this.#o.to }],
      hostDurations: this.#o.timings.hostDurations,
      agentTimings: this.#o.timings.agentTimings,
      logger: e2eLogger,
      ...opts,
    });
    this.#testbeds.push(tb);
    this.cleanup(() => tb.stop());
    return tb;
  }

  /**
   * n nodes on `version` (default `from`) with running agents; resolves once every agent has
   * created its shadow and reported the release its host offers (`target`, default `to`), so a
   * controller sees the whole fleet at once.
   */
  async offered(
    tb: BrupopTestbed,
    prefix: string,
    n: number,
    opts: { version: string; target?: string; labels?: Record<string, string> },
  ): Promise<string[]> {
    const nodes = await tb.addNodes(n, { version: opts.version, namePrefix: prefix, labels: opts.labels });
    const target = opts.target ?? this.#o.to;
    await tb.waitForAll(
      nodes,
      `Idle, offered ${target}`,
      (s) => s.current_state === "Idle" && s.target_version === target,
      30_000,
    );
    return nodes;
  }

  /**
   * A controller for `tb` on its own connection (not started): any schedule, `maxConcurrent` nodes
   * at a time, no HTTP server, no election, unless `settings` and `tuning` say otherwise; stopped
   * after the scenario.
   */
  controller(
    tb: BrupopTestbed,
    settings: Partial<ControllerSettings> = {},
    deps: ControllerDepsOverride = {},
    tuning: ControllerTuning = {},
  ): Controller {
    const { clock } = deps;
    const rest = deps.rest ?? new RawKubeRest(this.cluster.kubeConfig);
    const c = new Controller(
      inProcessSettings({
        namespace: tb.namespace,
        maxConcurrent: this.#o.maxConcurrent ?? 1,
        schedule: parseSchedule("* * * * * * *", clock?.now() ?? new Date()),
        tickIntervalMs: this.#o.timings.tickMs,
        ...settings,
      }),
      { rest, logger: e2eLogger, ...(clock && { clock }) },
      { eventDebounceMs: 50, http: null, ...tuning },
    );
    this.cleanup(async () => {
      await c.stop();
      rest.close();
    });
    return c;
  }
}
