// Persists the trigger-round state (see gate.ts) in a small ConfigMap in the controller's namespace,
// so a restarted or newly elected controller carries on with the round its predecessor opened.
// Only the leader writes it, and every write is conditional on the resourceVersion last read.
import { BrupopError } from "../errors.js";
import type { KubeRest } from "../k8s/rest.js";
import { roundStateFromData, roundStateToData, type RoundState } from "./gate.js";

export const DEFAULT_STATE_CONFIGMAP = "brupop-controller-state";

export interface RoundStore {
  /** The persisted state, or null if there is none (first start). */
  load(signal?: AbortSignal): Promise<RoundState | null>;
  /** Writes the state; false when someone else changed it since load (reload and retry). */
  save(state: RoundState, expression: string, signal?: AbortSignal): Promise<boolean>;
}

interface ConfigMapLike {
  metadata?: { resourceVersion?: string };
  data?: Record<string, string>;
}

export class ConfigMapRoundStore implements RoundStore {
  readonly #rest: KubeRest;
  readonly #namespace: string;
  readonly #name: string;
  /** resourceVersion of the ConfigMap as last read or written; undefined when it does not exist. */
  #rv: string | undefined;

  constructor(rest: KubeRest, namespace: string, name = DEFAULT_STATE_CONFIGMAP) {
    this.#rest = rest;
    this.#namespace = namespace;
    this.#name = name;
  }

  get #collection(): string {
    return `/api/v1/namespaces/${this.#namespace}/configmaps`;
  }

  async load(signal?: AbortSignal): Promise<RoundState | null> {
    const res = await this.#rest.request<ConfigMapLike>("GET", `${this.#collection}/${this.#name}`, {
      signal,
      timeoutMs: 10_000,
    });
    if (res.status === 404) {
      this.#rv = undefined;
      return null;
    }
    this.#check(res.status, "GET");
    this.#rv = res.body.metadata?.resourceVersion;
    return roundStateFromData(res.body.data);
  }

  async save(state: RoundState, expression: string, signal?: AbortSignal): Promise<boolean> {
    const data = roundStateToData(state, expression);
    const res =
      this.#rv === undefined
        ? await this.#rest.request<ConfigMapLike>("POST", this.#collection, {
            body: {
              apiVersion: "v1",
              kind: "ConfigMap",
              metadata: {
                name: this.#name,
                namespace: this.#namespace,
                labels: {
                  "app.kubernetes.io/managed-by": "brupop",
                  "app.kubernetes.io/component": "brupop-controller",
                },
              },
              data,
            },
            signal,
            timeoutMs: 10_000,
          })
        : await this.#rest.request<ConfigMapLike>("PATCH", `${this.#collection}/${this.#name}`, {
            body: { metadata: { resourceVersion: this.#rv }, data },
            contentType: "application/merge-patch+json",
            signal,
            timeoutMs: 10_000,
          });
    if (res.status === 409 || res.status === 404) {
      await this.load(signal).catch(() => undefined);
      return false;
    }
    this.#check(res.status, this.#rv === undefined ? "POST" : "PATCH");
    this.#rv = res.body.metadata?.resourceVersion;
    return true;
  }

  #check(status: number, method: string): void {
    if (status < 200 || status >= 300) {
      throw new BrupopError(
        "BRUPOP_E_UPSTREAM",
        `${method} configmap ${this.#namespace}/${this.#name}: HTTP ${status}`,
        { status },
      );
    }
  }
}

/** In-memory store (tests, demo without persistence). */
export class MemoryRoundStore implements RoundStore {
  state: RoundState | null = null;
  load(): Promise<RoundState | null> {
    return Promise.resolve(this.state === null ? null : { ...this.state });
  }
  save(state: RoundState): Promise<boolean> {
    this.state = { ...state };
    return Promise.resolve(true);
  }
}
