// A TCP proxy on loopback that can cut every connection through it at once: put in front of
// kube-apiserver for some clients, it breaks their watches and in-flight requests mid-stream (the
// chaos suite's "cut-connections" fault) while the server and everyone else carry on. TLS passes
// through untouched (the serving certificate covers 127.0.0.1).
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

export class CutProxy {
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  /** Connections cut so far. */
  cuts = 0;

  private constructor(target: { host: string; port: number }) {
    this.#server = createServer((client) => this.#accept(client, target));
  }

  /** Listens on 127.0.0.1 (a free port) and forwards each connection to target. */
  static async start(target: { host: string; port: number }): Promise<CutProxy> {
    const proxy = new CutProxy(target);
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once("error", reject);
      proxy.#server.listen(0, "127.0.0.1", () => resolve());
    });
    return proxy;
  }

  #accept(client: Socket, target: { host: string; port: number }): void {
    const upstream = connect(target.port, target.host);
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const drop = (): void => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Connections open now. */
  get open(): number {
    return this.#pairs.size;
  }

  /** Resets every open connection (both sides); returns how many. New connections still pass. */
  cutAll(): number {
    const n = this.#pairs.size;
    for (const [client, upstream] of this.#pairs) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    this.#pairs.clear();
    this.cuts += n;
    return n;
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
