// Client of the Bottlerocket host update API (SPEC §6). Every update action waits for its
// command to finish and fails loudly when the host says it failed: a `Failed` prepare must never
// pass as success (upstream's `||` bug).
import { setTimeout as sleepMs } from "node:timers/promises";
import { BrupopError, isBrupopError } from "../errors.js";
import { compareTimestamps } from "./timestamp.js";
import {
  HttpHostTransport,
  type HostEndpoint,
  type HostMethod,
  type HostResponse,
  type HostTransport,
} from "./transport.js";
import {
  ACTION_PATHS,
  COMMIT_AND_APPLY_PATH,
  SETTINGS_PATH,
  VERSION_LOCK_KEY,
  OS_PATH,
  STATUS_PATH,
  parseOsInfo,
  parseUpdateStatus,
  type OsInfo,
  type UpdateCommand,
  type UpdateStatus,
} from "./types.js";

/** What the agent needs from its host. The agent is given one of these; tests may fake it. */
export interface BottlerocketHost {
  osInfo(): Promise<OsInfo>;
  /** Current update status, or null while the host has none yet ("uninitialized", after a boot). */
  updateStatus(): Promise<UpdateStatus | null>;
  /** Each action resolves with the status after its command completed successfully. */
  refresh(): Promise<UpdateStatus>;
  prepare(): Promise<UpdateStatus>;
  activate(): Promise<UpdateStatus>;
  deactivate(): Promise<UpdateStatus>;
  /** Asks for the reboot and returns; the host goes away. */
  reboot(): Promise<void>;
  /** The host's `settings.updates.version-lock` ("latest" or a version, e.g. "v1.20.3"). */
  versionLock(): Promise<string>;
  /** Sets `settings.updates.version-lock` and commits it (PATCH /settings, POST /tx/commit_and_apply). */
  setVersionLock(lock: string): Promise<void>;
}

export const DEFAULT_SOCKET_PATH = "/run/api.sock";

/** Upstream's limits for refresh, prepare and activate; deactivate is as quick as activate. */
export const DEFAULT_COMMAND_LIMITS_MS: Readonly<Record<UpdateCommand, number>> = {
  refresh: 10_000,
  prepare: 600_000,
  activate: 5_000,
  deactivate: 5_000,
};

export interface BottlerocketClientOptions {
  /** Unix socket of the host API (default /run/api.sock). Ignored when baseUrl is set. */
  socketPath?: string;
  /** TCP base URL instead of the socket, e.g. http://127.0.0.1:8080 (tests). */
  baseUrl?: string;
  /** Per-command completion limits (ms). */
  limits?: Partial<Record<UpdateCommand, number>>;
  /** First delay between status polls (ms, default 100); doubles up to maxPollIntervalMs. */
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  /** Limit for one HTTP exchange (ms, default 5000), so a hung socket cannot hang the agent. */
  requestTimeoutMs?: number;
  /** How long updateStatus() waits through 423 (command running) answers (ms, default 10000). */
  statusWaitMs?: number;
  /** Injected for tests. */
  transport?: HostTransport;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

type StatusRead = { kind: "ok"; status: UpdateStatus } | { kind: "uninitialized" } | { kind: "locked" };

export class BottlerocketApiClient implements BottlerocketHost {
  readonly #transport: HostTransport;
  readonly #limits: Readonly<Record<UpdateCommand, number>>;
  readonly #pollMs: number;
  readonly #maxPollMs: number;
  readonly #requestMs: number;
  readonly #statusWaitMs: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(opts: BottlerocketClientOptions = {}) {
    const endpoint: HostEndpoint =
      opts.baseUrl !== undefined
        ? { baseUrl: opts.baseUrl }
        : { socketPath: opts.socketPath ?? DEFAULT_SOCKET_PATH };
    this.#transport = opts.transport ?? new HttpHostTransport(endpoint);
    this.#limits = { ...DEFAULT_COMMAND_LIMITS_MS, ...opts.limits };
    this.#pollMs = opts.pollIntervalMs ?? 100;
    this.#maxPollMs = Math.max(this.#pollMs, opts.maxPollIntervalMs ?? 1_000);
    this.#requestMs = opts.requestTimeoutMs ?? 5_000;
    this.#statusWaitMs = opts.statusWaitMs ?? 10_000;
    this.#now = opts.now ?? Date.now;
    this.#sleep = opts.sleep ?? ((ms) => sleepMs(ms));
  }

  async osInfo(): Promise<OsInfo> {
    const res = await this.#transport.request("GET", OS_PATH, this.#requestMs);
    if (res.status !== 200) throw apiError("GET", OS_PATH, res.status, res.body);
    return parseOsInfo(parseJson("GET", OS_PATH, res.body));
  }

  async updateStatus(): Promise<UpdateStatus | null> {
    const deadline = this.#now() + this.#statusWaitMs;
    const onTimeout = (): BrupopError =>
      timeoutError(`update status still locked by a running command after ${this.#statusWaitMs} ms`, {
        limitMs: this.#statusWaitMs,
        phase: "status",
      });
    let interval = this.#pollMs;
    for (;;) {
      const read = await this.#readStatus(deadline, onTimeout);
      if (read.kind === "ok") return read.status;
      if (read.kind === "uninitialized") return null;
      await this.#pause(interval, deadline, onTimeout);
      interval = this.#backoff(interval);
    }
  }

  refresh(): Promise<UpdateStatus> {
    return this.#run("refresh");
  }

  prepare(): Promise<UpdateStatus> {
    return this.#run("prepare");
  }

  activate(): Promise<UpdateStatus> {
    return this.#run("activate");
  }

  deactivate(): Promise<UpdateStatus> {
    return this.#run("deactivate");
  }

  async reboot(): Promise<void> {
    const res = await this.#transport.request("POST", ACTION_PATHS.reboot, this.#requestMs);
    if (res.status < 200 || res.status > 299)
      throw apiError("POST", ACTION_PATHS.reboot, res.status, res.body);
  }

  async versionLock(): Promise<string> {
    const path = `${SETTINGS_PATH}?keys=${VERSION_LOCK_KEY}`;
    const res = await this.#transport.request("GET", path, this.#requestMs);
    if (res.status !== 200) throw apiError("GET", path, res.status, res.body);
    return parseVersionLock(parseJson("GET", path, res.body));
  }

  async setVersionLock(lock: string): Promise<void> {
    const body = JSON.stringify({ updates: { "version-lock": lock } });
    const patch = await this.#transport.request("PATCH", SETTINGS_PATH, this.#requestMs, body);
    if (patch.status < 200 || patch.status > 299)
      throw apiError("PATCH", SETTINGS_PATH, patch.status, patch.body);
    const commit = await this.#transport.request("POST", COMMIT_AND_APPLY_PATH, this.#requestMs);
    if (commit.status < 200 || commit.status > 299)
      throw apiError("POST", COMMIT_AND_APPLY_PATH, commit.status, commit.body);
  }

  /**
   * SPEC §6 completion protocol: baseline timestamp → POST → poll until a newer command of
   * this type shows up → check its status. All within the command's limit.
   */
  async #run(cmd: UpdateCommand): Promise<UpdateStatus> {
    const limitMs = this.#limits[cmd];
    const deadline = this.#now() + limitMs;
    const onTimeout = (phase: string) => () =>
      timeoutError(`${cmd} did not finish within ${limitMs} ms (${phase})`, { command: cmd, limitMs, phase });
    const baseline = await this.#start(cmd, deadline, onTimeout("start"));
    const waiting = onTimeout("waiting for completion");
    let interval = this.#pollMs;
    for (;;) {
      const read = await this.#readStatus(deadline, waiting);
      if (read.kind === "uninitialized") {
        // After an accepted command the host always has a status; losing it means it rebooted under us.
        throw new BrupopError("BRUPOP_E_HOST_API", `host lost its update status while running ${cmd}`, {
          command: cmd,
          status: 404,
        });
      }
      if (read.kind === "ok") {
        const done = completed(cmd, baseline, read.status);
        if (done) return read.status;
      }
      await this.#pause(interval, deadline, waiting);
      interval = this.#backoff(interval);
    }
  }

  /** Takes the baseline and issues the POST; a 423 (another command holds the lock) retries both. */
  async #start(cmd: UpdateCommand, deadline: number, onTimeout: () => BrupopError): Promise<string | null> {
    const path = ACTION_PATHS[cmd];
    let interval = this.#pollMs;
    for (;;) {
      const read = await this.#readStatus(deadline, onTimeout);
      if (read.kind !== "locked") {
        const baseline = read.kind === "ok" ? (read.status.most_recent_command?.timestamp ?? null) : null;
        const res = await this.#exchange("POST", path, deadline, onTimeout);
        if (res.status >= 200 && res.status <= 299) return baseline;
        if (res.status !== 423) throw apiError("POST", path, res.status, res.body, { command: cmd });
      }
      await this.#pause(interval, deadline, onTimeout);
      interval = this.#backoff(interval);
    }
  }

  async #readStatus(deadline: number, onTimeout: () => BrupopError): Promise<StatusRead> {
    const res = await this.#exchange("GET", STATUS_PATH, deadline, onTimeout);
    if (res.status === 200)
      return { kind: "ok", status: parseUpdateStatus(parseJson("GET", STATUS_PATH, res.body)) };
    if (res.status === 404) return { kind: "uninitialized" };
    if (res.status === 423) return { kind: "locked" };
    throw apiError("GET", STATUS_PATH, res.status, res.body);
  }

  /**
   * One request inside a deadline: the usual request limit, but never past the deadline. When
   * the deadline is what cut the request short, the caller's timeout error is the right one.
   */
  async #exchange(
    method: HostMethod,
    path: string,
    deadline: number,
    onTimeout: () => BrupopError,
  ): Promise<HostResponse> {
    const left = deadline - this.#now();
    if (left <= 0) throw onTimeout();
    const timeout = Math.min(this.#requestMs, left);
    try {
      return await this.#transport.request(method, path, timeout);
    } catch (err) {
      if (timeout < this.#requestMs && isBrupopError(err, "BRUPOP_E_HOST_TIMEOUT")) {
        const e = onTimeout();
        throw new BrupopError(e.code, e.message, e.details, { cause: err });
      }
      throw err;
    }
  }

  /** Sleeps before the next poll, never past the deadline; the poll after it still gets a look. */
  async #pause(ms: number, deadline: number, onTimeout: () => BrupopError): Promise<void> {
    const left = deadline - this.#now();
    if (left <= 0) throw onTimeout();
    await this.#sleep(Math.min(ms, Math.max(1, left - 1)));
  }

  #backoff(ms: number): number {
    return Math.min(ms * 2, this.#maxPollMs);
  }
}

/**
 * Whether the status shows our command finished. A Failed result is an error, always.
 * Exported for tests.
 */
export function completed(cmd: UpdateCommand, baseline: string | null, status: UpdateStatus): boolean {
  const last = status.most_recent_command;
  if (last === null || last.cmd_type !== cmd) return false;
  if (baseline !== null && !isNewer(last.timestamp, baseline)) return false;
  if (last.cmd_status !== "Success") {
    throw new BrupopError(
      "BRUPOP_E_HOST_COMMAND_FAILED",
      `host ${cmd} failed (exit ${last.exit_status})${last.stderr ? `: ${last.stderr.trim()}` : ""}`,
      { command: cmd, exit_status: last.exit_status, stderr: last.stderr, timestamp: last.timestamp },
    );
  }
  return true;
}

function isNewer(ts: string, baseline: string): boolean {
  try {
    return compareTimestamps(ts, baseline) > 0;
  } catch (err) {
    throw new BrupopError(
      "BRUPOP_E_HOST_API",
      `host reported an unreadable command timestamp`,
      { timestamp: ts, baseline, reason: "malformed-response" },
      { cause: err },
    );
  }
}

function timeoutError(message: string, details: Record<string, unknown>): BrupopError {
  return new BrupopError("BRUPOP_E_HOST_TIMEOUT", message, details);
}

function apiError(
  method: string,
  path: string,
  status: number,
  body: string,
  extra: Record<string, unknown> = {},
): BrupopError {
  const text = body.length > 512 ? `${body.slice(0, 512)}…` : body;
  return new BrupopError(
    "BRUPOP_E_HOST_API",
    `host answered ${status} to ${method} ${path}${text ? `: ${text.trim()}` : ""}`,
    { ...extra, method, path, status, body: text },
  );
}

function parseJson(method: string, path: string, body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    throw new BrupopError(
      "BRUPOP_E_HOST_API",
      `host answer to ${method} ${path} is not JSON`,
      { method, path, reason: "malformed-response" },
      { cause: err },
    );
  }
}

/** `settings.updates.version-lock` out of a Settings object (`{"updates":{"version-lock":"…"}}`). */
function parseVersionLock(body: unknown): string {
  const updates = isRecord(body) ? body.updates : undefined;
  const lock = isRecord(updates) ? updates["version-lock"] : undefined;
  if (typeof lock !== "string") {
    throw new BrupopError("BRUPOP_E_HOST_API", `host settings have no ${VERSION_LOCK_KEY}`, {
      path: SETTINGS_PATH,
      reason: "malformed-response",
    });
  }
  return lock;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
