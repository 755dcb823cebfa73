// Persists the trigger-round state (see gate.ts) in a small ConfigMap in the controller's namespace,
// so a restarted or newly elected controller carries on with the round its predecessor opened.
// Only the leader writes it, and every write is conditional on the resourceVersion last read.
//
// The same ConfigMap carries the leader's effective settings (limit, schedule, own node, identity),
// published once per leadership term, so `brupop status` can explain the schedule and concurrency
// verdicts from the API alone (see docs/status.md).
import { BrupopError, isConflict, isNotFound } from "../../errors.js";
import { ifFound, type CallOptions, type KubeApi } from "../../k8s/api.js";
import { paths, type KubeConfigMap } from "../../k8s/objects.js";
import type { ConcurrencyLimit } from "../decide/decisions.js";
import {
  ROUND_EXPRESSION_KEY,
  roundStateFromData,
  roundStateToData,
  type RoundState,
} from "../decide/gate.js";

export const DEFAULT_STATE_CONFIGMAP = "brupop-controller-state";

/** What the leader publishes about itself. */
export interface PublishedSettings {
  maxConcurrent: ConcurrencyLimit;
  /** The 7-field cron expression in force. */
  schedule: string;
  /** Node hosting the leader (MY_NODE_NAME; updated last), null if unknown. */
  controllerNode: string | null;
  /** Leader identity (POD_NAME, or hostname + suffix). */
  leader: string;
  /** When this leadership term started (RFC 3339). */
  leaderSince: string;
}

export const SETTINGS_MAX_CONCURRENT_KEY = "max-concurrent";
/** Shared with the round state: both write the same expression. */
export const SETTINGS_SCHEDULE_KEY = ROUND_EXPRESSION_KEY;
export const SETTINGS_CONTROLLER_NODE_KEY = "controller-node";
export const SETTINGS_LEADER_KEY = "leader";
export const SETTINGS_LEADER_SINCE_KEY = "leader-since";

export function settingsToData(s: PublishedSettings): Record<string, string> {
  return {
    [SETTINGS_MAX_CONCURRENT_KEY]: String(s.maxConcurrent),
    [SETTINGS_SCHEDULE_KEY]: s.schedule,
    [SETTINGS_CONTROLLER_NODE_KEY]: s.controllerNode ?? "",
    [SETTINGS_LEADER_KEY]: s.leader,
    [SETTINGS_LEADER_SINCE_KEY]: s.leaderSince,
  };
}

/**
 * null when the data holds no (valid) settings, e.g. a controller that predates publishing them. The
 * schedule expression is returned as written; the reader parses it.
 */
export function settingsFromData(data: Record<string, string> | undefined): PublishedSettings | null {
  const limit = data?.[SETTINGS_MAX_CONCURRENT_KEY];
  const schedule = data?.[SETTINGS_SCHEDULE_KEY];
  if (data === undefined || limit === undefined || schedule === undefined || schedule.trim() === "")
    return null;
  let maxConcurrent: ConcurrencyLimit;
  if (limit === "unlimited") maxConcurrent = "unlimited";
  else if (/^[1-9]\d*$/.test(limit)) maxConcurrent = Number(limit);
  else return null;
  const node = data[SETTINGS_CONTROLLER_NODE_KEY] ?? "";
  return {
    maxConcurrent,
    schedule,
    controllerNode: node === "" ? null : node,
    leader: data[SETTINGS_LEADER_KEY] ?? "",
    leaderSince: data[SETTINGS_LEADER_SINCE_KEY] ?? "",
  };
}

export interface RoundStore {
  /** The persisted state, or null if there is none (first start). */
  load(signal?: AbortSignal): Promise<RoundState | null>;
  /** Writes the state; false when someone else changed it since load (reload and retry). */
  save(state: RoundState, expression: string, signal?: AbortSignal): Promise<boolean>;
  /**
   * Publishes the leader's settings next to the round state, leaving the round keys untouched. The
   * caller must load() afterwards before its next save() (this write moves the resourceVersion).
   */
  publishSettings?(settings: PublishedSettings, signal?: AbortSignal): Promise<void>;
}

export class ConfigMapRoundStore implements RoundStore {
  readonly #api: KubeApi;
  readonly #namespace: string;
  readonly #name: string;
  /** resourceVersion of the ConfigMap as last read or written; undefined when it does not exist. */
  #rv: string | undefined;

  constructor(api: KubeApi, namespace: string, name = DEFAULT_STATE_CONFIGMAP) {
    this.#api = api;
    this.#namespace = namespace;
    this.#name = name;
  }

  #opts(method: string, signal: AbortSignal | undefined): CallOptions {
    return { signal, timeoutMs: 10_000, what: `${method} configmap ${this.#namespace}/${this.#name}` };
  }

  /** The ConfigMap, or undefined when it does not exist. */
  #read(signal: AbortSignal | undefined): Promise<KubeConfigMap | undefined> {
    return ifFound(
      this.#api.get<KubeConfigMap>(paths.configMap(this.#namespace, this.#name), this.#opts("GET", signal)),
    );
  }

  /**
   * Creates the ConfigMap (rv undefined) or merges `data` into it at resourceVersion `rv`. Undefined
   * when someone else wrote first (409, or 404: it was deleted under us).
   */
  async #write(
    rv: string | undefined,
    data: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<KubeConfigMap | undefined> {
    try {
      return rv === undefined
        ? await this.#api.create<KubeConfigMap>(
            paths.configMaps(this.#namespace),
            controllerConfigMap(this.#namespace, this.#name, data),
            this.#opts("POST", signal),
          )
        : await this.#api.patch<KubeConfigMap>(
            paths.configMap(this.#namespace, this.#name),
            "merge",
            { metadata: { resourceVersion: rv }, data },
            this.#opts("PATCH", signal),
          );
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) return undefined;
      throw err;
    }
  }

  async load(signal?: AbortSignal): Promise<RoundState | null> {
    const cm = await this.#read(signal);
    this.#rv = cm?.metadata?.resourceVersion;
    return cm === undefined ? null : roundStateFromData(cm.data);
  }

  async save(state: RoundState, expression: string, signal?: AbortSignal): Promise<boolean> {
    const written = await this.#write(this.#rv, roundStateToData(state, expression), signal);
    if (written === undefined) {
      await this.load(signal).catch(() => undefined);
      return false;
    }
    this.#rv = written.metadata?.resourceVersion;
    return true;
  }

  async publishSettings(settings: PublishedSettings, signal?: AbortSignal): Promise<void> {
    const data = settingsToData(settings);
    // Conditional like every write here; a conflict (the old leader's last round write) is retried.
    for (let attempt = 1; attempt <= 3; attempt++) {
      const cur = await this.#read(signal);
      const rv = cur?.metadata?.resourceVersion;
      if (rv !== undefined && Object.entries(data).every(([k, v]) => cur?.data?.[k] === v)) return;
      if ((await this.#write(rv, data, signal)) !== undefined) return;
    }
    throw new BrupopError(
      "BRUPOP_E_CONFLICT",
      `configmap ${this.#namespace}/${this.#name}: settings write kept conflicting`,
    );
  }
}

/** A ConfigMap the controller owns (the round state and settings, the blocker verdicts). */
export function controllerConfigMap(namespace: string, name: string, data: Record<string, string>): object {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name,
      namespace,
      labels: {
        "app.kubernetes.io/managed-by": "brupop",
        "app.kubernetes.io/component": "brupop-controller",
      },
    },
    data,
  };
}

/** In-memory store (tests, demo without persistence). */
export class MemoryRoundStore implements RoundStore {
  state: RoundState | null = null;
  settings: PublishedSettings | null = null;
  publishSettings(settings: PublishedSettings): Promise<void> {
    this.settings = { ...settings };
    return Promise.resolve();
  }
  load(): Promise<RoundState | null> {
    return Promise.resolve(this.state === null ? null : { ...this.state });
  }
  save(state: RoundState): Promise<boolean> {
    this.state = { ...state };
    return Promise.resolve(true);
  }
}
