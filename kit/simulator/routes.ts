// SPEC §6 request → reply for one simulated host, with no I/O, plus the settings API's version
// lock (docs/bottlerocket.md). The HTTP front serves it on a socket; InProcessTransport hands it
// straight to the client (fast, deterministic tests).
import { BrupopError } from "../../src/errors.js";
import type { HostMethod, HostResponse, HostTransport } from "../../src/bottlerocket/transport.js";
import {
  ACTION_PATHS,
  COMMIT_AND_APPLY_PATH,
  OS_PATH,
  SETTINGS_PATH,
  STATUS_PATH,
  VERSION_LOCK_KEY,
  type HostAction,
} from "../../src/bottlerocket/types.js";
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
  | { method: "GET"; get: (host: SimulatedHost, query: URLSearchParams) => HostReply }
  | { method: "POST"; action: HostAction }
  | { method: "POST" | "PATCH"; handle: (host: SimulatedHost, body: string) => HostReply };

const ROUTES = new Map<string, Route>([
  [OS_PATH, { method: "GET", get: (host) => json(host.os()) }],
  [STATUS_PATH, { method: "GET", get: statusReply }],
  ...Object.entries(ACTION_PATHS).map(
    ([action, path]) => [path, { method: "POST", action: action as HostAction }] as [string, Route],
  ),
  // The settings API, only as far as the update version lock (Bottlerocket's openapi.yaml). Not
  // behind the update lock: settings answer while a command runs.
  [SETTINGS_PATH, { method: "GET", get: settingsReply }],
  [COMMIT_AND_APPLY_PATH, { method: "POST", handle: (host) => json(host.commitSettings()) }],
]);

/** PATCH /settings shares its path with GET: routed here. */
const PATCH_SETTINGS: Route = { method: "PATCH", handle: patchSettings };

/**
 * GET /settings: the Settings object, only the keys asked for (`keys=a,b` wins over `prefix=`;
 * neither: everything the simulator models, i.e. `updates.version-lock`).
 */
function settingsReply(host: SimulatedHost, query: URLSearchParams): HostReply {
  const keys = query.get("keys");
  const prefix = query.get("prefix");
  const wanted =
    keys !== null
      ? keys
          .split(",")
          .some((k) => k.trim() === VERSION_LOCK_KEY || VERSION_LOCK_KEY.startsWith(`${k.trim()}.`))
      : prefix === null || VERSION_LOCK_KEY.startsWith(prefix);
  return json(wanted ? { updates: { "version-lock": host.versionLock } } : {});
}

/** PATCH /settings: `{"updates":{"version-lock":"…"}}` staged (204); anything else is 400. */
function patchSettings(host: SimulatedHost, body: string): HostReply {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return text(400, "Invalid body: not JSON");
  }
  const updates = isRecord(parsed) && Object.keys(parsed).length === 1 ? parsed.updates : undefined;
  const lock = isRecord(updates) && Object.keys(updates).length === 1 ? updates["version-lock"] : undefined;
  if (typeof lock !== "string") {
    return text(400, "Invalid body: the simulator only models settings.updates.version-lock");
  }
  try {
    host.stageVersionLock(lock);
  } catch (err) {
    return text(400, `Invalid body: ${(err as Error).message}`);
  }
  return { status: 204, body: "" };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

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

/**
 * Answers one request; the caller has checked the host is reachable. Only GET /settings reads its
 * query string; only PATCH /settings reads a body.
 */
export function routeHostRequest(host: SimulatedHost, method: string, url: string, body = ""): HostReply {
  const q = url.indexOf("?");
  const path = q === -1 ? url : url.slice(0, q);
  const route = path === SETTINGS_PATH && method === "PATCH" ? PATCH_SETTINGS : ROUTES.get(path);
  if (route === undefined) return text(404, "Not Found");
  if (method !== route.method) {
    const allow = path === SETTINGS_PATH ? "GET, PATCH" : route.method;
    return { ...text(405, "Method Not Allowed"), allow };
  }
  if ("get" in route) return route.get(host, new URLSearchParams(q === -1 ? "" : url.slice(q + 1)));
  if ("handle" in route) return route.handle(host, body);
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

  request(method: HostMethod, path: string, _timeoutMs?: number, body?: string): Promise<HostResponse> {
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
    const reply = routeHostRequest(this.#host, method, path, body);
    return Promise.resolve({ status: reply.status, body: reply.body });
  }
}
