// HTTP front of one SimulatedHost: exactly SPEC §6's paths, status codes and JSON shapes (and the
// settings API's version lock, docs/bottlerocket.md), on a Unix socket and/or TCP. It follows the
// host's reachability: while the host reboots or a disconnect fault is set, nothing listens (the
// socket file is gone, TCP refuses).
import { lstat, unlink } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { SimulatedHost } from "./host.js";
import { routeHostRequest } from "./routes.js";

export interface HostServerOptions {
  socketPath?: string;
  /** TCP as well (or instead); port 0 picks a free port, kept across reboots. */
  tcp?: { port: number; host?: string };
  /** Called when re-listening after a reboot/disconnect fails (start() throws instead). */
  onError?: (err: Error) => void;
}

export class HostServer {
  readonly host: SimulatedHost;
  readonly socketPath: string | undefined;
  readonly #tcp: { port: number; host: string } | undefined;
  readonly #onError: ((err: Error) => void) | undefined;
  #servers: http.Server[] = [];
  #chain: Promise<void> = Promise.resolve();
  #failure: Error | undefined;
  #started = false;
  #live = false;
  readonly #onDown = (): void => this.#enqueue(() => this.#close(false));
  readonly #onUp = (): void => this.#enqueue(() => this.#open());

  constructor(host: SimulatedHost, opts: HostServerOptions) {
    if (opts.socketPath === undefined && opts.tcp === undefined) {
      throw new TypeError("HostServer needs a socketPath, a tcp port, or both");
    }
    this.host = host;
    this.socketPath = opts.socketPath;
    this.#tcp =
      opts.tcp === undefined ? undefined : { port: opts.tcp.port, host: opts.tcp.host ?? "127.0.0.1" };
    this.#onError = opts.onError;
  }

  /** The TCP port, once listening (stable across reboots). */
  get tcpPort(): number | undefined {
    return this.#tcp?.port || undefined;
  }

  get listening(): boolean {
    return this.#servers.length > 0;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.host.on("down", this.#onDown);
    this.host.on("up", this.#onUp);
    if (this.host.reachable) this.#enqueue(() => this.#open());
    await this.#chain;
    const failure = this.#failure;
    if (failure !== undefined) {
      await this.stop();
      throw failure;
    }
    this.#live = true;
  }

  /** Resolves once every pending open/close has been carried out. */
  settled(): Promise<void> {
    return this.#chain;
  }

  async stop(): Promise<void> {
    this.#live = false;
    this.host.off("down", this.#onDown);
    this.host.off("up", this.#onUp);
    this.#enqueue(() => this.#close(true));
    await this.#chain;
  }

  #enqueue(step: () => Promise<void>): void {
    this.#chain = this.#chain.then(step).catch((err: unknown) => {
      const error = err instanceof Error ? err : new Error(String(err));
      this.#failure = error;
      if (this.#live) this.#onError?.(error); // start() reports its own failure by throwing
    });
  }

  async #open(): Promise<void> {
    if (this.#servers.length > 0 || !this.host.reachable) return;
    this.#failure = undefined;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => this.#handle(req, res);
    if (this.socketPath !== undefined) {
      await removeStaleSocket(this.socketPath);
      const server = http.createServer(handler);
      await listen(server, { path: this.socketPath });
      this.#servers.push(server);
    }
    if (this.#tcp !== undefined) {
      const server = http.createServer(handler);
      await listen(server, { port: this.#tcp.port, host: this.#tcp.host });
      this.#tcp.port = (server.address() as AddressInfo).port;
      this.#servers.push(server);
    }
  }

  async #close(all: boolean): Promise<void> {
    const servers = this.#servers;
    this.#servers = [];
    for (const s of servers) {
      s.close();
      // The response that caused a reboot is still being written; let it finish, drop the rest.
      if (all) s.closeAllConnections();
      else s.closeIdleConnections();
    }
    // Node removes a Unix socket file when the server closes; make sure of it.
    if (this.socketPath !== undefined && servers.length > 0) await unlinkIfSocket(this.socketPath);
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    // A kept-alive connection may outlive the listener: a host that is down answers nothing.
    if (!this.host.reachable) {
      req.socket.destroy();
      return;
    }
    // Only PATCH /settings has a body (small: the settings API); every other request's is dropped.
    if (req.method !== "PATCH") {
      req.resume();
      this.#reply(req, res, "");
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > 65_536) req.destroy();
      else chunks.push(c);
    });
    req.on("end", () => this.#reply(req, res, Buffer.concat(chunks).toString("utf8")));
  }

  #reply(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    if (!this.host.reachable) {
      req.socket.destroy();
      return;
    }
    const reply = routeHostRequest(
      this.host,
      req.method ?? "GET",
      req.url ?? "/",
      body,
      req.headers["content-type"],
    );
    const headers: http.OutgoingHttpHeaders = {};
    if (reply.status !== 204) headers["content-length"] = Buffer.byteLength(reply.body);
    if (reply.contentType !== undefined) headers["content-type"] = reply.contentType;
    if (reply.allow !== undefined) headers.allow = reply.allow;
    // The reboot that was just accepted closes the API: do not keep this connection.
    if (!this.host.reachable) headers.connection = "close";
    res.writeHead(reply.status, headers);
    res.end(reply.status === 204 ? undefined : reply.body);
  }
}

function listen(server: http.Server, opts: { path: string } | { port: number; host: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once("error", onError);
    server.listen(opts, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

/** A socket file left by a crashed run is removed; any other file there is an error. */
async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined) return;
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  await unlink(path);
}

async function unlinkIfSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (st?.isSocket() === true) await unlink(path).catch(() => undefined);
}
