// SPEC §6 request → reply for one simulated host, with no I/O, plus the settings API as far as the
// update settings and motd (docs/bottlerocket.md). Codes and texts are the real API's (Bottlerocket
// v1.20.5's apiserver; transcripts.test.ts replays what it answered). The HTTP front serves it on a
// socket; InProcessTransport hands it straight to the client (fast, deterministic tests).
import { BrupopError } from "../../src/errors.js";
import { isSemver } from "../../src/model/semver.js";
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
import { HOST_ERROR_TEXT, type SettingValue, type SimulatedHost } from "./host.js";

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
  | {
      method: "POST" | "PATCH";
      handle: (host: SimulatedHost, body: string, contentType: string | undefined) => HostReply;
    };

const ROUTES = new Map<string, Route>([
  [OS_PATH, { method: "GET", get: (host) => json(host.os()) }],
  [STATUS_PATH, { method: "GET", get: statusReply }],
  ...Object.entries(ACTION_PATHS).map(
    ([action, path]) => [path, { method: "POST", action: action as HostAction }] as [string, Route],
  ),
  // The settings API, only as far as the update version lock (Bottlerocket's openapi.yaml). Not
  // behind the update lock: settings answer while a command runs.
  [SETTINGS_PATH, { method: "GET", get: settingsReply }],
  [COMMIT_AND_APPLY_PATH, { method: "POST", handle: commitReply }],
]);

/** PATCH /settings shares its path with GET: routed here. */
const PATCH_SETTINGS: Route = { method: "PATCH", handle: patchSettings };

/**
 * GET /settings: the Settings object, only the keys asked for (`keys=a,b` wins over `prefix=`;
 * neither: everything the simulator models).
 */
function settingsReply(host: SimulatedHost, query: URLSearchParams): HostReply {
  const keys = query.get("keys");
  const prefix = query.get("prefix");
  const asked = keys?.split(",").map((k) => k.trim());
  const out: Record<string, unknown> = {};
  for (const [key, value] of host.settings()) {
    const wanted =
      asked !== undefined
        ? asked.some((k) => k === key || key.startsWith(`${k}.`))
        : prefix === null || key.startsWith(prefix);
    if (wanted) setPath(out, key.split(".").slice(1), value);
  }
  return json(out);
}

/** The settings PATCH accepts, by dotted key, with how their values are checked. */
const SETTINGS: ReadonlyMap<string, (v: unknown) => string | undefined> = new Map([
  ["settings.motd", (v: unknown) => (typeof v === "string" ? undefined : "invalid type: expected a string")],
  [VERSION_LOCK_KEY, friendlyVersion],
  ["settings.updates.seed", (v: unknown) => (isU32(v) ? undefined : "invalid value: expected u32")],
  [
    "settings.updates.ignore-waves",
    (v: unknown) => (typeof v === "boolean" ? undefined : "invalid type: expected a boolean"),
  ],
  ["settings.updates.metadata-base-url", url],
  ["settings.updates.targets-base-url", url],
]);

/** Prefixes of the keys above: objects a PATCH may hold. */
const SETTING_OBJECTS = new Set(["settings", "settings.updates"]);

/**
 * PATCH /settings: stages the settings (204). Like the real API: a body not sent as JSON is 400
 * "Content type error"; an unknown field or a bad value is 400 "Json deserialize error: …", and
 * nothing is staged.
 */
function patchSettings(host: SimulatedHost, body: string, contentType: string | undefined): HostReply {
  if (!isJsonContentType(contentType)) return text(400, "Content type error");
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    return text(400, `Json deserialize error: ${(err as Error).message}`);
  }
  const changes = new Map<string, SettingValue>();
  const problem = collectSettings(parsed, "settings", changes);
  if (problem !== undefined) {
    return text(400, `Json deserialize error: ${problem.message}${serdePosition(body, problem)}`);
  }
  try {
    host.stageSettings(changes);
  } catch (err) {
    return text(400, `Json deserialize error: ${(err as Error).message}`);
  }
  return { status: 204, body: "" };
}

/** A problem serde would report: its message, and the field (name, or its value) it points at. */
interface SettingProblem {
  message: string;
  field: string;
  at: "name" | "value";
}

/** Flattens a Settings object into dotted keys; the first problem found, if any. */
function collectSettings(
  value: unknown,
  prefix: string,
  out: Map<string, SettingValue>,
): SettingProblem | undefined {
  if (!isRecord(value)) {
    return { message: `invalid type: expected struct at ${prefix}`, field: prefix, at: "value" };
  }
  for (const [field, v] of Object.entries(value)) {
    const key = `${prefix}.${field}`;
    if (SETTING_OBJECTS.has(key)) {
      const problem = collectSettings(v, key, out);
      if (problem !== undefined) return problem;
      continue;
    }
    const check = SETTINGS.get(key);
    if (check === undefined) {
      const known = FIELDS_OF.get(prefix);
      const expected =
        known === undefined ? "" : `, expected one of ${known.map((f) => `\`${f}\``).join(", ")}`;
      return { message: `unknown field \`${field}\`${expected}`, field, at: "name" };
    }
    const problem = check(v);
    if (problem !== undefined) return { message: problem, field, at: "value" };
    out.set(key, v as SettingValue);
  }
  return undefined;
}

/** The fields of the structs we model, in the model's order (serde names them when one is unknown). */
const FIELDS_OF = new Map([
  ["settings.updates", ["metadata-base-url", "targets-base-url", "seed", "version-lock", "ignore-waves"]],
]);

/**
 * serde_json's " at line L column C": for an unknown field, the key's closing quote; for a bad
 * value, the character after it. Found by searching the body for the field (first occurrence).
 */
function serdePosition(body: string, problem: SettingProblem): string {
  const name = JSON.stringify(problem.field);
  const re = new RegExp(`${escapeRegExp(name)}\\s*:\\s*`, "g");
  const m = re.exec(body);
  if (m === null) return "";
  let end: number; // 0-based offset of the character serde points at
  if (problem.at === "name") end = m.index + name.length - 1;
  else {
    const rest = body.slice(m.index + m[0].length);
    const value = /^("(?:[^"\\]|\\.)*"|[^,}\]\s]*)/.exec(rest)?.[0] ?? "";
    end = m.index + m[0].length + value.length;
  }
  const before = body.slice(0, end);
  const line = before.split("\n").length;
  const column = end - before.lastIndexOf("\n");
  return ` at line ${line} column ${column}`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** POST /tx/commit_and_apply: the committed keys (200), or 422 when nothing was pending. */
function commitReply(host: SimulatedHost): HostReply {
  const keys = host.commitSettings();
  return keys === null ? text(422, HOST_ERROR_TEXT.noPendingChanges) : json(keys);
}

/** actix's check: a media type whose subtype (or suffix) is json. */
function isJsonContentType(ct: string | undefined): boolean {
  return ct !== undefined && /^[^/\s;]+\/(?:[^;\s]*\+)?json\s*(?:;|$)/i.test(ct.trim());
}

/** Bottlerocket's FriendlyVersion: "latest" or semver, with an optional leading "v". */
function friendlyVersion(v: unknown): string | undefined {
  if (typeof v !== "string") return "invalid type: expected a string";
  if (v === "latest" || isSemver(v.replace(/^v/, ""))) return undefined;
  return `Unable to deserialize into FriendlyVersion: Invalid version string '${v}'`;
}

function url(v: unknown): string | undefined {
  if (typeof v !== "string") return "invalid type: expected a string";
  return URL.canParse(v) ? undefined : `Unable to deserialize into Url: '${v}'`;
}

function isU32(v: unknown): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;
}

function setPath(obj: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let at = obj;
  for (const part of path.slice(0, -1)) {
    const next = at[part];
    if (isRecord(next)) at = next;
    else {
      const made: Record<string, unknown> = {};
      at[part] = made;
      at = made;
    }
  }
  const last = path[path.length - 1];
  if (last !== undefined) at[last] = value;
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
      return text(404, HOST_ERROR_TEXT.uninitialized);
    case "locked":
      return text(423, HOST_ERROR_TEXT.statusLocked);
  }
}

/**
 * Answers one request; the caller has checked the host is reachable. Only GET /settings reads its
 * query string; only PATCH /settings reads a body (and its content type).
 */
export function routeHostRequest(
  host: SimulatedHost,
  method: string,
  url: string,
  body = "",
  contentType?: string,
): HostReply {
  const q = url.indexOf("?");
  const path = q === -1 ? url : url.slice(0, q);
  const route = path === SETTINGS_PATH && method === "PATCH" ? PATCH_SETTINGS : ROUTES.get(path);
  if (route === undefined) return text(404, "Not Found");
  if (method !== route.method) {
    const allow = path === SETTINGS_PATH ? "GET, PATCH" : route.method;
    return { ...text(405, "Method Not Allowed"), allow };
  }
  if ("get" in route) return route.get(host, new URLSearchParams(q === -1 ? "" : url.slice(q + 1)));
  if ("handle" in route) return route.handle(host, body, contentType);
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
    // The HTTP transport sends every body as JSON (only PATCH /settings has one).
    const reply = routeHostRequest(
      this.#host,
      method,
      path,
      body,
      body === undefined ? undefined : "application/json",
    );
    return Promise.resolve({ status: reply.status, body: reply.body });
  }
}
