// A small JSON-over-HTTPS client for the Kubernetes API, on top of a KubeAccess (client-node's
// KubeConfig, or the in-cluster service account; it supplies TLS material and credentials). We use it where client-node's generated clients get in
// the way: LIST and WATCH must see the same raw JSON (the generated clients turn timestamps into
// Dates, the watch stream does not), and every request passes one place where it can be counted.
//
// KubeRest is the real KubeApi (./api.ts): it implements the two primitives, `request` and `watch`,
// on the shared HTTP client core (../http/core.ts); the typed, throwing methods come from KubeApiBase.
import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { createInterface } from "node:readline";
import { BrupopError, KubeApiError } from "../errors.js";
import { destroyOnAbort, exchange, jsonPayload, parseBody, startRequest } from "../http/core.js";
import type { KubeAccess } from "./access.js";
import { KubeApiBase, type Query, type RequestOptions, type RestResponse, type WatchHandler } from "./api.js";

export type { Query, RequestOptions, RestResponse } from "./api.js";

/** TLS material (string, Buffer, or lists of them) as a hashable string. */
function material(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (Buffer.isBuffer(v)) return v.toString("latin1");
  if (Array.isArray(v)) return v.map(material).join("\0");
  return JSON.stringify(v);
}

export class KubeRest extends KubeApiBase {
  readonly #kc: KubeAccess;
  readonly #server: URL;
  readonly #agents = new Map<string, http.Agent>();

  constructor(kc: KubeAccess) {
    const cluster = kc.getCurrentCluster();
    super();
    if (cluster === null) throw new BrupopError("BRUPOP_E_CONFIG", "kubeconfig: no current cluster");
    this.#kc = kc;
    this.#server = new URL(cluster.server);
  }

  /**
   * client-node builds a fresh Agent for every request (no connection reuse: a TLS handshake per
   * call). We keep one keep-alive agent per distinct set of TLS material instead.
   */
  #agentFor(url: URL, opts: https.RequestOptions): http.Agent {
    const tls = { ca: opts.ca, cert: opts.cert, key: opts.key, rejectUnauthorized: opts.rejectUnauthorized };
    const key = createHash("sha256")
      .update(JSON.stringify([url.protocol, opts.servername ?? "", tls.rejectUnauthorized ?? true]))
      .update(material(tls.ca))
      .update(material(tls.cert))
      .update(material(tls.key))
      .digest("hex");
    let agent = this.#agents.get(key);
    if (agent === undefined) {
      agent =
        url.protocol === "https:"
          ? new https.Agent({ keepAlive: true, maxSockets: 64, ...tls, servername: opts.servername })
          : new http.Agent({ keepAlive: true, maxSockets: 64 });
      this.#agents.set(key, agent);
    }
    return agent;
  }

  #url(path: string, query: Query | undefined): URL {
    const url = new URL(this.#server.pathname.replace(/\/$/, "") + path, this.#server);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  async #options(method: string, url: URL, headers: Record<string, string>): Promise<https.RequestOptions> {
    const opts: https.RequestOptions = {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: { Accept: "application/json", ...headers },
    };
    await this.#kc.applyToHTTPSOptions(opts);
    if (this.#kc.getCurrentCluster()?.proxyUrl === undefined) opts.agent = this.#agentFor(url, opts);
    return opts;
  }

  protected async request<T = unknown>(
    method: string,
    path: string,
    opts: RequestOptions = {},
  ): Promise<RestResponse<T>> {
    const url = this.#url(path, opts.query);
    const { payload, headers } = jsonPayload(opts.body, opts.contentType);
    const options = await this.#options(method, url, headers);
    const answer = await exchange({
      options,
      secure: url.protocol === "https:",
      payload,
      idleTimeoutMs: opts.timeoutMs,
      // ETIMEDOUT: callers (the apiserver's error mapping) treat it as a transport failure, retryable.
      onTimeout: () => Object.assign(new Error(`${method} ${path}: timed out`), { code: "ETIMEDOUT" }),
      // Callers pass long-lived signals (the controller's leadership term): the core removes its
      // listener when the exchange settles, so none is left behind per request.
      signal: opts.signal,
    });
    return { status: answer.status, body: parseBody(answer.text) as T };
  }

  /**
   * Opens a watch stream and calls onEvent for each JSON line. Resolves when the stream ends (server
   * timeout, network error, abort); rejects with the HTTP status on a non-200 answer.
   */
  async watch(path: string, query: Query, onEvent: WatchHandler, signal: AbortSignal): Promise<void> {
    const url = this.#url(path, { ...query, watch: true });
    const options = await this.#options("GET", url, {});
    let unbind = (): void => undefined;
    return new Promise<void>((resolve, reject) => {
      const req = startRequest({ options, secure: url.protocol === "https:" }, (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8").slice(0, 500);
            reject(new KubeApiError(`WATCH ${path}`, res.statusCode ?? 0, parseBody(text)));
          });
          return;
        }
        const lines = createInterface({ input: res, crlfDelay: Infinity });
        lines.on("line", (line) => {
          if (line.trim() === "") return;
          let event: unknown;
          try {
            event = JSON.parse(line);
          } catch {
            return; // a torn line on abort; the stream is ending anyway
          }
          onEvent(event);
        });
        // Aborts and dropped connections end the stream; the caller decides what comes next.
        lines.on("close", () => resolve());
        lines.on("error", () => resolve());
        res.on("error", () => resolve());
      });
      req.on("error", (err) => (signal.aborted ? resolve() : reject(err)));
      unbind = destroyOnAbort(req, signal, () => undefined);
      req.end();
    }).finally(() => unbind());
  }

  close(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }
}
