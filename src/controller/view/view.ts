// The controller's view of the fleet: the informer cache, corrected by what we know to be newer.
//
// The cache lags the API by a watch event. If the controller decided on a lagging copy right after
// its own write it would see the node it just started as still idle, count one active node too few
// and could start one node too many (the conditional write for the lagging node fails, but the
// write for ANOTHER node succeeds). So every object we wrote (the API's answer) and every object of
// a quorum LIST taken when leadership starts goes into an overlay that wins over the cache until the
// cache has caught up (same or newer resourceVersion).
//
// resourceVersions are compared as integers when both are integers (etcd revisions, which is what
// every Kubernetes API server hands out); anything else only compares equal.
//
// Parsing is cached per (name, resourceVersion), so a tick over 1 000 unchanged shadows parses none.
import { isBrupopError } from "../../errors.js";
import type { RawShadow } from "../../k8s/objects.js";
import { parseShadow, type BottlerocketShadow } from "../../model/shadow.js";

export type { RawShadow } from "../../k8s/objects.js";

/** The shadow without metadata.managedFields (the view keeps what the controller reads). */
export function stripManagedFields(raw: RawShadow): RawShadow {
  if (raw.metadata !== undefined && "managedFields" in raw.metadata) delete raw.metadata["managedFields"];
  return raw;
}

export interface InvalidShadow {
  name: string;
  uid: string | undefined;
  resourceVersion: string | undefined;
  error: string;
}

export interface FleetView {
  shadows: BottlerocketShadow[];
  invalid: InvalidShadow[];
}

/** True if resourceVersion `a` is known to be at least `b`. */
export function rvAtLeast(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return BigInt(a) >= BigInt(b);
  return a === b;
}

interface OverlayEntry {
  raw: RawShadow;
  addedAtMs: number;
}

interface ParsedEntry {
  rv: string | undefined;
  shadow?: BottlerocketShadow;
  error?: string;
}

const nameOf = (raw: RawShadow): string => raw.metadata?.name ?? "";
const rvOf = (raw: RawShadow): string | undefined => raw.metadata?.resourceVersion;

export class ShadowView {
  readonly #overlay = new Map<string, OverlayEntry>();
  readonly #parsed = new Map<string, ParsedEntry>();
  readonly #nowMs: () => number;
  readonly #overlayTtlMs: number;

  /** Overlay entries for objects the cache never shows are forgotten after overlayTtlMs. */
  constructor(opts: { nowMs?: () => number; overlayTtlMs?: number } = {}) {
    this.#nowMs = opts.nowMs ?? (() => performance.now());
    this.#overlayTtlMs = opts.overlayTtlMs ?? 60_000;
  }

  /** An object as the API returned it after our write, or from a quorum read. */
  noteFresh(raw: RawShadow): void {
    const name = nameOf(raw);
    if (name === "") return;
    const existing = this.#overlay.get(name);
    if (
      existing !== undefined &&
      rvAtLeast(rvOf(existing.raw), rvOf(raw)) &&
      rvOf(existing.raw) !== rvOf(raw)
    )
      return;
    this.#overlay.set(name, { raw, addedAtMs: this.#nowMs() });
  }

  /** The informer saw the object deleted. */
  noteDeleted(raw: RawShadow): void {
    const name = nameOf(raw);
    const entry = this.#overlay.get(name);
    if (entry === undefined) return;
    // Our overlay copy may be newer than the deleted copy a relist reports; the TTL covers that.
    if (!rvAtLeast(rvOf(entry.raw), rvOf(raw)) || rvOf(entry.raw) === rvOf(raw)) this.#overlay.delete(name);
  }

  get overlaySize(): number {
    return this.#overlay.size;
  }

  /** Builds this tick's view from the cache's current items. */
  build(cacheItems: readonly RawShadow[]): FleetView {
    const now = this.#nowMs();
    const merged = new Map<string, RawShadow>();
    for (const raw of cacheItems) merged.set(nameOf(raw), raw);
    for (const [name, entry] of this.#overlay) {
      const cached = merged.get(name);
      if (cached !== undefined && rvAtLeast(rvOf(cached), rvOf(entry.raw))) {
        this.#overlay.delete(name); // the cache caught up
      } else if (cached === undefined && now - entry.addedAtMs > this.#overlayTtlMs) {
        this.#overlay.delete(name);
      } else {
        merged.set(name, entry.raw);
      }
    }
    const shadows: BottlerocketShadow[] = [];
    const invalid: InvalidShadow[] = [];
    for (const [name, raw] of merged) {
      if (name === "") continue;
      const parsed = this.#parse(name, raw);
      if (parsed.shadow !== undefined) shadows.push(parsed.shadow);
      else
        invalid.push({
          name,
          uid: raw.metadata?.uid,
          resourceVersion: rvOf(raw),
          error: parsed.error ?? "invalid",
        });
    }
    for (const name of this.#parsed.keys()) if (!merged.has(name)) this.#parsed.delete(name);
    shadows.sort((a, b) => (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""));
    return { shadows, invalid };
  }

  #parse(name: string, raw: RawShadow): ParsedEntry {
    const rv = rvOf(raw);
    const cached = this.#parsed.get(name);
    if (cached !== undefined && rv !== undefined && cached.rv === rv) return cached;
    let entry: ParsedEntry;
    try {
      entry = { rv, shadow: parseShadow(raw) };
    } catch (err) {
      // Whatever is wrong with one object must never stop the loop for the others.
      entry = { rv, error: isBrupopError(err) || err instanceof Error ? err.message : String(err) };
    }
    this.#parsed.set(name, entry);
    return entry;
  }
}
