// What kube-apiserver's events.k8s.io/v1 validation would refuse in an Event (k8s.io/kubernetes
// pkg/apis/core/validation/events.go), in its own words where it has them, and in a recorder's
// catalogue and reporter before any Event is made. An Event kube-apiserver refuses is a defect, not
// noise (issue 34): the recorder checks each Event here before sending it.
import {
  EVENT_LIMITS,
  MAX_NAME,
  utf8Bytes,
  type EventCatalogue,
  type EventReporter,
  type EventsV1Event,
} from "./event.js";

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

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
