// The agent's client for the brupop apiserver. It sends the three identity headers on every call,
// re-reads the projected service-account token each time (kubelet rotates it), keeps connections
// alive, and retries with jittered backoff where that is safe: every route is idempotent on the
// server, so a retry is safe whenever the failure says "try again" (connection refused or reset,
// 429, 502, 503, 504) — never on a 4xx answer, which would fail again the same way.
import { readFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { setTimeout as sleepTimer } from "node:timers/promises";
import type { Logger } from "pino";
import { BrupopError, type ErrorCode } from "../errors.js";
import { exchange, jsonPayload, parseBody } from "../http/core.js";
import type { ShadowStatus } from "../model/shadow.js";
import { HEADER_NODE_NAME, HEADER_NODE_UID, HEADER_TOKEN } from "./authz.js";
import {
  CORDON_AND_DRAIN_PATH,
  CORDON_PATH,
  EXCLUDE_FROM_LB_PATH,
  NODE_RESOURCE_PATH,
  REMOVE_EXCLUSION_FROM_LB_PATH,
  UNCORDON_PATH,
} from "./routes.js";

/** What the agent needs from the apiserver (inject a fake in agent tests). */
export interface BrupopApiserverApi {
  /** Creates this node's shadow; fine if it already exists. */
  createShadow(): Promise<void>;
  updateStatus(status: ShadowStatus): Promise<void>;
  cordonAndDrain(): Promise<void>;
  /** Cordon only (quarantine after a failure on the new version); 404 from upstream's apiserver. */
  cordon(): Promise<void>;
  uncordon(): Promise<void>;
  excludeFromLb(): Promise<void>;
  removeExclusionFromLb(): Promise<void>;
}

export const AGENT_TOKEN_PATH = "/var/run/secrets/tokens/bottlerocket-agent-service-account-token";

/** A token provider that re-reads the projected token file on every call (rotation-safe). */
export function tokenFileProvider(path: string = AGENT_TOKEN_PATH): () => Promise<string> {
  return async () => (await readFile(path, "utf8")).trim();
}

/** A failed apiserver call. `httpStatus` is undefined when no HTTP answer arrived. */
export class ApiserverCallError extends BrupopError {
  readonly httpStatus: number | undefined;
  /** The server's catalogue code (`BRUPOP_E_FORBIDDEN`, ...), when it answered with one. */
  readonly remoteCode: ErrorCode | undefined;
  readonly retryable: boolean;

  constructor(
    message: string,
    opts: { httpStatus?: number; remoteCode?: ErrorCode; retryable: boolean; cause?: unknown },
  ) {
    super(
      "BRUPOP_E_APISERVER_CALL",
      message,
      { httpStatus: opts.httpStatus, remoteCode: opts.remoteCode },
      { cause: opts.cause },
    );
    this.name = "ApiserverCallError";
    this.httpStatus = opts.httpStatus;
    this.remoteCode = opts.remoteCode;
    this.retryable = opts.retryable;
  }
}

const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);
const RETRYABLE_NET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "ENOTFOUND",
  "UND_ERR_SOCKET",
]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Maps an HTTP answer to undefined (success) or a typed error (pure). */
export function errorForResponse(
  what: string,
  status: number,
  body: unknown,
): ApiserverCallError | undefined {
  if (status >= 200 && status < 300) return undefined;
  const remote =
    isRecord(body) && typeof body.code === "string" && body.code.startsWith("BRUPOP_E_") ? body : undefined;
  const message =
    remote !== undefined && typeof remote.message === "string" ? remote.message : `HTTP ${status}`;
  return new ApiserverCallError(`${what}: ${message}`, {
    httpStatus: status,
    remoteCode: remote?.code as ErrorCode | undefined,
    retryable: RETRYABLE_STATUSES.has(status),
  });
}

/** Maps a transport failure (no HTTP answer) to a typed error (pure). */
export function errorForNetworkFailure(what: string, err: unknown): ApiserverCallError {
  const code = isRecord(err) && typeof err.code === "string" ? err.code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  const timedOut = err instanceof Error && err.name === "TimeoutError";
  return new ApiserverCallError(`${what}: ${message}`, {
    retryable: timedOut || (code !== undefined && RETRYABLE_NET_CODES.has(code)),
    cause: err,
  });
}

export interface ApiserverClientOptions {
  /** e.g. https://brupop-apiserver.brupop-bottlerocket-aws.svc.cluster.local:443 */
  baseUrl: string;
  /**
   * Connect to this address instead of resolving baseUrl's host (the Service's cluster IP, so the
   * agent needs no cluster DNS). TLS still checks the certificate for baseUrl's host name, sent as
   * SNI, and the Host header stays baseUrl's.
   */
  connectTo?: { host: string; port: number };
  /**
   * The local address to connect from (the kernel's choice when omitted). The bench gives each
   * simulated agent its own loopback address, as each real agent has its own pod IP: the apiserver
   * budgets unknown tokens' reviews per source address.
   */
  localAddress?: string;
  /** CA that signed the server certificate (the mount's ca.crt); the system CAs when omitted. */
  caPem?: string | Buffer;
  nodeName: string;
  nodeUid: string;
  /** Called before every request: return the current token (see tokenFileProvider). */
  token: () => string | Promise<string>;
  logger?: Logger;
  /** Attempts per call, first included (default 4). */
  attempts?: number;
  /** First retry delay; doubles each time, jittered, capped at maxDelayMs (defaults 250 ms / 5 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per-request timeout (default 30 s); cordon-and-drain uses drainTimeoutMs (default 11 min). */
  timeoutMs?: number;
  drainTimeoutMs?: number;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
}

interface Answer {
  status: number;
  body: unknown;
}

export class ApiserverClient implements BrupopApiserverApi {
  readonly #opts: ApiserverClientOptions;
  readonly #base: URL;
  readonly #agent: http.Agent;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(opts: ApiserverClientOptions) {
    this.#opts = opts;
    this.#base = new URL(opts.baseUrl);
    const agentOpts = {
      keepAlive: true,
      maxSockets: 4,
      ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }),
    };
    this.#agent =
      this.#base.protocol === "https:"
        ? new https.Agent({ ...agentOpts, ...(opts.caPem === undefined ? {} : { ca: opts.caPem }) })
        : new http.Agent(agentOpts);
    this.#sleep = opts.sleep ?? ((ms) => sleepTimer(ms));
  }

  async createShadow(): Promise<void> {
    await this.#call("POST", NODE_RESOURCE_PATH, undefined);
  }

  async updateStatus(status: ShadowStatus): Promise<void> {
    await this.#call("PUT", NODE_RESOURCE_PATH, status);
  }

  async cordonAndDrain(): Promise<void> {
    // A drain that ran out of time is not retried here: the agent decides what happens next.
    await this.#call("POST", CORDON_AND_DRAIN_PATH, undefined, {
      timeoutMs: this.#opts.drainTimeoutMs ?? 660_000,
      retryTimeouts: false,
    });
  }

  async cordon(): Promise<void> {
    await this.#call("POST", CORDON_PATH, undefined);
  }

  async uncordon(): Promise<void> {
    await this.#call("POST", UNCORDON_PATH, undefined);
  }

  async excludeFromLb(): Promise<void> {
    await this.#call("POST", EXCLUDE_FROM_LB_PATH, undefined);
  }

  async removeExclusionFromLb(): Promise<void> {
    await this.#call("POST", REMOVE_EXCLUSION_FROM_LB_PATH, undefined);
  }

  close(): void {
    this.#agent.destroy();
  }

  async #call(
    method: string,
    path: string,
    body: unknown,
    opts: { timeoutMs?: number; retryTimeouts?: boolean } = {},
  ): Promise<unknown> {
    const what = `${method} ${path}`;
    const attempts = Math.max(1, this.#opts.attempts ?? 4);
    for (let attempt = 1; ; attempt++) {
      let error: ApiserverCallError | undefined;
      let timedOut = false;
      try {
        const answer = await this.#send(method, path, body, opts.timeoutMs ?? this.#opts.timeoutMs ?? 30_000);
        error = errorForResponse(what, answer.status, answer.body);
        if (error === undefined) return answer.body;
        timedOut = answer.status === 504;
      } catch (err) {
        error = errorForNetworkFailure(what, err);
        timedOut = err instanceof Error && err.name === "TimeoutError";
      }
      const retry = error.retryable && !(timedOut && opts.retryTimeouts === false);
      if (!retry || attempt >= attempts) throw error;
      const delay = this.#delay(attempt);
      this.#opts.logger?.warn({ err: error, attempt, retryInMs: delay }, "apiserver call failed; retrying");
      await this.#sleep(delay);
    }
  }

  #delay(attempt: number): number {
    const base = this.#opts.baseDelayMs ?? 250;
    const capped = Math.min(this.#opts.maxDelayMs ?? 5_000, base * 2 ** (attempt - 1));
    return Math.round(capped / 2 + Math.random() * (capped / 2));
  }

  async #send(method: string, path: string, body: unknown, timeoutMs: number): Promise<Answer> {
    const token = await this.#opts.token();
    const { payload, headers: bodyHeaders } = jsonPayload(body);
    const headers: Record<string, string> = {
      Accept: "application/json",
      [HEADER_NODE_NAME]: this.#opts.nodeName,
      [HEADER_NODE_UID]: this.#opts.nodeUid,
      [HEADER_TOKEN]: token,
      ...bodyHeaders,
    };
    const url = new URL(path, this.#base);
    const target: https.RequestOptions = { method, headers, agent: this.#agent };
    const to = this.#opts.connectTo;
    if (to !== undefined) {
      headers.Host = url.host;
      Object.assign(target, { hostname: to.host, port: to.port, servername: url.hostname });
    }
    const answer = await exchange({
      url,
      options: target,
      payload,
      idleTimeoutMs: timeoutMs,
      onTimeout: () => {
        const err = new Error(`no answer within ${timeoutMs} ms`);
        err.name = "TimeoutError";
        return err;
      },
    });
    return { status: answer.status, body: parseBody(answer.text) };
  }
}
