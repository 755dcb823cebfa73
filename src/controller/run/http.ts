// The controller's plain-HTTP endpoint: `/metrics` (Prometheus text) and `/healthz`/`/readyz`
// (200 once the caches have synced, on the leader and on a standby alike). node:http is enough.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";

export interface HttpEndpoints {
  metrics(): Promise<{ contentType: string; body: string }>;
  healthy(): boolean;
  /** Extra JSON for /healthz (leadership, sync state). */
  describe(): Record<string, unknown>;
}

export class ControllerHttpServer {
  readonly #server: Server;
  readonly #logger: Logger;

  constructor(endpoints: HttpEndpoints, logger: Logger) {
    this.#logger = logger;
    this.#server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { Allow: "GET, HEAD" }).end();
        return;
      }
      if (path === "/metrics") {
        endpoints.metrics().then(
          ({ contentType, body }) => res.writeHead(200, { "Content-Type": contentType }).end(body),
          (err: unknown) => {
            this.#logger.error({ err }, "rendering metrics failed");
            res.writeHead(500).end();
          },
        );
        return;
      }
      if (path === "/healthz" || path === "/readyz" || path === "/livez") {
        const ok = endpoints.healthy();
        res
          .writeHead(ok ? 200 : 503, { "Content-Type": "application/json" })
          .end(JSON.stringify({ ok, ...endpoints.describe() }));
        return;
      }
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
    });
    // A scrape must never keep a shutting-down controller alive.
    this.#server.keepAliveTimeout = 5_000;
  }

  /** Listens; resolves to the bound port (useful with port 0). */
  listen(port: number, host?: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => {
        this.#server.off("error", reject);
        resolve((this.#server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
