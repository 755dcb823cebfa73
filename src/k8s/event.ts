// One Kubernetes Event (events.k8s.io/v1) as kube-apiserver takes it: its types, where every field
// kube-apiserver requires is required (issue 34), kube's limits, and the one builder. What the types
// cannot check (lengths, name syntax) is `eventProblems` (event-problems.ts); recording, queueing and
// count-aggregating repeats is the EventRecorder (events.ts).

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

/** The longest name or DNS subdomain kube takes (an Event's name, a qualified name's prefix). */
export const MAX_NAME = 253;

/** A string's length as Go's len counts it: UTF-8 bytes. */
export const utf8Bytes = (s: string): number => Buffer.byteLength(s, "utf8");

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
