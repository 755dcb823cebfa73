// SPEC §6 request → reply for one simulated host, with no I/O. The HTTP front serves it on a
// socket; InProcessTransport hands it straight to the client (fast, deterministic tests).
import { BrupopError } from "../../src/errors.js";
import type { HostResponse, HostTransport } from "../../src/bottlerocket/transport.js";
import { ACTION_PATHS, OS_PATH, STATUS_PATH, type HostAction } from "../../src/bottlerocket/types.js";
import type { SimulatedHost } from "./host.js";

export interface HostReply {
  status: number;
  /** JSON for 200, plain text otherwise (like the real API), empty for 204. */
  body: string;
  contentType?: "application/json" | "text/plain; charset=utf-8";
  /** For 405. */
  allow?: string;
}

type Route =
  { method: "GET"; get: (host: SimulatedHost) => HostReply } | { method: "POST"; action: HostAction };

const ROUTES = new Map<string, Route>([
  [OS_PATH, { method: "GET", get: (host) => json(host.os()) }],
  [STATUS_PATH, { method: "GET", get: statusReply }],
  ...Object.entries(ACTION_PATHS).map(
    ([action, path]) => [path, { method: "POST", action: action as HostAction }] as [string, Route],
  ),
]);

function json(body: unknown): HostReply {
  return { status: 200, body: JSON.stringify(body), contentType: "application/json" };
}

function text(status: number, body: string): HostReply {
  return { status, body, contentType: "text/plain; charset=utf-8" };
}

function statusReply(host: SimulatedHost): HostReply {
  const read = host.readStatus();
  switch (read.kind) {
    case "ok":
      return json(read.status);
    case "uninitialized":
      return text(404, "Update status is uninitialized, refresh updates or initiate an update first");
    case "locked":
      return text(423, `Update lock held: ${read.command} in progress`);
  }
}

/** Answers one request; the caller has checked the host is reachable. Query strings are ignored. */
export function routeHostRequest(host: SimulatedHost, method: string, url: string): HostReply {
  const q = url.indexOf("?");
  const route = ROUTES.get(q === -1 ? url : url.slice(0, q));
  if (route === undefined) return text(404, "Not Found");
  if (method !== route.method) return { ...text(405, "Method Not Allowed"), allow: route.method };
  if (route.method === "GET") return route.get(host);
  const outcome = host.act(route.action);
  return outcome.status === 204 ? { status: 204, body: "" } : text(outcome.status, outcome.message);
}

/**
 * A HostTransport straight into a SimulatedHost, no socket: give it to BottlerocketApiClient
 * (with `now`/`sleep` tied to ManualTimers) to drive client and host on virtual time.
 */
export class InProcessTransport implements HostTransport {
  readonly #host: SimulatedHost;

  constructor(host: SimulatedHost) {
    this.#host = host;
  }

  request(method: "GET" | "POST", path: string): Promise<HostResponse> {
    if (!this.#host.reachable) {
      return Promise.reject(
        new BrupopError("BRUPOP_E_HOST_UNREACHABLE", `simulated host ${this.#host.id} is not answering`, {
          method,
          path,
          endpoint: `in-process:${this.#host.id}`,
          errno: "ECONNREFUSED",
        }),
      );
    }
    const reply = routeHostRequest(this.#host, method, path);
    return Promise.resolve({ status: reply.status, body: reply.body });
  }
}
