// The pieces of one chaos run that faults act on: the testbed (agents, simulated hosts, brupop's
// apiserver), the controller replicas, the decision clock. Owns the replicas and the apiserver
// replacements it starts, and stops them in stop().
import { dirname } from "node:path";
import type { Clock } from "../../src/clock.js";
import { Apiserver } from "../../src/apiserver/server.js";
import { Controller } from "../../src/controller/run/controller.js";
import { parseSchedule } from "../../src/controller/decide/schedule.js";
import type { RequestOptions, RestResponse } from "../../src/k8s/api.js";
import { KubeRest } from "../../src/k8s/rest.js";
import type { KubeAccess } from "../../src/k8s/access.js";
import { silentLogger, type Logger } from "../../src/log.js";
import { PLURAL } from "../../src/model/constants.js";
import type { BrupopTestbed } from "../testbed/testbed.js";
import type { CutProxy } from "../testenv/cut-proxy.js";
import type { WriteEvent } from "./history.js";
import { now } from "./observer.js";

/** Real time plus an offset that only grows: the controllers' decision clock under "clock-step". */
export class SteppableClock implements Clock {
  #offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.#offsetMs);
  }
  advance(ms: number): void {
    if (ms < 0) throw new RangeError("the chaos clock only steps forward");
    this.#offsetMs += ms;
  }
  get offsetMs(): number {
    return this.#offsetMs;
  }
}

/**
 * A replica's own connection, which notes every spec write it sends and its answer: what the replica
 * did on the wire, not what it says it did.
 */
export class RecordingRest extends KubeRest {
  constructor(
    kc: KubeAccess,
    readonly replica: string,
    readonly onWrite: (e: WriteEvent) => void,
  ) {
    super(kc);
  }

  override async request<T = unknown>(
    method: string,
    path: string,
    opts: RequestOptions = {},
  ): Promise<RestResponse<T>> {
    const isSpecWrite =
      (method === "PATCH" || method === "PUT") && path.includes(`/${PLURAL}/`) && !path.endsWith("/status");
    const start = now();
    const res = await super.request<T>(method, path, opts);
    if (isSpecWrite) {
      this.onWrite({
        t: now(),
        kind: "write",
        replica: this.replica,
        start,
        method,
        path,
        status: res.status,
      });
    }
    return res;
  }
}

/** The cluster's access with another server URL (a CutProxy in front of kube-apiserver). */
export function accessVia(kc: KubeAccess, server: string): KubeAccess {
  return {
    getCurrentCluster: () => ({ server }),
    applyToHTTPSOptions: (opts) => kc.applyToHTTPSOptions(opts),
  };
}

export interface WorldOptions {
  testbed: BrupopTestbed;
  /** In front of kube-apiserver for the controllers and the replacement apiservers ("cut-connections"). */
  proxy?: CutProxy;
  /** In front of kube-apiserver for the agents' watches ("cut-agent-connections"). */
  agentProxy?: CutProxy;
  maxConcurrent: number;
  policyName: string;
  leaseName: string;
  replicas: number;
  onWrite: (e: WriteEvent) => void;
  logger?: Logger;
  tickIntervalMs?: number;
  drain?: { retryIntervalMs?: number; pollIntervalMs?: number; timeoutMs?: number };
}

interface Replica {
  identity: string;
  controller: Controller | undefined;
  rest: KubeRest | undefined;
}

export class ChaosWorld {
  readonly testbed: BrupopTestbed;
  readonly clock = new SteppableClock();
  readonly #opts: WorldOptions;
  readonly #replicas: Replica[];
  /** The apiserver agents talk to (the testbed's, then each replacement). */
  #apiserver: Apiserver;
  #apiserverDown = false;
  /** Its port, kept for the replacements (a closed server has no address). */
  readonly #apiserverPort: number;
  readonly #logger: Logger;

  constructor(opts: WorldOptions) {
    this.#opts = opts;
    this.testbed = opts.testbed;
    this.#apiserver = opts.testbed.apiserver;
    this.#apiserverPort = opts.testbed.apiserver.port;
    this.#logger = opts.logger ?? silentLogger();
    this.#replicas = Array.from({ length: opts.replicas }, (_, i) => ({
      identity: `r${i}`,
      controller: undefined,
      rest: undefined,
    }));
  }

  get replicaCount(): number {
    return this.#replicas.length;
  }

  /** Starts (or restarts) a replica with the same identity, like a restarted pod. */
  async startController(i: number): Promise<void> {
    const r = this.#replicas[i];
    if (r === undefined || r.controller !== undefined) return;
    const rest = new RecordingRest(this.#access(), r.identity, this.#opts.onWrite);
    const c = new Controller(
      {
        namespace: this.testbed.namespace,
        maxConcurrent: this.#opts.maxConcurrent,
        schedule: parseSchedule("* * * * * * *", this.clock.now()),
        tickIntervalMs: this.#opts.tickIntervalMs ?? 500,
        eventDebounceMs: 50,
        http: null,
        leaderElection: {
          leaseName: this.#opts.leaseName,
          identity: r.identity,
          leaseDurationMs: 4_000,
          renewDeadlineMs: 3_000,
          retryPeriodMs: 1_000,
        },
        policyName: this.#opts.policyName,
      },
      {
        rest,
        logger: this.#logger.child({ component: "controller", replica: r.identity }),
        clock: this.clock,
      },
    );
    r.controller = c;
    r.rest = rest;
    await c.start();
  }

  /** Stops a replica as a crash would: the lease is left held. */
  async killController(i: number): Promise<boolean> {
    const r = this.#replicas[i];
    if (r?.controller === undefined) return false;
    const c = r.controller;
    r.controller = undefined;
    await c.stop({ releaseLease: false });
    r.rest?.close();
    return true;
  }

  /** How the controllers and the replacement apiservers reach kube-apiserver. */
  #access(): KubeAccess {
    const kc = this.testbed.cluster.kubeConfig;
    const proxy = this.#opts.proxy;
    return proxy === undefined ? kc : accessVia(kc, `https://127.0.0.1:${proxy.port}`);
  }

  /** Resets every connection through the proxy; how many (0 without a proxy). */
  cutConnections(): number {
    return this.#opts.proxy?.cutAll() ?? 0;
  }

  /** Resets every agent connection to kube-apiserver; how many (0 without an agent proxy). */
  cutAgentConnections(): number {
    return this.#opts.agentProxy?.cutAll() ?? 0;
  }

  controllerUp(i: number): boolean {
    return this.#replicas[i]?.controller !== undefined;
  }

  get leaders(): string[] {
    return this.#replicas.filter((r) => r.controller?.isLeader === true).map((r) => r.identity);
  }

  async killApiserver(): Promise<boolean> {
    if (this.#apiserverDown) return false;
    this.#apiserverDown = true;
    await this.#apiserver.close(0);
    return true;
  }

  /** A new brupop apiserver on the same port and certificate (agents keep their URL). */
  async restartApiserver(): Promise<void> {
    if (!this.#apiserverDown) return;
    this.#apiserver = await Apiserver.start({
      kubeConfig: this.#access(),
      namespace: this.testbed.namespace,
      tlsDir: dirname(this.testbed.caPath),
      port: this.#apiserverPort,
      logger: this.#logger.child({ component: "apiserver" }),
      drain: { retryIntervalMs: 500, pollIntervalMs: 100, timeoutMs: 120_000, ...this.#opts.drain },
    });
    this.#apiserverDown = false;
  }

  get apiserverDown(): boolean {
    return this.#apiserverDown;
  }

  async stop(): Promise<void> {
    for (let i = 0; i < this.#replicas.length; i++) await this.killController(i);
    if (this.#apiserver !== this.testbed.apiserver) await this.#apiserver.close(1_000);
  }
}
