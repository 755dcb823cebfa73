// Webhook notifications about the fleet (issue 19): a node started, finished or failed its update,
// the fleet finished (and, from the update policy, the fleet halted).
//
// Two halves:
//   - notificationsFor(prev, cur): a PURE diff of two views of the shadows (the previous leader tick's
//     and this one's) into the events between them. Nothing is remembered across restarts or
//     leadership terms: a new term's first tick only sets the baseline.
//   - Notifier: delivery. notify() queues and returns at once (the tick never waits on a webhook); one
//     sender POSTs in order, each call bounded by a timeout, retried with exponential back-off on
//     network errors, timeouts, 429 and 5xx. A full queue drops its OLDEST entry (logged, counted).
//
// Crash-only: the queue lives in memory and the diff starts afresh with each term, so a controller
// restart or a leadership change may lose queued notifications, miss the events that happened while
// no leader watched, or send one again. Delivery is best effort; neither at-least-once nor
// at-most-once is promised.
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import { systemTimers, type Timers } from "../../clock.js";
import { exchange, jsonPayload } from "../../http/core.js";
import { nodeNameForShadow } from "../../model/constants.js";
import { describeFailure, type BottlerocketShadow, type ShadowFailure } from "../../model/shadow.js";
import { backoffDelay, sleep } from "../../runtime/loop.js";
import { nodeOutcome } from "../decide/outcome.js";
import { isActive } from "../decide/decisions.js";

export type NotificationKind =
  "node-started" | "node-finished" | "node-failed" | "fleet-finished" | "fleet-halted";

export const NOTIFY_FORMATS = ["json", "slack"] as const;
export type NotifyFormat = (typeof NOTIFY_FORMATS)[number];

/** One notification: what happened, in fields (format json) and in words (`message`, format slack). */
export interface Notification {
  kind: NotificationKind;
  /** Node (and its shadow) concerned; absent for fleet events. */
  node?: string;
  shadow?: string;
  /** node-started / node-finished: the version it updates to / now runs. */
  version?: string;
  /** node-started: the version it runs before the update. */
  fromVersion?: string;
  /** node-failed: the agent's account (status.failure), when it gave one. */
  failure?: ShadowFailure;
  /** node-failed: failed attempts so far (status.crash_count). */
  crashCount?: number;
  /** fleet-finished: nodes in the fleet; fleet-halted: whatever the caller says. */
  nodes?: number;
  /** fleet-finished: nodes that failed on the new version (not up to date; issue 25). */
  failedNodes?: string[];
  /** fleet-halted: why (free text from the caller). */
  reason?: string;
  message: string;
  /** When the controller noticed (RFC 3339). */
  at: string;
}

/** What a caller outside the diff (the update policy's "fleet halted") passes to notify(). */
export type NotificationInput = Omit<Notification, "at" | "message"> & { message?: string; at?: string };

const nameOf = (s: BottlerocketShadow): string => s.metadata.name ?? "";
const nodeOf = (s: BottlerocketShadow): string => nodeNameForShadow(nameOf(s)) ?? nameOf(s);

/** Still has an update ahead: updating, or offered a newer version than it runs. */
function needsUpdate(s: BottlerocketShadow): boolean {
  return s.status !== undefined && (isActive(s) || s.status.current_version !== s.status.target_version);
}

type WithStatus = BottlerocketShadow & { status: NonNullable<BottlerocketShadow["status"]> };
interface Base {
  node: string;
  shadow: string;
  at: string;
}

/** The controller gave it a target (spec left Idle). */
function started(p: BottlerocketShadow, s: WithStatus, base: Base): Notification | undefined {
  if (p.spec.state !== "Idle" || s.spec.state === "Idle") return undefined;
  const version = s.spec.version ?? s.status.target_version;
  return {
    kind: "node-started",
    ...base,
    version,
    fromVersion: s.status.current_version,
    message: `${base.node}: update to ${version} started (running ${s.status.current_version})`,
  };
}

/** The agent reported ErrorReset. */
function failed(p: BottlerocketShadow, s: WithStatus, base: Base): Notification | undefined {
  if (s.status.current_state !== "ErrorReset" || p.status?.current_state === "ErrorReset") return undefined;
  const failure = s.status.failure;
  const words = failure === undefined ? "status ErrorReset" : describeFailure(failure);
  return {
    kind: "node-failed",
    ...base,
    crashCount: s.status.crash_count,
    ...(failure !== undefined && { failure }),
    message: `${base.node}: update failed (${words}); crash count ${s.status.crash_count}`,
  };
}

/** It left the active set Idle, on the version it was sent to, not through a failure. */
function finished(p: BottlerocketShadow, s: WithStatus, base: Base): Notification | undefined {
  const target = p.spec.version;
  const done =
    isActive(p) &&
    !isActive(s) &&
    p.status?.current_state !== "ErrorReset" &&
    s.status.current_state === "Idle" &&
    (target === null || s.status.current_version === target);
  if (!done) return undefined;
  return {
    kind: "node-finished",
    ...base,
    version: s.status.current_version,
    message: `${base.node}: updated to ${s.status.current_version}`,
  };
}

/**
 * The events between two views of the fleet. `prev` undefined: no baseline yet (first tick of a
 * term): nothing. Shadows absent from either view yield nothing.
 */
export function notificationsFor(
  prev: readonly BottlerocketShadow[] | undefined,
  cur: readonly BottlerocketShadow[],
  now: Date,
): Notification[] {
  if (prev === undefined) return [];
  const at = now.toISOString();
  const before = new Map(prev.map((s) => [nameOf(s), s]));
  const out: Notification[] = [];
  for (const s of cur) {
    const p = before.get(nameOf(s));
    if (p === undefined || s.status === undefined) continue;
    const base = { node: nodeOf(s), shadow: nameOf(s), at };
    for (const rule of [started, failed, finished]) {
      const n = rule(p, s as WithStatus, base);
      if (n !== undefined) out.push(n);
    }
  }
  if (cur.length > 0 && prev.some(needsUpdate) && !cur.some(needsUpdate)) {
    const versions = [...new Set(cur.map((s) => s.status?.current_version).filter((v) => v !== undefined))];
    const failedNodes = cur.filter((s) => nodeOutcome(s, now).kind === "failed-on-new-version").map(nodeOf);
    out.push({
      kind: "fleet-finished",
      nodes: cur.length,
      at,
      ...(failedNodes.length > 0 && { failedNodes }),
      message:
        failedNodes.length === 0
          ? `fleet up to date: ${cur.length} node(s) on ${versions.join(", ")}`
          : `rollout finished with failures: ${cur.length - failedNodes.length} of ${cur.length} node(s) up to date; failed on the new version: ${failedNodes.join(", ")}`,
    });
  }
  return out;
}

/** The webhook's request body. */
export function webhookBody(n: Notification, format: NotifyFormat): unknown {
  if (format === "slack") return { text: `brupop: ${n.message}` };
  return n;
}

export interface NotifierSettings {
  url: URL;
  format: NotifyFormat;
  /** Per call. */
  timeoutMs: number;
  /** Notifications waiting; beyond this the oldest is dropped. Default 100. */
  maxQueue?: number;
  /** Attempts per notification (first included). Default 5. */
  attempts?: number;
  /** Back-off between attempts: doubles from initialMs up to maxMs (with jitter). Defaults 1 s, 60 s. */
  backoff?: { initialMs: number; maxMs: number };
}

export type NotifyOutcome = "sent" | "failed" | "dropped" | "retried";

export class Notifier {
  readonly #s: Required<Omit<NotifierSettings, "url" | "format" | "timeoutMs">> & NotifierSettings;
  readonly #log: Logger;
  readonly #timers: Timers;
  readonly #queue: Notification[] = [];
  readonly #closed = new AbortController();
  readonly #counter: Counter<"outcome" | "kind"> | undefined;
  #sending: Promise<void> | undefined;
  /** The view the next observe() diffs against, and the term it belongs to. */
  #baseline: { term: object; shadows: readonly BottlerocketShadow[] } | undefined;
  readonly stats: Record<NotifyOutcome, number> = { sent: 0, failed: 0, dropped: 0, retried: 0 };

  constructor(settings: NotifierSettings, deps: { logger: Logger; timers?: Timers; registry?: Registry }) {
    this.#s = { maxQueue: 100, attempts: 5, backoff: { initialMs: 1_000, maxMs: 60_000 }, ...settings };
    this.#log = deps.logger.child({ notifier: settings.url.host });
    this.#timers = deps.timers ?? systemTimers;
    if (deps.registry !== undefined) {
      this.#counter = new Counter({
        name: "brupop_controller_notifications_total",
        help: "Webhook notifications by kind and outcome (sent, failed after retries, dropped from a full queue, retried)",
        labelNames: ["kind", "outcome"],
        registers: [deps.registry],
      });
    }
  }

  /**
   * Diffs `shadows` against the view of the previous observe() in the same `term` and queues the
   * notifications between them. The first call of a term only sets the baseline.
   */
  observe(term: object, shadows: readonly BottlerocketShadow[], now: Date): void {
    const prev = this.#baseline?.term === term ? this.#baseline.shadows : undefined;
    this.#baseline = { term, shadows };
    for (const n of notificationsFor(prev, shadows, now)) this.notify(n);
  }

  /** Queues one notification; returns at once, never throws. */
  notify(input: NotificationInput): void {
    if (this.#closed.signal.aborted) return;
    const n: Notification = {
      ...input,
      message: input.message ?? input.reason ?? input.kind,
      at: input.at ?? new Date().toISOString(),
    };
    if (this.#queue.length >= this.#s.maxQueue) {
      const dropped = this.#queue.shift();
      if (dropped !== undefined) this.#count(dropped, "dropped");
      this.#log.warn(
        { dropped: dropped?.kind, node: dropped?.node, queue: this.#s.maxQueue },
        "notification queue full; dropped the oldest",
      );
    }
    this.#queue.push(n);
    this.#kick();
  }

  /** Starts the sender unless it runs. One queued after the sender's last look restarts it. */
  #kick(): void {
    if (this.#sending !== undefined) return;
    this.#sending = this.#drain().finally(() => {
      this.#sending = undefined;
      if (this.#queue.length > 0 && !this.#closed.signal.aborted) this.#kick();
    });
  }

  /** Resolves once the queue is empty (tests). */
  async flush(): Promise<void> {
    while (this.#sending !== undefined) await this.#sending;
  }

  /** Stops: what is queued or being retried is abandoned (crash-only). */
  close(): void {
    this.#closed.abort();
    this.#queue.length = 0;
  }

  #count(n: Notification, outcome: NotifyOutcome): void {
    this.stats[outcome]++;
    this.#counter?.inc({ kind: n.kind, outcome });
  }

  async #drain(): Promise<void> {
    for (let n = this.#queue.shift(); n !== undefined; n = this.#queue.shift()) {
      await this.#deliver(n);
    }
  }

  async #deliver(n: Notification): Promise<void> {
    const signal = this.#closed.signal;
    for (let attempt = 1; !signal.aborted; attempt++) {
      const result = await this.#post(n);
      if (result === "ok") {
        this.#count(n, "sent");
        return;
      }
      if (result.retry && attempt < this.#s.attempts) {
        this.#count(n, "retried");
        const delay = backoffDelay(attempt, this.#s.backoff);
        this.#log.debug(
          { kind: n.kind, node: n.node, attempt, delay, error: result.error },
          "notification retry",
        );
        await sleep(delay, signal, this.#timers);
        continue;
      }
      this.#count(n, "failed");
      this.#log.warn(
        { kind: n.kind, node: n.node, attempts: attempt, error: result.error },
        "notification not delivered; dropped",
      );
      return;
    }
  }

  async #post(n: Notification): Promise<"ok" | { retry: boolean; error: string }> {
    const { payload, headers } = jsonPayload(webhookBody(n, this.#s.format));
    try {
      const res = await exchange({
        url: this.#s.url,
        options: { method: "POST", headers: { ...headers, "User-Agent": "brupop-controller" } },
        payload,
        deadlineMs: this.#s.timeoutMs,
        onTimeout: () => new Error(`no answer within ${this.#s.timeoutMs} ms`),
        signal: this.#closed.signal,
        maxBodyBytes: 64 * 1024,
        onTooLarge: () => new Error("answer too large"),
      });
      if (res.status >= 200 && res.status < 300) return "ok";
      return { retry: res.status === 429 || res.status >= 500, error: `HTTP ${res.status}` };
    } catch (err) {
      return { retry: true, error: err instanceof Error ? err.message : String(err) };
    }
  }
}
