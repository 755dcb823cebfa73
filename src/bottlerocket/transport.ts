// One HTTP exchange with the host API, over its Unix socket (or TCP, for tests), on the shared HTTP
// client core (../http/core.ts). Maps transport failures to the catalogue: socket missing/refused/reset →
// BRUPOP_E_HOST_UNREACHABLE, no answer in time → BRUPOP_E_HOST_TIMEOUT.
import http from "node:http";
import { BrupopError } from "../errors.js";
import { exchange } from "../http/core.js";

export interface HostResponse {
  status: number;
  body: string;
}

export type HostMethod = "GET" | "POST" | "PATCH";

export interface HostTransport {
  /** `body`: a JSON request body (only the settings API takes one: PATCH /settings). */
  request(method: HostMethod, path: string, timeoutMs: number, body?: string): Promise<HostResponse>;
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

  async request(method: HostMethod, path: string, timeoutMs: number, body?: string): Promise<HostResponse> {
    const where = this.#where;
    const headers =
      body === undefined
        ? undefined
        : { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(body)) };
    const answer = await exchange({
      options: {
        ...this.#base,
        method,
        path: this.#prefix + path,
        ...(headers === undefined ? {} : { headers }),
      },
      payload: body,
      secure: false,
      // A total deadline, not an idle timeout: a host that trickles bytes must not hold us forever.
      deadlineMs: timeoutMs,
      onTimeout: () =>
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
      maxBodyBytes: MAX_BODY_BYTES,
      onTooLarge: () =>
        new BrupopError("BRUPOP_E_HOST_API", `host answer to ${method} ${path} is larger than 1 MiB`, {
          method,
          path,
        }),
      mapError: (err) => transportError(err, method, path, where),
    });
    return { status: answer.status, body: answer.text };
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
