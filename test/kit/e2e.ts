// The set-up the controller e2e files share: one real control plane per file, testbeds (in-process
// apiserver, simulated hosts, in-process agents) and controllers made for a scenario and stopped after
// it, the cluster's logs on a failure. A file writes
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
import { startCluster, type TestCluster } from "../../kit/testenv/cluster.js";
import { RawKubeRest } from "../../kit/testenv/raw-rest.js";
import { BrupopTestbed, type TestbedOptions } from "./testbed.js";

/** Debug logs of the product under test with BRUPOP_E2E_LOG=1, else none. */
export const e2eLogger: Logger =
  process.env["BRUPOP_E2E_LOG"] === "1" ? createLogger({ level: "debug", name: "e2e" }) : silentLogger();

export const elapsed = (t0: number): string => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

/** How fast the simulated hosts, the agents and the controller move. */
export interface E2eTimings {
  tickMs: number;
  hostDurations: TestbedOptions["hostDurations"];
  agentTimings: TestbedOptions["agentTimings"];
}

export interface E2eOptions {
  timings: E2eTimings;
  /** The release the testbeds offer. */
  to: string;
  /** Lines of each component's log printed when a scenario fails (default 30). */
  dumpLines?: number;
  /** Print each scenario's duration. */
  timed?: boolean;
  /** Fail a scenario whose testbeds saw reboot-handling errors. */
  checkTestbeds?: boolean;
}

type Cleanup = () => unknown;

export class E2eScenarios {
  readonly #o: E2eOptions;
  #cluster: TestCluster | undefined;
  readonly #cleanups: Cleanup[] = [];
  readonly #testbeds: BrupopTestbed[] = [];

  constructor(opts: E2eOptions) {
    this.#o = opts;
  }

  get cluster(): TestCluster {
    if (this.#cluster === undefined) throw new Error("e2e: start() first");
    return this.#cluster;
  }

  /** For before(): the file's control plane. */
  async start(): Promise<TestCluster> {
    this.#cluster = await startCluster();
    return this.#cluster;
  }

  /** For after(). */
  async stop(): Promise<void> {
    await this.#cluster?.stop();
  }

  /** Runs after the current scenario, last registered first. */
  cleanup(fn: Cleanup): void {
    this.#cleanups.push(fn);
  }

  /** One scenario: the cluster's logs on failure, then its cleanups whatever happened. */
  run(fn: () => Promise<void>): () => Promise<void> {
    return async () => {
      const t0 = performance.now();
      try {
        await fn();
        if (this.#o.checkTestbeds === true)
          for (const tb of this.#testbeds) assert.deepEqual(tb.errors, [], "testbed reboot handling");
      } catch (err) {
        process.stderr.write(`\n${await this.cluster.dumpLogs(this.#o.dumpLines ?? 30)}\n`);
        throw err;
      } finally {
        for (const c of this.#cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
        this.#testbeds.splice(0);
        if (this.#o.timed === true) process.stderr.write(`  scenario took ${elapsed(t0)}\n`);
      }
    };
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
   * A controller for `tb` on its own connection (not started): any schedule, one node at a time, no
   * HTTP server, no election, unless `config` says otherwise; stopped after the scenario.
   */
  controller(
    tb: BrupopTestbed,
    settings: Partial<ControllerSettings> = {},
    clock?: Clock,
    tuning: ControllerTuning = {},
  ): Controller {
    const rest = new RawKubeRest(this.cluster.kubeConfig);
    const c = new Controller(
      inProcessSettings({
        namespace: tb.namespace,
        maxConcurrent: 1,
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
