// Marks during an update: labels, annotations and taints the apiserver puts on a Node together with
// brupop's cordon and takes off with its uncordon (UPDATE_NODE_LABELS / _ANNOTATIONS / _TAINTS; e.g.
// `karpenter.sh/do-not-disrupt=true` so an autoscaler leaves the node alone while it updates).
//
// Ownership, like the cordon's: brupop records in UPDATE_MARKS_ANNOTATION, in the same patch, each
// mark it set, with the value it set and the one it replaced (null: there was none). Unmarking
// restores only marks that still hold the value brupop set; a mark that was already there as asked
// is not recorded, so it stays after the update. Both builders are pure and decide from the node as
// read, so a retried cordon or uncordon (after a crash, a 409) converges.
import { API_GROUP, EXCLUDE_FROM_LB_LABEL, UPDATER_INTERFACE_LABEL } from "../model/constants.js";
import { isLabelValue, isQualifiedName } from "../k8s/label-selector.js";
import type { KubeNode, Taint } from "../k8s/objects.js";

export const UPDATE_MARKS_ANNOTATION = `${API_GROUP}/update-marks`;

export type TaintEffect = "NoSchedule" | "PreferNoSchedule";

export interface NodeTaint {
  readonly key: string;
  readonly value: string;
  readonly effect: TaintEffect;
}

export interface NodeMarks {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly taints: readonly NodeTaint[];
}

export const NO_MARKS: NodeMarks = { labels: {}, annotations: {}, taints: [] };

export function hasMarks(marks: NodeMarks): boolean {
  return (
    Object.keys(marks.labels).length > 0 ||
    Object.keys(marks.annotations).length > 0 ||
    marks.taints.length > 0
  );
}

// --- settings syntax (pure; errors say what is wrong, the config layer names the variable) ---

/** Keys brupop or Kubernetes manage on the node themselves. */
function reserved(key: string): boolean {
  return (
    key.startsWith(`${API_GROUP}/`) ||
    key === UPDATER_INTERFACE_LABEL ||
    key === EXCLUDE_FROM_LB_LABEL ||
    key === "node.kubernetes.io/unschedulable"
  );
}

function checkKey(key: string, kind: string): void {
  if (!isQualifiedName(key)) throw new Error(`"${key}" is not a valid ${kind} key`);
  if (reserved(key)) throw new Error(`${kind} ${key} is managed by brupop or Kubernetes, not a mark`);
}

function entries(raw: string): string[] {
  const items = raw.split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) throw new Error("empty item (stray comma)");
  return items;
}

/** `k=v,k2=v2` → labels (pure). Throws on bad syntax, bad keys or values, duplicates, reserved keys. */
export function parseLabelMarks(raw: string): Record<string, string> {
  return parsePairs(raw, "label", (value) => {
    if (!isLabelValue(value)) throw new Error(`"${value}" is not a valid label value`);
  });
}

/** `k=v,k2=v2` → annotations (pure); a value is any text without a comma. */
export function parseAnnotationMarks(raw: string): Record<string, string> {
  return parsePairs(raw, "annotation", () => undefined);
}

function parsePairs(raw: string, kind: string, checkValue: (v: string) => void): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of entries(raw)) {
    const eq = item.indexOf("=");
    if (eq === -1) throw new Error(`"${item}" is not key=value`);
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    checkKey(key, kind);
    checkValue(value);
    if (Object.hasOwn(out, key)) throw new Error(`${kind} ${key} given twice`);
    out[key] = value;
  }
  return out;
}

const EFFECTS: readonly string[] = ["NoSchedule", "PreferNoSchedule"];

/** `key=value:Effect,key:Effect` (kubectl taint's syntax) → taints (pure). NoExecute is refused. */
export function parseTaintMarks(raw: string): NodeTaint[] {
  const out: NodeTaint[] = [];
  for (const item of entries(raw)) {
    const colon = item.lastIndexOf(":");
    if (colon === -1) throw new Error(`"${item}" is not key[=value]:Effect`);
    const effect = item.slice(colon + 1).trim();
    const kv = item.slice(0, colon);
    const eq = kv.indexOf("=");
    const key = (eq === -1 ? kv : kv.slice(0, eq)).trim();
    const value = eq === -1 ? "" : kv.slice(eq + 1).trim();
    checkKey(key, "taint");
    if (!isLabelValue(value)) throw new Error(`"${value}" is not a valid taint value`);
    if (effect === "NoExecute") {
      throw new Error(
        `${key}: NoExecute would evict brupop's own agent from the node; use NoSchedule or PreferNoSchedule`,
      );
    }
    if (!EFFECTS.includes(effect))
      throw new Error(`"${effect}" is not a taint effect (NoSchedule, PreferNoSchedule)`);
    if (out.some((t) => t.key === key && t.effect === effect))
      throw new Error(`taint ${key}:${effect} given twice`);
    out.push({ key, value, effect: effect as TaintEffect });
  }
  return out;
}

// --- the record and the patches ---

interface Owned {
  /** The value brupop set. */
  set: string;
  /** The value it replaced; null: the mark was absent. */
  prev: string | null;
}

interface MarkRecord {
  labels: Record<string, Owned>;
  annotations: Record<string, Owned>;
  /** By `key:effect` (a taint's identity). */
  taints: Record<string, Owned>;
}

function emptyRecord(): MarkRecord {
  return { labels: {}, annotations: {}, taints: {} };
}

function ownedMap(v: unknown): Record<string, Owned> {
  const out: Record<string, Owned> = {};
  if (typeof v !== "object" || v === null) return out;
  for (const [k, o] of Object.entries(v as Record<string, unknown>)) {
    const e = o as { set?: unknown; prev?: unknown } | null;
    if (typeof e?.set === "string" && (typeof e.prev === "string" || e.prev === null)) {
      out[k] = { set: e.set, prev: e.prev };
    }
  }
  return out;
}

/** The record on the node; undefined when there is none. An unreadable one reads as empty. */
export function markRecordOf(node: KubeNode): MarkRecord | undefined {
  const text = node.metadata?.annotations?.[UPDATE_MARKS_ANNOTATION];
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as Record<string, unknown> | null;
    return {
      labels: ownedMap(v?.labels),
      annotations: ownedMap(v?.annotations),
      taints: ownedMap(v?.taints),
    };
  } catch {
    return emptyRecord();
  }
}

const taintId = (t: { key?: string | undefined; effect?: string | undefined }): string =>
  `${t.key ?? ""}:${t.effect ?? ""}`;

/** The parts of a merge patch that mark or unmark (labels, annotations, the whole taint list). */
export interface MarkPatch {
  labels?: Record<string, string | null>;
  annotations?: Record<string, string | null>;
  taints?: Taint[];
}

/** Sets `want` over the current map, recording what it replaced; returns whether anything changed. */
function markMap(
  current: Readonly<Record<string, string>>,
  want: Readonly<Record<string, string>>,
  record: Record<string, Owned>,
  out: Record<string, string | null>,
): boolean {
  let changed = false;
  for (const [key, value] of Object.entries(want)) {
    const now = Object.hasOwn(current, key) ? current[key] : undefined;
    if (now === value) continue;
    record[key] = { set: value, prev: record[key]?.prev ?? now ?? null };
    out[key] = value;
    changed = true;
  }
  return changed;
}

/** Puts the marks missing from the node and records them (pure); undefined when all are in place. */
export function markPatch(node: KubeNode, marks: NodeMarks): MarkPatch | undefined {
  if (!hasMarks(marks)) return undefined;
  const record = markRecordOf(node) ?? emptyRecord();
  const labels: Record<string, string | null> = {};
  const annotations: Record<string, string | null> = {};
  const labelsChanged = markMap(node.metadata?.labels ?? {}, marks.labels, record.labels, labels);
  const annotationsChanged = markMap(
    node.metadata?.annotations ?? {},
    marks.annotations,
    record.annotations,
    annotations,
  );
  const taints = markTaints(node.spec?.taints ?? [], marks.taints, record.taints);
  if (!labelsChanged && !annotationsChanged && taints === undefined) return undefined;
  annotations[UPDATE_MARKS_ANNOTATION] = JSON.stringify(record);
  const patch: MarkPatch = { annotations };
  if (labelsChanged) patch.labels = labels;
  if (taints !== undefined) patch.taints = taints;
  return patch;
}

/** The taint list with `want` in place, recording what it replaced; undefined when unchanged. */
function markTaints(
  current: readonly Taint[],
  want: readonly NodeTaint[],
  record: Record<string, Owned>,
): Taint[] | undefined {
  const taints = [...current];
  let changed = false;
  for (const w of want) {
    const id = taintId(w);
    const at = taints.findIndex((t) => taintId(t) === id);
    const now = at === -1 ? undefined : (taints[at]?.value ?? "");
    if (now === w.value) continue;
    record[id] = { set: w.value, prev: record[id]?.prev ?? now ?? null };
    const taint: Taint = { key: w.key, effect: w.effect, ...(w.value === "" ? {} : { value: w.value }) };
    if (at === -1) taints.push(taint);
    else taints[at] = taint;
    changed = true;
  }
  return changed ? taints : undefined;
}

/** The taint list without the taints brupop recorded (restored where it replaced one); undefined when unchanged. */
function unmarkTaints(
  current: readonly Taint[],
  record: Readonly<Record<string, Owned>>,
): Taint[] | undefined {
  let changed = false;
  const taints: Taint[] = [];
  for (const t of current) {
    const o = record[taintId(t)];
    if (o === undefined || (t.value ?? "") !== o.set) {
      taints.push(t);
      continue;
    }
    changed = true;
    if (o.prev === null) continue;
    const { value: _old, ...rest } = t;
    taints.push(o.prev === "" ? rest : { ...rest, value: o.prev });
  }
  return changed ? taints : undefined;
}

function unmarkMap(
  current: Readonly<Record<string, string>>,
  owned: Readonly<Record<string, Owned>>,
  out: Record<string, string | null>,
): void {
  for (const [key, o] of Object.entries(owned)) {
    // Someone changed it since: theirs now.
    if (Object.hasOwn(current, key) && current[key] === o.set) out[key] = o.prev;
  }
}

/** Takes off the marks brupop recorded and the record itself (pure); undefined without a record. */
export function unmarkPatch(node: KubeNode): MarkPatch | undefined {
  const record = markRecordOf(node);
  if (record === undefined) return undefined;
  const labels: Record<string, string | null> = {};
  const annotations: Record<string, string | null> = {};
  unmarkMap(node.metadata?.labels ?? {}, record.labels, labels);
  unmarkMap(node.metadata?.annotations ?? {}, record.annotations, annotations);
  annotations[UPDATE_MARKS_ANNOTATION] = null;
  const patch: MarkPatch = { annotations };
  if (Object.keys(labels).length > 0) patch.labels = labels;
  const taints = unmarkTaints(node.spec?.taints ?? [], record.taints);
  if (taints !== undefined) patch.taints = taints;
  return patch;
}
