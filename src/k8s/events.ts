// Kubernetes Events (core/v1) for things a component did to an object, so `kubectl describe` and
// `kubectl get events` show the history. Recording is fire-and-forget: record() never blocks, never
// throws and never fails the caller. A bounded queue with a few concurrent senders keeps a burst (or
// a slow API server) from growing memory without limit; overflow is dropped and counted.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { KubeApi } from "./api.js";

export interface ObjectReference {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

export type EventType = "Normal" | "Warning";

export interface EventInput {
  regarding: ObjectReference;
  type?: EventType;
  /** UpperCamelCase, machine-readable, e.g. `StartUpdate`. */
  reason: string;
  message: string;
  /** What was done, e.g. `SetSpec` (events.k8s.io `action`; stored as a core/v1 field too). */
  action?: string;
}

export interface EventSender {
  send(namespace: string, event: CoreV1Event, signal: AbortSignal): Promise<void>;
}

export interface CoreV1Event {
  apiVersion: "v1";
  kind: "Event";
  metadata: { name: string; namespace: string };
  involvedObject: ObjectReference;
  reason: string;
  message: string;
  type: EventType;
  source: { component: string };
  firstTimestamp: string;
  lastTimestamp: string;
  eventTime: string;
  count: number;
  action?: string;
  reportingComponent: string;
  reportingInstance: string;
}

export interface EventRecorderOptions {
  sender: EventSender;
  /** e.g. `brupop-controller` (source.component and reportingComponent). */
  component: string;
  /** e.g. the pod name (reportingInstance). */
  instance: string;
  clock: Clock;
  logger: Logger;
  /** Events waiting to be sent; beyond this new ones are dropped (default 1 000). */
  maxQueue?: number;
  /** Concurrent POSTs (default 4). */
  concurrency?: number;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
}

const MAX_MESSAGE = 1024;

export class EventRecorder {
  readonly #o: EventRecorderOptions;
  readonly #queue: { namespace: string; event: CoreV1Event }[] = [];
  #active = 0;
  #idleWaiters: (() => void)[] = [];
  #closed = false;
  readonly stats = { sent: 0, failed: 0, dropped: 0 };

  constructor(opts: EventRecorderOptions) {
    this.#o = opts;
  }

  /** Queues one Event; returns at once. */
  record(input: EventInput): void {
    if (this.#closed) return;
    if (this.#queue.length >= (this.#o.maxQueue ?? 1000)) {
      this.stats.dropped++;
      if (this.stats.dropped === 1 || this.stats.dropped % 100 === 0) {
        this.#o.logger.warn({ dropped: this.stats.dropped }, "event queue full; dropping events");
      }
      return;
    }
    const namespace = input.regarding.namespace ?? "default";
    this.#queue.push({ namespace, event: this.#build(namespace, input) });
    this.#pump();
  }

  /** Resolves once every queued event has been sent or has failed (tests, shutdown). */
  flush(): Promise<void> {
    if (this.#active === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops accepting events; sends what is queued (bounded by the request timeout). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  #build(namespace: string, input: EventInput): CoreV1Event {
    const now = this.#o.clock.now();
    const iso = now.toISOString();
    // client-go names events `<object>.<unix nanos hex>`; a random suffix keeps two events recorded
    // in the same millisecond (or by two replicas) apart.
    const name = `${input.regarding.name}.${(BigInt(now.getTime()) * 1_000_000n).toString(16)}${randomBytes(3).toString("hex")}`;
    const event: CoreV1Event = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name, namespace },
      involvedObject: input.regarding,
      reason: input.reason,
      message:
        input.message.length > MAX_MESSAGE ? `${input.message.slice(0, MAX_MESSAGE - 1)}…` : input.message,
      type: input.type ?? "Normal",
      source: { component: this.#o.component },
      firstTimestamp: iso.replace(/\.\d{3}Z$/, "Z"),
      lastTimestamp: iso.replace(/\.\d{3}Z$/, "Z"),
      eventTime: iso.replace(/\.(\d{3})Z$/, ".$1000Z"),
      count: 1,
      reportingComponent: this.#o.component,
      reportingInstance: this.#o.instance,
    };
    if (input.action !== undefined) event.action = input.action;
    return event;
  }

  #pump(): void {
    const concurrency = this.#o.concurrency ?? 4;
    while (this.#active < concurrency && this.#queue.length > 0) {
      const item = this.#queue.shift();
      if (item === undefined) break;
      this.#active++;
      void this.#sendOne(item.namespace, item.event).finally(() => {
        this.#active--;
        this.#pump();
        if (this.#active === 0 && this.#queue.length === 0) {
          for (const w of this.#idleWaiters.splice(0)) w();
        }
      });
    }
  }

  async #sendOne(namespace: string, event: CoreV1Event): Promise<void> {
    try {
      await this.#o.sender.send(namespace, event, AbortSignal.timeout(this.#o.timeoutMs ?? 10_000));
      this.stats.sent++;
    } catch (err) {
      this.stats.failed++;
      this.#o.logger.warn(
        { err, reason: event.reason, object: event.involvedObject.name },
        "could not record event; ignored",
      );
    }
  }
}

/** Sends events with POST /api/v1/namespaces/<ns>/events. */
export function kubeEventSender(api: KubeApi): EventSender {
  return { send: (namespace, event, signal) => api.createEvent(namespace, event, { signal }) };
}
