// The brupop apiserver: fastify over HTTPS, startable in-process (the demo and the e2e tests do) with
// an injected KubeConfig (or a ready backend), logger, TLS dir and port (0 = ephemeral).
import Fastify, { LogController } from "fastify";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { BrupopError } from "../errors.js";
import type { DrainOptions } from "./drain.js";
import type { NodeMarks } from "./node-marks.js";
import type { KubeAccess } from "../k8s/access.js";
import { KubeRest } from "../k8s/rest.js";
import { silentLogger } from "../log.js";
import { Authenticator, type AuthenticatorOptions } from "./authenticator.js";
import { createKubeBackend, type ApiserverBackend } from "./backend.js";
import { DEFAULT_DRAIN_TIMEOUT_SECONDS } from "./config.js";
import { toHttpError } from "./http-errors.js";
import { ApiserverMetrics } from "./metrics.js";
import { AGENT_BODY_LIMIT, registerRoutes, type ApiserverApp } from "./routes.js";
import { loadTlsPair, TlsReloader, type TlsPair } from "./tls.js";

export interface ApiserverOptions {
  namespace: string;
  /** Directory with tls.crt and tls.key (cert-manager's mount). */
  tlsDir: string;
  /** 0 = ephemeral (default). */
  port?: number;
  /** Default 127.0.0.1 (the CLI passes the bind-all address). */
  host?: string;
  logger?: Logger;
  /** Cluster access: a KubeConfig (or in-cluster KubeAccess), an existing KubeRest (to share its request counting), or a backend. */
  kubeConfig?: KubeAccess;
  rest?: KubeRest;
  backend?: ApiserverBackend;
  drain?: Omit<DrainOptions, "signal" | "logger" | "now" | "sleep">;
  /** Marks during an update (UPDATE_NODE_*): put on with the cordon, taken off with the uncordon. */
  marks?: NodeMarks;
  auth?: {
    cacheTtlMs?: number;
    negativeTtlMs?: number;
    cacheMaxEntries?: number;
    /** The anonymous lane's pool (its old name). */
    reviewBudget?: { capacity?: number; refillPerSecond?: number };
    /** Both lanes' budgets (see review-admission.ts). */
    admission?: AuthenticatorOptions["admission"];
  };
  /** Deadline of every route but cordon-and-drain (default 30 s). */
  requestTimeoutMs?: number;
  tls?: { debounceMs?: number; pollIntervalMs?: number };
  /** Connection limits (defaults: HTTP_LIMITS). */
  http?: Partial<HttpLimits>;
  /** Node.js process metrics on /metrics too (the CLI turns them on; off for in-process servers). */
  processMetrics?: boolean;
}

const DRAIN_ROUTE_MARGIN_MS = 30_000;

export interface HttpLimits {
  /** A TLS handshake must finish within this (Node's default: 120 s). */
  handshakeTimeoutMs: number;
  /** The request's headers must all arrive within this (slow-header guard; Node's default: 60 s). */
  headersTimeoutMs: number;
  /** The whole request (headers and body) must arrive within this; answering may take longer. */
  receiveTimeoutMs: number;
  /** A kept-alive connection with no request in flight is closed after this. */
  keepAliveTimeoutMs: number;
  /** How often Node checks the two timeouts above (Node's default: 30 s, so cuts came 30-60 s late). */
  checkIntervalMs: number;
}

export const HTTP_LIMITS: HttpLimits = {
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  receiveTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  checkIntervalMs: 1_000,
};

function retryAfterSeconds(err: unknown): number {
  const ms = err instanceof BrupopError ? err.details.retryAfterMs : undefined;
  return typeof ms === "number" && ms > 0 ? Math.ceil(ms / 1000) : 1;
}

function drainTimeoutOf(opts: Pick<ApiserverOptions, "drain">): number {
  return opts.drain?.timeoutMs ?? DEFAULT_DRAIN_TIMEOUT_SECONDS * 1000;
}

/** The backend to use, and the KubeRest we created for it (ours to close). */
function backendFor(
  opts: ApiserverOptions,
  logger: Logger,
): { backend: ApiserverBackend; ownedRest: KubeRest | undefined } {
  if (opts.backend !== undefined) return { backend: opts.backend, ownedRest: undefined };
  let ownedRest: KubeRest | undefined;
  let rest = opts.rest;
  if (rest === undefined) {
    if (opts.kubeConfig === undefined) {
      throw new BrupopError("BRUPOP_E_CONFIG", "apiserver: one of kubeConfig, rest or backend is required");
    }
    rest = ownedRest = new KubeRest(opts.kubeConfig);
  }
  const backend = createKubeBackend({
    rest,
    namespace: opts.namespace,
    logger,
    drain: { ...opts.drain, timeoutMs: drainTimeoutOf(opts) },
    ...(opts.marks !== undefined && { marks: opts.marks }),
  });
  return { backend, ownedRest };
}

/** What buildApiserverApp makes: the fastify app with every route and hook, not listening. */
export interface ApiserverAppParts {
  app: ApiserverApp;
  metrics: ApiserverMetrics;
  authenticator: Authenticator;
  closing: AbortController;
  shutdown: { started: boolean };
}

/**
 * The apiserver's fastify app (routes, hooks, error shapes, limits) over `backend`, serving `pair`,
 * without listening: `start` listens on it; tests of routes and bodies call `app.inject()`.
 */
export function buildApiserverApp(
  opts: Omit<ApiserverOptions, "tlsDir" | "backend"> & { backend: ApiserverBackend },
  pair: TlsPair,
): ApiserverAppParts {
  const logger = opts.logger ?? silentLogger();
  const backend = opts.backend;
  const metrics = new ApiserverMetrics({ processMetrics: opts.processMetrics });
  const authenticator = new Authenticator({
    backend: backend.auth,
    namespace: opts.namespace,
    ...opts.auth,
    logger,
    onReview: (outcome) => metrics.observeReview(outcome),
    onAdmission: (lane, result) => metrics.observeAdmission(lane, result),
  });
  const closing = new AbortController();
  const shutdown = { started: false };
  const limits: HttpLimits = { ...HTTP_LIMITS, ...opts.http };
  const app = Fastify({
    https: {
      cert: pair.cert,
      key: pair.key,
      handshakeTimeout: limits.handshakeTimeoutMs,
      // Read by Node's http server from the options (fastify does not set these two itself).
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.receiveTimeoutMs),
      connectionsCheckingInterval: limits.checkIntervalMs,
    },
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: AGENT_BODY_LIMIT,
    // Time to receive a whole request (not to answer it): slow-loris guard.
    requestTimeout: limits.receiveTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Refuse requests on kept-alive connections once closing (503), close idle ones at once.
    return503OnClosing: true,
    forceCloseConnections: "idle",
  });
  app.setErrorHandler((err, request, reply) => {
    const http = toHttpError(err);
    if (http.internal) request.log.error({ err, url: request.url }, "request failed");
    if (http.status === 429) void reply.header("retry-after", String(retryAfterSeconds(err)));
    void reply.code(http.status).send(http.body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .send({ code: "BRUPOP_E_NOT_FOUND", message: `no route ${request.method} ${request.url}` });
  });
  app.addHook("onResponse", (request, reply, done) => {
    metrics.observeRequest(
      request.routeOptions.url ?? "unmatched",
      request.method,
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });
  // Once closing, answers tell keep-alive clients to reconnect (to another replica) instead of
  // holding the connection, which would keep close() waiting.
  app.addHook("onSend", (_request, reply, payload, done) => {
    if (closing.signal.aborted || shutdown.started) void reply.header("connection", "close");
    done(null, payload);
  });
  registerRoutes(app, {
    backend,
    authenticator,
    metrics,
    closing: closing.signal,
    requestTimeoutMs: opts.requestTimeoutMs ?? 30_000,
    drainRouteTimeoutMs: drainTimeoutOf(opts) + DRAIN_ROUTE_MARGIN_MS,
  });
  return { app, metrics, authenticator, closing, shutdown };
}

export class Apiserver {
  readonly metrics: ApiserverMetrics;
  readonly authenticator: Authenticator;
  readonly #app: ApiserverApp;
  readonly #backend: ApiserverBackend;
  readonly #tls: TlsReloader;
  readonly #closing: AbortController;
  readonly #shutdown: { started: boolean };
  readonly #ownedRest: KubeRest | undefined;
  readonly #logger: Logger;
  #closed: Promise<void> | undefined;

  private constructor(
    app: ApiserverApp,
    parts: {
      backend: ApiserverBackend;
      tls: TlsReloader;
      metrics: ApiserverMetrics;
      authenticator: Authenticator;
      ownedRest: KubeRest | undefined;
      logger: Logger;
      closing: AbortController;
      shutdown: { started: boolean };
    },
  ) {
    this.#app = app;
    this.#backend = parts.backend;
    this.#tls = parts.tls;
    this.metrics = parts.metrics;
    this.authenticator = parts.authenticator;
    this.#ownedRest = parts.ownedRest;
    this.#logger = parts.logger;
    this.#closing = parts.closing;
    this.#shutdown = parts.shutdown;
  }

  static async start(opts: ApiserverOptions): Promise<Apiserver> {
    const logger = opts.logger ?? silentLogger();
    const pair = await loadTlsPair(opts.tlsDir);
    const { backend, ownedRest } = backendFor(opts, logger);
    const { app, metrics, authenticator, closing, shutdown } = buildApiserverApp(
      { ...opts, logger, backend },
      pair,
    );

    const tls = new TlsReloader({
      dir: opts.tlsDir,
      logger,
      initial: pair,
      debounceMs: opts.tls?.debounceMs,
      pollIntervalMs: opts.tls?.pollIntervalMs,
      apply: (next) => app.server.setSecureContext({ cert: next.cert, key: next.key }),
      onReload: (result) => metrics.tlsReloads.inc({ result }),
    });

    backend.start();
    try {
      await app.listen({ port: opts.port ?? 0, host: opts.host ?? "127.0.0.1" });
    } catch (err) {
      await backend.stop();
      ownedRest?.close();
      throw err;
    }
    tls.start();
    const server = new Apiserver(app, {
      backend,
      tls,
      metrics,
      authenticator,
      ownedRest,
      logger,
      closing,
      shutdown,
    });
    logger.info({ port: server.port, namespace: opts.namespace }, "brupop apiserver listening");
    return server;
  }

  get port(): number {
    return (this.#app.server.address() as AddressInfo).port;
  }

  /** https://127.0.0.1:<port> (loopback, for tests and the demo). */
  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** Re-reads the TLS dir now (tests; the watcher does this by itself). */
  reloadTls(): Promise<boolean> {
    return this.#tls.reload();
  }

  get tlsGeneration(): number {
    return this.#tls.generation;
  }

  /**
   * Graceful stop: no new connections, in-flight requests may finish for `graceMs`; after that
   * their work is aborted (agents retry against another replica: every route is idempotent).
   */
  close(graceMs = 25_000): Promise<void> {
    this.#closed ??= this.#close(graceMs);
    return this.#closed;
  }

  async #close(graceMs: number): Promise<void> {
    this.#shutdown.started = true;
    this.#tls.stop();
    const timer = setTimeout(() => {
      this.#logger.warn("shutdown grace period over; aborting in-flight requests");
      this.#closing.abort();
      // Let the aborted requests answer, then cut whatever is left.
      setTimeout(() => this.#app.server.closeAllConnections(), 1_000).unref();
    }, graceMs);
    timer.unref();
    try {
      await this.#app.close();
    } finally {
      clearTimeout(timer);
      await this.#backend.stop();
      this.#ownedRest?.close();
    }
  }
}
