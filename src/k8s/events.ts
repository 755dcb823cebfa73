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
//
// Repeats are count-aggregated as client-go's events.k8s.io recorder does (issue 30): an Event equal
// to one recorded less than SERIES_WINDOW_MS ago (same reason, action, regarding, related and note)
// is not a new Event but a `series` of the first ({count, lastObservedTime}): its first repeat
// PATCHes the series at once (count 2), later repeats are counted and PATCHed together at most once
// per `seriesFlushMs`. A series whose Event is gone (404: expired) is created anew with its count.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import type { Clock, Timers } from "../clock.js";
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
  /** A second object the Event is about, e.g. the BottlerocketShadow of an Event on its Node. */
  related?: ObjectReference;
  note: string;
  /** Set when the Event stands for repeats (client-go's isomorphic Events); count ≥ 2. */
  series?: EventSeries;
}

export interface EventSeries {
  count: number;
  /** MicroTime of the last repeat. */
  lastObservedTime: string;
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
  if (ev.series !== undefined) {
    if (!Number.isInteger(ev.series.count) || ev.series.count < 2)
      out.push(`series.count: should be at least 2 (got ${ev.series.count})`);
    if (!MICRO_TIME.test(ev.series.lastObservedTime))
      out.push(`series.lastObservedTime: Required value (got "${ev.series.lastObservedTime}")`);
  }
  return out;
}

/** kube's MicroTime: RFC 3339 with microseconds (JS dates have milliseconds). */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/**
 * The Event saying that `reporter` did `reason` (its type and action from `kind`) to `regarding`,
 * at `now`. Its namespace is the object's, `default` for a cluster-scoped object (as kubectl looks
 * for it); its name `<object>.<unix nanos hex><suffix>` (client-go's, made unique by `suffix`); the
 * note cut to kube's 1 KiB.
 */
export function buildEvent<R extends string>(
  input: { reason: R; kind: EventKind; regarding: ObjectReference; note: string; related?: ObjectReference },
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
    eventTime: microTime(now),
    reportingController: reporter.controller,
    reportingInstance: reporter.instance,
    action: input.kind.action,
    reason: input.reason,
    type: input.kind.type,
    regarding: input.regarding,
    ...(input.related !== undefined && { related: input.related }),
    note: truncateUtf8(input.note, EVENT_LIMITS.note),
  };
}

export interface EventSender {
  send(namespace: string, event: EventsV1Event, signal: AbortSignal): Promise<void>;
  /** PATCHes the series of the Event `name` (rejects with a 404 KubeApiError when it is gone). */
  patchSeries(namespace: string, name: string, series: EventSeries, signal: AbortSignal): Promise<void>;
}

/** How long an Event stays open to repeats after the last one (client-go: 6 minutes). */
export const SERIES_WINDOW_MS = 6 * 60_000;

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
  /** Repeats after a series' first are PATCHed together at most this often (default 60 s). */
  seriesFlushMs?: number;
  /** Schedules those PATCHes (default: real timers, not keeping the process alive). */
  timers?: Pick<Timers, "set">;
  /** Events remembered for aggregation (default 1 000; the oldest is forgotten first). */
  maxSeries?: number;
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

/** One Event as recorded, open to repeats (a client-go "isomorphic" Event). */
interface SeriesEntry {
  key: string;
  event: EventsV1Event;
  /** Occurrences seen; the API knows `written` of them. */
  count: number;
  written: number;
  lastObserved: Date;
  /** The Event's create is queued or in flight (a PATCH must wait for it). */
  creating: boolean;
}

type Job = { op: "create"; entry: SeriesEntry } | { op: "patch"; entry: SeriesEntry };

/** What makes two Events the same (client-go's getKey: action, reason, reporter, objects, note). */
function seriesKey(ev: EventsV1Event): string {
  const ref = (r: ObjectReference | undefined) =>
    r === undefined ? [] : [r.apiVersion, r.kind, r.namespace ?? "", r.name, r.uid ?? ""];
  return JSON.stringify([ev.reason, ev.action, ev.type, ref(ev.regarding), ref(ev.related), ev.note]);
}

export class EventRecorder<C extends EventCatalogue> {
  readonly #o: EventRecorderOptions<C>;
  readonly #queue: Job[] = [];
  readonly #refused: Counter<"reason">;
  /** Recent Events by seriesKey, oldest last-observed first. */
  readonly #series = new Map<string, SeriesEntry>();
  #cancelFlush: (() => void) | undefined;
  #active = 0;
  #idleWaiters: (() => void)[] = [];
  #closed = false;
  /** sent: Events created; patched: series PATCHes; aggregated: repeats counted into a series. */
  readonly stats = { sent: 0, patched: 0, aggregated: 0, failed: 0, dropped: 0, refused: 0 };

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

  /**
   * Queues one Event `reason` about `regarding` (and `related`, a second object); returns at once.
   * A repeat of a recent Event is counted in that Event's series instead.
   */
  record(
    reason: keyof C & string,
    regarding: ObjectReference,
    note: string,
    related?: ObjectReference,
  ): void {
    if (this.#closed) return;
    const kind = this.#o.catalogue[reason];
    if (kind === undefined) return; // unreachable: `reason` is a key of the catalogue
    const now = this.#o.clock.now();
    const event = buildEvent(
      { reason, kind, regarding, note, ...(related !== undefined && { related }) },
      this.#o.reporter,
      now,
      randomBytes(3).toString("hex"),
    );
    const problems = eventProblems(event);
    if (problems.length > 0) {
      this.#refuse(event, problems.join("; "), undefined);
      return;
    }
    const key = seriesKey(event);
    this.#forgetOld(now);
    const open = this.#series.get(key);
    if (open !== undefined) {
      this.#repeat(open, now);
      return;
    }
    if (!this.#enqueueFull()) return;
    const entry: SeriesEntry = { key, event, count: 1, written: 0, lastObserved: now, creating: true };
    this.#series.set(key, entry);
    while (this.#series.size > (this.#o.maxSeries ?? 1000)) {
      const oldest = this.#series.keys().next().value;
      if (oldest === undefined) break;
      this.#series.delete(oldest);
    }
    this.#push({ op: "create", entry });
  }

  /** A repeat: counted; the first repeat is PATCHed at once, later ones by the next flush. */
  #repeat(entry: SeriesEntry, now: Date): void {
    this.stats.aggregated++;
    entry.count++;
    entry.lastObserved = now;
    this.#series.delete(entry.key); // keep the map in last-observed order
    this.#series.set(entry.key, entry);
    if (entry.creating) return; // the create's completion PATCHes what came meanwhile
    if (entry.written === 1) {
      if (this.#enqueueFull()) this.#push({ op: "patch", entry });
    } else this.#scheduleFlush();
  }

  /** Drops series nobody repeated within the window (PATCHing what they counted since). */
  #forgetOld(now: Date): void {
    for (const entry of this.#series.values()) {
      if (now.getTime() - entry.lastObserved.getTime() <= SERIES_WINDOW_MS) break;
      this.#series.delete(entry.key);
      if (!entry.creating && entry.count > entry.written && this.#enqueueFull())
        this.#push({ op: "patch", entry });
    }
  }

  #scheduleFlush(): void {
    if (this.#cancelFlush !== undefined || this.#closed) return;
    const timers = this.#o.timers ?? unrefTimers;
    this.#cancelFlush = timers.set(this.#o.seriesFlushMs ?? 60_000, () => {
      this.#cancelFlush = undefined;
      this.#flushSeries();
    });
  }

  /** PATCHes every series with repeats the API has not seen yet. */
  #flushSeries(): void {
    this.#forgetOld(this.#o.clock.now());
    for (const entry of this.#series.values()) {
      if (!entry.creating && entry.count > entry.written && entry.written > 0 && this.#enqueueFull())
        this.#push({ op: "patch", entry });
    }
  }

  /** Whether the queue has room; counts and logs the drop when not. */
  #enqueueFull(): boolean {
    if (this.#queue.length < (this.#o.maxQueue ?? 1000)) return true;
    this.stats.dropped++;
    if (this.stats.dropped === 1 || this.stats.dropped % 100 === 0) {
      this.#o.logger.warn({ dropped: this.stats.dropped }, "event queue full; dropping events");
    }
    return false;
  }

  #push(job: Job): void {
    if (job.op === "patch" && this.#queue.some((j) => j.op === "patch" && j.entry === job.entry)) return;
    this.#queue.push(job);
    this.#pump();
  }

  /** Resolves once every queued event has been sent or has failed (tests, shutdown). */
  flush(): Promise<void> {
    if (this.#active === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops accepting events; sends what is queued and the repeats not yet PATCHed (bounded by the request timeout). */
  async close(): Promise<void> {
    this.#cancelFlush?.();
    this.#cancelFlush = undefined;
    this.#flushSeries();
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
      const job = this.#queue.shift();
      if (job === undefined) break;
      this.#active++;
      void this.#run(job).finally(() => {
        this.#active--;
        this.#pump();
        if (this.#active === 0 && this.#queue.length === 0) {
          for (const w of this.#idleWaiters.splice(0)) w();
        }
      });
    }
  }

  async #run(job: Job): Promise<void> {
    const { entry } = job;
    const signal = AbortSignal.timeout(this.#o.timeoutMs ?? 10_000);
    const count = entry.count;
    const series = { count, lastObservedTime: microTime(entry.lastObserved) };
    try {
      if (job.op === "create") {
        // A repeat that came while the create waited goes in with it.
        const event = count > 1 ? { ...entry.event, series } : entry.event;
        await this.#o.sender.send(entry.event.metadata.namespace, event, signal);
        this.stats.sent++;
      } else {
        await this.#patch(entry, series, signal);
      }
      entry.written = Math.max(entry.written, count);
    } catch (err) {
      if (this.#series.get(entry.key) === entry) this.#series.delete(entry.key); // start afresh
      if (isRefusal(err)) {
        this.#refuse(entry.event, apiMessage(err), err.httpStatus);
        return;
      }
      this.stats.failed++;
      this.#o.logger.warn(
        {
          err,
          reason: entry.event.reason,
          regarding: `${entry.event.regarding.kind}/${entry.event.regarding.name}`,
        },
        "could not record event; ignored",
      );
    } finally {
      if (job.op === "create") {
        entry.creating = false;
        if (entry.count > entry.written && entry.written > 0) this.#scheduleFlush();
      }
    }
  }

  /** PATCHes the series; when its Event is gone (expired), creates it anew with the count. */
  async #patch(entry: SeriesEntry, series: EventSeries, signal: AbortSignal): Promise<void> {
    const ns = entry.event.metadata.namespace;
    try {
      await this.#o.sender.patchSeries(ns, entry.event.metadata.name, series, signal);
      this.stats.patched++;
    } catch (err) {
      if (!(err instanceof KubeApiError && err.httpStatus === 404)) throw err;
      const fresh = buildEvent(
        { ...entry.event, kind: { type: entry.event.type, action: entry.event.action } },
        this.#o.reporter,
        this.#o.clock.now(),
        randomBytes(3).toString("hex"),
      );
      entry.event = fresh;
      await this.#o.sender.send(ns, { ...fresh, series }, signal);
      this.stats.sent++;
    }
  }
}

/** Real timers that do not keep the process alive for a pending series PATCH. */
const unrefTimers: Pick<Timers, "set"> = {
  set(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

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

/** Sends events with POST /apis/events.k8s.io/v1/namespaces/<ns>/events, series with a merge PATCH. */
export function kubeEventSender(api: KubeApi): EventSender {
  return {
    send: (namespace, event, signal) => api.createEvent(namespace, event, { signal }),
    patchSeries: async (namespace, name, series, signal) => {
      await api.patch(
        `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events/${encodeURIComponent(name)}`,
        "merge",
        { series },
        { what: `PATCH event ${name}`, signal },
      );
    },
  };
}
