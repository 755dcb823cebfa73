// Update blockers (issue 19): the controller does not START a node's update (give it a new target)
// while
//   - pods matching a label selector run on that node (one pod LIST per candidate, with
//     fieldSelector spec.nodeName and the selector: only for nodes the plan would start), or
//   - a Prometheus alert query answers firing alerts (kured's --prometheus-url,
//     --alert-filter-regexp, --alert-filter-match-only, --alert-firing-only: GET {url}/api/v1/alerts;
//     one query per tick, only when the plan would start a node).
// Nodes already updating continue. A check that fails (API or Prometheus unreachable, bad answer)
// blocks, as in kured: no new update starts on a guess. With no blocker configured the controller
// makes no extra request.
import type { Logger } from "pino";
import { Gauge, type Registry } from "prom-client";
import { exchange, parseBody } from "../../http/core.js";
import type { KubeApi } from "../../k8s/api.js";
import { paths, type KubePod } from "../../k8s/objects.js";
import { nodeNameForShadow } from "../../model/constants.js";
import { isCandidate, planTick, type TickInput, type TickPlan } from "./decisions.js";
import { forEachBounded } from "../../runtime/loop.js";

export interface PrometheusBlockerSettings {
  /** Base URL; the query is GET {url}/api/v1/alerts. */
  url: URL;
  /** Alert names matching this are ignored (kured's --alert-filter-regexp)... */
  filter?: RegExp | undefined;
  /** ...unless matchOnly: then ONLY matching alerts block (kured's --alert-filter-match-only). */
  matchOnly: boolean;
  /** Only firing alerts block; false: pending ones too (kured's --alert-firing-only, default false). */
  firingOnly: boolean;
  timeoutMs: number;
}

export interface BlockerSettings {
  /** Label selector of the pods that hold back an update of the node they run on. */
  podSelector?: string | undefined;
  prometheus?: PrometheusBlockerSettings | undefined;
}

/** Why a node may not start. */
export type Blocker =
  | { kind: "pods"; pods: string[] }
  | { kind: "alerts"; alerts: string[] }
  | { kind: "check-failed"; check: "pods" | "alerts"; error: string };

export function describeBlocker(b: Blocker): string {
  switch (b.kind) {
    case "pods":
      return `blocked by pod${b.pods.length === 1 ? "" : "s"} ${b.pods.join(", ")} on the node`;
    case "alerts":
      return `blocked by firing alert${b.alerts.length === 1 ? "" : "s"} ${b.alerts.join(", ")}`;
    case "check-failed":
      return `blocked: could not check for blocking ${b.check === "pods" ? "pods" : "alerts"} (${b.error})`;
  }
}

/** Pods that block: still running or about to (completed ones hold nothing). As namespace/name, sorted. */
export function blockingPods(pods: readonly KubePod[]): string[] {
  return pods
    .filter((p) => p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed")
    .map((p) => `${p.metadata?.namespace ?? ""}/${p.metadata?.name ?? ""}`)
    .sort();
}

/**
 * The alert names that block, from a Prometheus /api/v1/alerts answer (sorted, unique). Throws on
 * an answer that is not one (a wrong URL must not look like "no alerts").
 */
export function blockingAlerts(
  body: unknown,
  opts: Pick<PrometheusBlockerSettings, "filter" | "matchOnly" | "firingOnly">,
): string[] {
  const data = (body as { status?: unknown; data?: { alerts?: unknown } } | undefined) ?? {};
  if (data.status !== "success" || !Array.isArray(data.data?.alerts)) {
    throw new Error("not a Prometheus /api/v1/alerts answer");
  }
  const names = new Set<string>();
  for (const a of data.data.alerts as { labels?: Record<string, unknown>; state?: unknown }[]) {
    const name = a.labels?.["alertname"];
    if (typeof name !== "string") continue;
    if (opts.firingOnly && a.state !== "firing") continue;
    if (opts.filter !== undefined && opts.filter.test(name) !== opts.matchOnly) continue;
    names.add(name);
  }
  return [...names].sort();
}

/**
 * The plan with the blocked starts taken out (a blocked node's slot goes to the next candidate,
 * which is checked in turn), and the blocked nodes by shadow name.
 */
export async function planUnblocked(
  checks: BlockerChecks | undefined,
  input: TickInput,
  signal: AbortSignal,
): Promise<{ plan: TickPlan; blocked: Map<string, Blocker> }> {
  const blocked = new Map<string, Blocker>();
  let plan = planTick(input);
  if (checks === undefined) return { plan, blocked };
  const starts = (p: TickPlan): string[] => p.changes.filter((c) => c.reason === "start").map((c) => c.name);
  let pending = starts(plan);
  if (pending.length === 0) return { plan, blocked };
  const fleet = await checks.fleet(signal);
  if (fleet !== undefined) {
    // Nothing may start: every candidate is blocked by the same alerts.
    for (const s of input.shadows) if (isCandidate(s, input.now)) blocked.set(s.metadata.name ?? "", fleet);
    return { plan: planTick({ ...input, updatesAllowed: false }), blocked };
  }
  while (pending.length > 0) {
    const found = await checks.nodes(pending, signal);
    if (found.size === 0) break;
    for (const [name, b] of found) blocked.set(name, b);
    plan = planTick({ ...input, shadows: input.shadows.filter((s) => !blocked.has(s.metadata.name ?? "")) });
    pending = starts(plan).filter((n) => !blocked.has(n));
  }
  return { plan, blocked };
}

/** Pod LISTs in flight at once (a fleet with MAX_CONCURRENT_UPDATE=unlimited may start many nodes). */
export const NODE_CHECK_CONCURRENCY = 8;

/** The checks of one tick (I/O); injected so planUnblocked can be tested with tables. */
export interface BlockerChecks {
  /** A blocker of the whole fleet (firing alerts), or none. */
  fleet(signal: AbortSignal): Promise<Blocker | undefined>;
  /** Blockers of these nodes (by shadow name); absent: not blocked. */
  nodes(shadows: readonly string[], signal: AbortSignal): Promise<Map<string, Blocker>>;
}

/** The configured blockers, checked against the cluster and Prometheus. */
export class Blockers implements BlockerChecks {
  readonly #s: BlockerSettings;
  readonly #api: KubeApi;
  readonly #log: Logger;
  readonly #gauge: Gauge | undefined;
  readonly #onBlocked: ((shadow: string, blocker: Blocker) => void) | undefined;
  /** The last tick's verdicts (for explain), by shadow name. */
  last: ReadonlyMap<string, Blocker> = new Map();

  /** `onBlocked`: a node newly blocked, or blocked by something else than at the last tick. */
  constructor(
    settings: BlockerSettings,
    deps: {
      api: KubeApi;
      logger: Logger;
      registry?: Registry;
      onBlocked?: (shadow: string, blocker: Blocker) => void;
    },
  ) {
    this.#s = settings;
    this.#onBlocked = deps.onBlocked;
    this.#api = deps.api;
    this.#log = deps.logger;
    if (deps.registry !== undefined) {
      this.#gauge = new Gauge({
        name: "brupop_controller_blocked_nodes",
        help: "Nodes that would start an update but are held back by a blocker (pods or alerts)",
        registers: [deps.registry],
      });
    }
  }

  /** True when any blocker is configured. */
  static enabled(s: BlockerSettings): boolean {
    return s.podSelector !== undefined || s.prometheus !== undefined;
  }

  /** Records a tick's verdicts: metric, and a log line when the set of blocked nodes changes. */
  recordVerdicts(blocked: ReadonlyMap<string, Blocker>): void {
    const before = [...this.last.entries()].map(([n, b]) => `${n}:${describeBlocker(b)}`).join("|");
    const after = [...blocked.entries()].map(([n, b]) => `${n}:${describeBlocker(b)}`).join("|");
    for (const [name, b] of blocked) {
      const was = this.last.get(name);
      if (was === undefined || describeBlocker(was) !== describeBlocker(b)) this.#onBlocked?.(name, b);
    }
    this.last = blocked;
    this.#gauge?.set(blocked.size);
    if (before !== after && blocked.size > 0) {
      this.#log.info(
        { blocked: Object.fromEntries([...blocked].map(([n, b]) => [n, describeBlocker(b)])) },
        "update start held back by blockers",
      );
    }
  }

  async fleet(signal: AbortSignal): Promise<Blocker | undefined> {
    const p = this.#s.prometheus;
    if (p === undefined) return undefined;
    try {
      const url = new URL("api/v1/alerts", p.url.href.endsWith("/") ? p.url : new URL(`${p.url.href}/`));
      const res = await exchange({
        url,
        options: { method: "GET", headers: { Accept: "application/json" } },
        deadlineMs: p.timeoutMs,
        onTimeout: () => new Error(`no answer within ${p.timeoutMs} ms`),
        signal,
        maxBodyBytes: 16 * 1024 * 1024,
        onTooLarge: () => new Error("answer too large"),
      });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      const alerts = blockingAlerts(parseBody(res.text), p);
      return alerts.length > 0 ? { kind: "alerts", alerts } : undefined;
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.#log.warn({ error, url: p.url.href }, "Prometheus alert check failed; no update starts");
      return { kind: "check-failed", check: "alerts", error };
    }
  }

  async nodes(shadows: readonly string[], signal: AbortSignal): Promise<Map<string, Blocker>> {
    const out = new Map<string, Blocker>();
    const selector = this.#s.podSelector;
    if (selector === undefined) return out;
    await forEachBounded(shadows, NODE_CHECK_CONCURRENCY, async (shadow) => {
      const node = nodeNameForShadow(shadow) ?? shadow;
      try {
        const list = await this.#api.list<KubePod>(paths.pods(), {
          query: { fieldSelector: `spec.nodeName=${node}`, labelSelector: selector },
          signal,
          what: `list blocking pods on ${node}`,
        });
        const pods = blockingPods(list.items ?? []);
        if (pods.length > 0) out.set(shadow, { kind: "pods", pods });
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        this.#log.warn({ error, node }, "blocking-pod check failed; the node does not start");
        out.set(shadow, { kind: "check-failed", check: "pods", error });
      }
    });
    return out;
  }
}
