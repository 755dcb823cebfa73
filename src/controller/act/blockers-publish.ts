// Publishes the controller's blocker verdicts (blockers.ts) for `brupop status` and the demo (issue 32):
// the ConfigMap `brupop-blockers` in brupop's namespace holds, per shadow the controller holds back,
// what holds it (the pods on its node, the firing alerts, a check that failed), and the identity of
// the leader that decided it. Only `brupop status` can tell pods and alerts apart from "starting":
// status cannot compute them itself (the alert check needs Prometheus, which a status user cannot
// reach, and the pod LIST needs cluster-wide pod reads).
//
// Derived state, crash-only: written only when the verdict changes (never once per tick), and checked
// against what is stored at the first publish of every leadership term, so a new leader rewrites a
// stale map. Best effort: a failed write is logged, never stops the tick, and is retried after
// PUBLISH_RETRY_MS. With no blocker configured the controller neither reads nor writes it; status
// ignores a map written by another leader than the one that published the settings.
import type { Logger } from "pino";
import type { Timers } from "../../clock.js";
import { BrupopError, isConflict, isNotFound } from "../../errors.js";
import type { KubeApi } from "../../k8s/api.js";
import { paths, type KubeConfigMap } from "../../k8s/objects.js";
import type { Blocker } from "../decide/blockers.js";
import { controllerConfigMap } from "./round-store.js";

export const BLOCKERS_CONFIGMAP = "brupop-blockers";
/** After a failed write, the next attempt waits this long (a missing RBAC verb costs little). */
export const PUBLISH_RETRY_MS = 30_000;

/** What the ConfigMap says (pure decode of its data). */
export interface PublishedBlockers {
  /** The controller identity that decided these verdicts. */
  leader: string;
  /** Blocked shadows by name. */
  blocked: Map<string, Blocker>;
}

/**
 * At most this many shadows, and names per verdict, are published: a ConfigMap holds at most 1 MiB,
 * and a fleet-wide verdict (an alert) is the same for every waiting shadow. Shadows past the cap show
 * as "starting" in `brupop status`; the controller's explanation still names their blockers.
 */
export const MAX_PUBLISHED_SHADOWS = 500;
export const MAX_PUBLISHED_NAMES = 20;

function capped(b: Blocker): Blocker {
  if (b.kind === "pods") return { kind: "pods", pods: b.pods.slice(0, MAX_PUBLISHED_NAMES) };
  if (b.kind === "alerts") return { kind: "alerts", alerts: b.alerts.slice(0, MAX_PUBLISHED_NAMES) };
  return { ...b, error: b.error.slice(0, 512) };
}

/** The ConfigMap's data for these verdicts: `leader` and `blocked` (JSON, keys sorted: stable text). */
export function blockersToData(
  leader: string,
  blocked: ReadonlyMap<string, Blocker>,
): Record<string, string> {
  const sorted = [...blocked.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, MAX_PUBLISHED_SHADOWS)
    .map(([name, b]) => [name, capped(b)] as const);
  return { leader, blocked: JSON.stringify(Object.fromEntries(sorted)) };
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string");
}

/** One verdict as stored, or undefined when it is not one (a newer or hand-edited map). */
export function parseBlocker(v: unknown): Blocker | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  switch (o["kind"]) {
    case "pods":
      return isStringArray(o["pods"]) ? { kind: "pods", pods: o["pods"] } : undefined;
    case "alerts":
      return isStringArray(o["alerts"]) ? { kind: "alerts", alerts: o["alerts"] } : undefined;
    case "check-failed": {
      const check = o["check"];
      const error = o["error"];
      if ((check !== "pods" && check !== "alerts") || typeof error !== "string") return undefined;
      return { kind: "check-failed", check, error };
    }
    default:
      return undefined;
  }
}

/** Decodes the data; undefined when there is no usable map (absent, no leader, bad JSON). */
export function blockersFromData(
  data: Record<string, string> | null | undefined,
): PublishedBlockers | undefined {
  const leader = data?.["leader"];
  const text = data?.["blocked"];
  if (leader === undefined || leader === "" || text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const blocked = new Map<string, Blocker>();
  for (const [shadow, v] of Object.entries(parsed as Record<string, unknown>)) {
    const b = parseBlocker(v);
    if (b !== undefined) blocked.set(shadow, b);
  }
  return { leader, blocked };
}

const sameData = (a: Record<string, string> | undefined, b: Record<string, string>): boolean =>
  a !== undefined && Object.entries(b).every(([k, v]) => a[k] === v);

export class BlockersPublisher {
  readonly #api: KubeApi;
  readonly #ns: string;
  readonly #name: string;
  readonly #log: Logger;
  readonly #timers: Timers;
  /** What is stored, as far as this leader knows (undefined: unknown, read before writing). */
  #stored: { term: object; data: Record<string, string> } | undefined;
  #retryAtMs = 0;
  /** Writes made (tests). */
  writes = 0;

  constructor(deps: { api: KubeApi; namespace: string; logger: Logger; timers: Timers; name?: string }) {
    this.#api = deps.api;
    this.#ns = deps.namespace;
    this.#name = deps.name ?? BLOCKERS_CONFIGMAP;
    this.#log = deps.logger;
    this.#timers = deps.timers;
  }

  /**
   * Makes the ConfigMap say `blocked`, decided by `leader` in leadership `term` (any object, compared
   * by identity: a new term reads what is stored first). Never throws.
   */
  async publish(
    blocked: ReadonlyMap<string, Blocker>,
    leader: { identity: string; term: object },
    signal: AbortSignal,
  ): Promise<void> {
    const data = blockersToData(leader.identity, blocked);
    const known = this.#stored?.term === leader.term ? this.#stored.data : undefined;
    if (sameData(known, data)) return;
    if (this.#timers.nowMs() < this.#retryAtMs) return;
    try {
      await this.#write(data, blocked.size === 0, signal);
      this.#stored = { term: leader.term, data };
    } catch (err) {
      this.#stored = undefined;
      this.#retryAtMs = this.#timers.nowMs() + PUBLISH_RETRY_MS;
      this.#log.warn(
        { err, configMap: `${this.#ns}/${this.#name}` },
        "could not publish the blocker verdicts for brupop status; retrying later",
      );
    }
  }

  async #write(data: Record<string, string>, empty: boolean, signal: AbortSignal): Promise<void> {
    const opts = (method: string) => ({
      signal,
      timeoutMs: 10_000,
      what: `${method} configmap ${this.#ns}/${this.#name}`,
    });
    for (let attempt = 1; attempt <= 3; attempt++) {
      let cur: KubeConfigMap | undefined;
      try {
        cur = await this.#api.get<KubeConfigMap>(paths.configMap(this.#ns, this.#name), opts("GET"));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (cur !== undefined && sameData(cur.data, data)) return;
      // Nothing blocked and nothing stored: nothing to say (a fleet without blocks never creates it).
      if (cur === undefined && empty) return;
      try {
        if (cur === undefined) {
          await this.#api.create(
            paths.configMaps(this.#ns),
            controllerConfigMap(this.#ns, this.#name, data),
            opts("POST"),
          );
        } else {
          const rv = cur.metadata?.resourceVersion;
          await this.#api.patch(
            paths.configMap(this.#ns, this.#name),
            "merge",
            { metadata: { resourceVersion: rv }, data },
            opts("PATCH"),
          );
        }
        this.writes++;
        return;
      } catch (err) {
        if (!isConflict(err) && !isNotFound(err)) throw err; // else: written meanwhile; read again
      }
    }
    throw new BrupopError(
      "BRUPOP_E_CONFLICT",
      `configmap ${this.#ns}/${this.#name}: the blockers write kept conflicting (3 conflicts)`,
    );
  }
}
