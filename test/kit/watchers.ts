// Watchers the controller e2e uses to prove invariants over a whole rollout. They follow watch
// streams (events arrive in etcd order), so they see every intermediate state, not samples.
import { Informer } from "../../src/k8s/informer.js";
import type { KubeRest } from "../../src/k8s/rest.js";
import type { Logger } from "../../src/log.js";
import { PLURAL, API_GROUP } from "../../src/model/constants.js";
import type { ShadowSpec, ShadowStatus } from "../../src/model/shadow.js";
import type { ShadowState } from "../../src/model/state.js";

export interface RawBrs {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string };
  spec?: Partial<ShadowSpec>;
  status?: ShadowStatus;
}

export const shadowsPath = (ns: string): string => `/apis/${API_GROUP}/v2/namespaces/${ns}/${PLURAL}`;

/** Follows every shadow of a namespace: how many were outside Idle (spec or status) at once. */
export class FleetWatcher {
  readonly #informer: Informer<RawBrs>;
  readonly #states = new Map<string, { spec: ShadowState; status: ShadowState | undefined }>();
  maxOutsideIdle = 0;
  /** Every spec version each shadow ever had. */
  readonly specVersions = new Map<string, Set<string | null>>();
  /** The status states each shadow went through, in order (repeats collapsed). */
  readonly statusHistory = new Map<string, ShadowState[]>();

  constructor(rest: KubeRest, ns: string, logger: Logger) {
    this.#informer = new Informer<RawBrs>({ rest, path: shadowsPath(ns), logger });
    this.#informer.on((type, obj) => {
      const name = obj.metadata?.name ?? "";
      if (type === "delete") this.#states.delete(name);
      else {
        this.#states.set(name, { spec: obj.spec?.state ?? "Idle", status: obj.status?.current_state });
        const seen = this.specVersions.get(name) ?? new Set();
        seen.add(obj.spec?.version ?? null);
        this.specVersions.set(name, seen);
        const history = this.statusHistory.get(name) ?? [];
        const state = obj.status?.current_state;
        if (state !== undefined && history[history.length - 1] !== state) history.push(state);
        this.statusHistory.set(name, history);
      }
      this.maxOutsideIdle = Math.max(this.maxOutsideIdle, this.outsideIdle());
    });
  }

  outsideIdle(): number {
    return [...this.#states.values()].filter(
      (s) => s.spec !== "Idle" || (s.status !== undefined && s.status !== "Idle"),
    ).length;
  }

  start(): Promise<void> {
    this.#informer.start();
    return this.#informer.waitForSync();
  }

  stop(): Promise<void> {
    return this.#informer.stop();
  }
}

interface RawPod {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: { conditions?: { type: string; status: string }[] };
}

/**
 * Follows the pods matching a selector and counts the healthy ones the way the disruption
 * controller does: Ready and not being deleted. `minHealthy` is the lowest count seen since arm().
 */
export class HealthyPodsWatcher {
  readonly #informer: Informer<RawPod>;
  readonly #pods = new Map<string, RawPod>();
  #armed = false;
  minHealthy = Number.POSITIVE_INFINITY;
  /** Names of pods that were ever marked for deletion (evicted by a drain). */
  readonly deleted = new Set<string>();

  constructor(rest: KubeRest, ns: string, labelSelector: string, logger: Logger) {
    this.#informer = new Informer<RawPod>({
      rest,
      path: `/api/v1/namespaces/${ns}/pods`,
      labelSelector,
      logger,
    });
    this.#informer.on((type, pod) => {
      const name = pod.metadata?.name ?? "";
      if (type === "delete") this.#pods.delete(name);
      else this.#pods.set(name, pod);
      if (pod.metadata?.deletionTimestamp !== undefined || type === "delete") this.deleted.add(name);
      if (this.#armed) this.minHealthy = Math.min(this.minHealthy, this.healthy());
    });
  }

  healthy(): number {
    return [...this.#pods.values()].filter(
      (p) =>
        p.metadata?.deletionTimestamp === undefined &&
        p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true,
    ).length;
  }

  /** Starts recording the minimum from the current count. */
  arm(): void {
    this.#armed = true;
    this.minHealthy = this.healthy();
    this.deleted.clear();
  }

  start(): Promise<void> {
    this.#informer.start();
    return this.#informer.waitForSync();
  }

  stop(): Promise<void> {
    return this.#informer.stop();
  }
}
