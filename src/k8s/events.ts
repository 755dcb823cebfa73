// Kubernetes Events (events.k8s.io/v1) for things a component did to an object, so `kubectl describe`
// and `kubectl get events` show the history. The one way brupop builds and sends an Event.
//
// An Event kube-apiserver refuses is a defect, not noise (issue 34): every field it requires is
// required here by the types — `type` and `action` come from the component's catalogue of reasons
// (EventCatalogue), `reportingController`/`reportingInstance` from the recorder, `eventTime` from its
// clock, the regarding object and the note from the call — and `eventProblems` checks what the types
// cannot (lengths, name syntax) before anything is sent. A refusal (locally, or any 4xx but 408/429
// from the API) is counted in `brupop_events_refused_total{reason}` and logged at warn with the API's
// message.
//
// Recording is fire-and-forget: record() never blocks, never throws and never fails the caller. A
// bounded queue with a few concurrent senders keeps a burst (or a slow API server) from growing
// memory without limit; overflow is dropped and counted.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import type { Clock } from "../clock.js";
import { BrupopError, KubeApiError } from "../errors.js";
import type { KubeApi } from "./api.js";

export interface ObjectReference {
  apiVersion: string;
  kind: string;
  name: string;
  /** Absent for cluster-scoped objects (their Events live in `default`). */
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

export type EventType = "Normal" | "Warning";

/** What kube-apiserver's events.k8s.io/v1 validation requires of every reason: its type and action. */
export interface EventKind {
  type: EventType;
  /** What was done or failed, UpperCamelCase (≤ 128 characters), e.g. `SetSpec`. */
  action: string;
}

/** A component's reasons (UpperCamelCase, ≤ 128 characters) and what each one is. */
export type EventCatalogue = Readonly<Record<string, EventKind>>;

/** The Event as events.k8s.io/v1 takes it: nothing optional that kube-apiserver requires. */
export interface EventsV1Event {
  apiVersion: "events.k8s.io/v1";
  kind: "Event";
  metadata: { name: string; namespace: string };
  /** MicroTime, e.g. `2024-05-01T12:00:00.123000Z`. */
  eventTime: string;
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  type: EventType;
  regarding: ObjectReference;
  note: string;
}

/** Who reports: `controller` a qualified name (e.g. `brupop-controller`), `instance` e.g. the pod. */
export interface EventReporter {
  controller: string;
  instance: string;
}

/** kube-apiserver's limits (k8s.io/kubernetes pkg/apis/core/validation/events.go). */
export const EVENT_LIMITS = {
  /** Bytes (Go's len of the UTF-8 string). */
  note: 1024,
  reason: 128,
  action: 128,
  reportingInstance: 128,
} as const;

const MAX_NAME = 253;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

const utf8Bytes = (s: string): number => Buffer.byteLength(s, "utf8");

/** `s` cut to at most `max` UTF-8 bytes (never in the middle of a character), `…` marking the cut. */
export function truncateUtf8(s: string, max: number): string {
  if (utf8Bytes(s) <= max) return s;
  const ellipsis = "…";
  let out = "";
  let bytes = utf8Bytes(ellipsis);
  for (const ch of s) {
    const b = utf8Bytes(ch);
    if (bytes + b > max) break;
    out += ch;
    bytes += b;
  }
  return `${out}${ellipsis}`;
}

function qualifiedNameProblems(field: string, value: string): string[] {
  const parts = value.split("/");
  const name = parts.at(-1) ?? "";
  const prefix = parts.length === 2 ? parts[0] : undefined;
  const out: string[] = [];
  if (parts.length > 2) out.push(`${field}: a qualified name has at most one "/"`);
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME_PART.test(name))
    out.push(`${field}: "${value}" is not a qualified name`);
  if (prefix !== undefined && (prefix.length > MAX_NAME || !DNS_SUBDOMAIN.test(prefix)))
    out.push(`${field}: prefix "${prefix}" is not a DNS subdomain`);
  return out;
}

function lengthProblems(field: string, value: string, max: number): string[] {
  if (value.length === 0) return [`${field}: Required value`];
  if (value.length > max) return [`${field}: can have at most ${max} characters`];
  return [];
}

/**
 * What kube-apiserver would refuse in this Event on create through events.k8s.io/v1 (an empty list:
 * nothing), in its own words where it has them ("action: Required value").
 */
export function eventProblems(ev: EventsV1Event): string[] {
  return [...placeProblems(ev), ...reporterProblems(ev), ...contentProblems(ev)];
}

/** Its name, namespace and the object it is about. */
function placeProblems(ev: EventsV1Event): string[] {
  const out: string[] = [];
  const { name, namespace } = ev.metadata;
  if (name.length === 0 || name.length > MAX_NAME || !DNS_SUBDOMAIN.test(name))
    out.push(`metadata.name: "${name}" is not a DNS subdomain`);
  if (namespace.length > 63 || !DNS_LABEL.test(namespace))
    out.push(`metadata.namespace: "${namespace}" is not a DNS label`);
  const r = ev.regarding;
  if (r.kind === "" || r.name === "" || r.apiVersion === "")
    out.push("regarding: apiVersion, kind and name are required");
  if ((r.namespace ?? "") === "" && namespace !== "default" && namespace !== "kube-system")
    out.push("regarding.namespace: does not match event.namespace");
  return out;
}

function reporterProblems(ev: EventsV1Event): string[] {
  const out = lengthProblems("reportingController", ev.reportingController, MAX_NAME);
  if (ev.reportingController.length > 0)
    out.push(...qualifiedNameProblems("reportingController", ev.reportingController));
  out.push(...lengthProblems("reportingInstance", ev.reportingInstance, EVENT_LIMITS.reportingInstance));
  return out;
}

function contentProblems(ev: EventsV1Event): string[] {
  const out: string[] = [];
  if (!MICRO_TIME.test(ev.eventTime) || Number.isNaN(Date.parse(ev.eventTime)))
    out.push(`eventTime: Required value (got "${ev.eventTime}")`);
  if ((ev.type as string) !== "Normal" && (ev.type as string) !== "Warning")
    out.push(`type: has invalid value: ${String(ev.type)}`);
  out.push(...lengthProblems("action", ev.action, EVENT_LIMITS.action));
  out.push(...lengthProblems("reason", ev.reason, EVENT_LIMITS.reason));
  if (utf8Bytes(ev.note) > EVENT_LIMITS.note)
    out.push(`note: can have at most ${EVENT_LIMITS.note} characters`);
  return out;
}

/**
 * The Event saying that `reporter` did `reason` (its type and action from `kind`) to `regarding`,
 * at `now`. Its namespace is the object's, `default` for a cluster-scoped object (as kubectl looks
 * for it); its name `<object>.<unix nanos hex><suffix>` (client-go's, made unique by `suffix`); the
 * note cut to kube's 1 KiB.
 */
export function buildEvent<R extends string>(
  input: { reason: R; kind: EventKind; regarding: ObjectReference; note: string },
  reporter: EventReporter,
  now: Date,
  suffix: string,
): EventsV1Event {
  const namespace = input.regarding.namespace ?? "default";
  const stamp = (BigInt(now.getTime()) * 1_000_000n).toString(16);
  // A Node or shadow name is a DNS subdomain already; keep room for the stamp within 253 characters.
  const prefix = input.regarding.name.toLowerCase().slice(0, MAX_NAME - stamp.length - suffix.length - 1);
  return {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: { name: `${prefix}.${stamp}${suffix}`, namespace },
    eventTime: now.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z"),
    reportingController: reporter.controller,
    reportingInstance: reporter.instance,
    action: input.kind.action,
    reason: input.reason,
    type: input.kind.type,
    regarding: input.regarding,
    note: truncateUtf8(input.note, EVENT_LIMITS.note),
  };
}

export interface EventSender {
  send(namespace: string, event: EventsV1Event, signal: AbortSignal): Promise<void>;
}

export interface EventRecorderOptions<C extends EventCatalogue> {
  sender: EventSender;
  /** Every reason this recorder may record, with its type and action. */
  catalogue: C;
  /** `controller`: e.g. `brupop-controller`; `instance`: e.g. the pod name (≤ 128 characters). */
  reporter: EventReporter;
  clock: Clock;
  logger: Logger;
  /** The component's metrics: `brupop_events_refused_total{reason}` is registered there. */
  registry: Registry;
  /** Events waiting to be sent; beyond this new ones are dropped (default 1 000). */
  maxQueue?: number;
  /** Concurrent POSTs (default 4). */
  concurrency?: number;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
}

export const EVENTS_REFUSED_METRIC = "brupop_events_refused_total";

/** The API said no to this Event itself (not "not now": 408 and 429 are not refusals). */
function isRefusal(err: unknown): err is KubeApiError {
  return (
    err instanceof KubeApiError &&
    err.httpStatus >= 400 &&
    err.httpStatus < 500 &&
    err.httpStatus !== 408 &&
    err.httpStatus !== 429
  );
}

/** The Status message of a refusal ("Event ... is invalid: action: Required value"). */
function apiMessage(err: KubeApiError): string {
  const body = err.body;
  if (typeof body === "object" && body !== null && "message" in body && typeof body.message === "string")
    return body.message;
  return err.message;
}

export class EventRecorder<C extends EventCatalogue> {
  readonly #o: EventRecorderOptions<C>;
  readonly #queue: { namespace: string; event: EventsV1Event }[] = [];
  readonly #refused: Counter<"reason">;
  #active = 0;
  #idleWaiters: (() => void)[] = [];
  #closed = false;
  readonly stats = { sent: 0, failed: 0, dropped: 0, refused: 0 };

  /** Throws BRUPOP_E_CONFIG when the reporter or a catalogue entry could never make a valid Event. */
  constructor(opts: EventRecorderOptions<C>) {
    this.#o = opts;
    const problems = catalogueProblems(opts.catalogue, opts.reporter);
    if (problems.length > 0)
      throw new BrupopError("BRUPOP_E_CONFIG", `events: ${problems.join("; ")}`, { problems });
    this.#refused =
      (opts.registry.getSingleMetric(EVENTS_REFUSED_METRIC) as Counter<"reason"> | undefined) ??
      new Counter({
        name: EVENTS_REFUSED_METRIC,
        help: "Events the Kubernetes API refused (or that would be refused), by Event reason. Should stay 0.",
        labelNames: ["reason"],
        registers: [opts.registry],
      });
  }

  /** Queues one Event `reason` about `regarding`; returns at once. */
  record(reason: keyof C & string, regarding: ObjectReference, note: string): void {
    if (this.#closed) return;
    if (this.#queue.length >= (this.#o.maxQueue ?? 1000)) {
      this.stats.dropped++;
      if (this.stats.dropped === 1 || this.stats.dropped % 100 === 0) {
        this.#o.logger.warn({ dropped: this.stats.dropped }, "event queue full; dropping events");
      }
      return;
    }
    const kind = this.#o.catalogue[reason];
    if (kind === undefined) return; // unreachable: `reason` is a key of the catalogue
    const event = buildEvent(
      { reason, kind, regarding, note },
      this.#o.reporter,
      this.#o.clock.now(),
      randomBytes(3).toString("hex"),
    );
    const problems = eventProblems(event);
    if (problems.length > 0) {
      this.#refuse(event, problems.join("; "), undefined);
      return;
    }
    this.#queue.push({ namespace: event.metadata.namespace, event });
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

  #refuse(event: EventsV1Event, message: string, status: number | undefined): void {
    this.stats.refused++;
    this.#refused.inc({ reason: event.reason });
    this.#o.logger.warn(
      {
        reason: event.reason,
        regarding: `${event.regarding.kind}/${event.regarding.name}`,
        ...(status !== undefined && { status }),
        apiMessage: message,
      },
      `event ${event.reason} refused: ${message}`,
    );
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

  async #sendOne(namespace: string, event: EventsV1Event): Promise<void> {
    try {
      await this.#o.sender.send(namespace, event, AbortSignal.timeout(this.#o.timeoutMs ?? 10_000));
      this.stats.sent++;
    } catch (err) {
      if (isRefusal(err)) {
        this.#refuse(event, apiMessage(err), err.httpStatus);
        return;
      }
      this.stats.failed++;
      this.#o.logger.warn(
        { err, reason: event.reason, regarding: `${event.regarding.kind}/${event.regarding.name}` },
        "could not record event; ignored",
      );
    }
  }
}

/** Why this catalogue and reporter could not make valid Events (empty: they can). */
export function catalogueProblems(catalogue: EventCatalogue, reporter: EventReporter): string[] {
  const out = lengthProblems("reportingController", reporter.controller, MAX_NAME);
  if (reporter.controller.length > 0)
    out.push(...qualifiedNameProblems("reportingController", reporter.controller));
  out.push(...lengthProblems("reportingInstance", reporter.instance, EVENT_LIMITS.reportingInstance));
  for (const [reason, kind] of Object.entries(catalogue)) {
    out.push(...lengthProblems(`reason ${reason}`, reason, EVENT_LIMITS.reason));
    out.push(...lengthProblems(`${reason}: action`, kind.action, EVENT_LIMITS.action));
  }
  return out;
}

/** Sends events with POST /apis/events.k8s.io/v1/namespaces/<ns>/events. */
export function kubeEventSender(api: KubeApi): EventSender {
  return { send: (namespace, event, signal) => api.createEvent(namespace, event, { signal }) };
}
