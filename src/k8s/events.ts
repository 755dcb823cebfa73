// Kubernetes Events (events.k8s.io/v1) for things a component did to an object, so `kubectl describe`
// and `kubectl get events` show the history. The one way brupop records and sends an Event.
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
//
// The Event itself (types, limits, builder) is event.ts; what kube-apiserver would refuse in it is
// event-problems.ts.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import type { Clock, Timers } from "../clock.js";
import { BrupopError, KubeApiError } from "../errors.js";
import type { KubeApi } from "./api.js";
import {
  buildEvent,
  microTime,
  type EventCatalogue,
  type EventReporter,
  type EventSeries,
  type EventsV1Event,
  type ObjectReference,
} from "./event.js";
import { catalogueProblems, eventProblems } from "./event-problems.js";

export type {
  EventCatalogue,
  EventKind,
  EventReporter,
  EventSeries,
  EventsV1Event,
  EventType,
  ObjectReference,
} from "./event.js";

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
