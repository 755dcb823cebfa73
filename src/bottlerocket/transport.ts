// One HTTP exchange with the host API, over its Unix socket (or TCP, for tests), with Node's
// own `http`. Maps transport failures to the catalogue: socket missing/refused/reset →
// BRUPOP_E_HOST_UNREACHABLE, no answer in time → BRUPOP_E_HOST_TIMEOUT.
import http from "node:http";
import { BrupopError } from "../errors.js";

export interface HostResponse {
  status: number;
  body: string;
}

export interface HostTransport {
  request(method: "GET" | "POST", path: string, timeoutMs: number): Promise<HostResponse>;
}

export type HostEndpoint = { socketPath: string } | { baseUrl: string };

/** Bodies of this API are small; anything bigger is a broken host, not data. */
const MAX_BODY_BYTES = 1 << 20;

const UNREACHABLE_CODES = new Set([
  "ENOENT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "EACCES",
  "ENOTSOCK",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNABORTED",
]);

function describe(endpoint: HostEndpoint): string {
  return "socketPath" in endpoint ? endpoint.socketPath : endpoint.baseUrl;
}

export class HttpHostTransport implements HostTransport {
  readonly #base: http.RequestOptions;
  readonly #prefix: string;
  readonly #where: string;
  // No keep-alive: the host goes away on every reboot and a pooled socket would then fail
  // the next request for no reason. A Unix-socket connect is cheap.
  readonly #agent = new http.Agent({ keepAlive: false });

  constructor(endpoint: HostEndpoint) {
    this.#where = describe(endpoint);
    if ("socketPath" in endpoint) {
      this.#base = { socketPath: endpoint.socketPath, agent: this.#agent };
      this.#prefix = "";
    } else {
      const url = new URL(endpoint.baseUrl);
      this.#base = { host: url.hostname, port: url.port || 80, agent: this.#agent };
      this.#prefix = url.pathname.replace(/\/+$/, "");
    }
  }

  request(method: "GET" | "POST", path: string, timeoutMs: number): Promise<HostResponse> {
    const where = this.#where;
    return new Promise<HostResponse>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, res?: HostResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err !== undefined) reject(err);
        else if (res !== undefined) resolve(res);
      };
      const req = http.request({ ...this.#base, method, path: this.#prefix + path }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) {
            req.destroy();
            finish(
              new BrupopError("BRUPOP_E_HOST_API", `host answer to ${method} ${path} is larger than 1 MiB`, {
                method,
                path,
              }),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () => {
          finish(undefined, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", (err) => finish(transportError(err, method, path, where)));
      });
      // A total deadline, not an idle timeout: a host that trickles bytes must not hold us forever.
      const timer = setTimeout(() => {
        req.destroy();
        finish(
          new BrupopError(
            "BRUPOP_E_HOST_TIMEOUT",
            `no answer from host to ${method} ${path} in ${timeoutMs} ms`,
            {
              method,
              path,
              timeoutMs,
              phase: "request",
            },
          ),
        );
      }, timeoutMs);
      req.on("error", (err) => finish(transportError(err, method, path, where)));
      req.end();
    });
  }
}

function transportError(err: Error, method: string, path: string, where: string): BrupopError {
  const code = (err as NodeJS.ErrnoException).code;
  const details = { method, path, endpoint: where, errno: code };
  if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    return new BrupopError(
      "BRUPOP_E_HOST_UNREACHABLE",
      `host API at ${where} unreachable: ${code}`,
      details,
      {
        cause: err,
      },
    );
  }
  return new BrupopError(
    "BRUPOP_E_HOST_API",
    `request ${method} ${path} to ${where} failed: ${err.message}`,
    details,
    {
      cause: err,
    },
  );
}
