// Lookups by name in one namespaced collection: an informer answers almost every lookup from memory,
// and a miss falls back to one GET, because the object may be newer than the watch (or, for a label-
// selected informer, may not carry the label: the caller then sees the real object). The fetched
// object goes through the same transform as the cached ones.
import { ifFound } from "./api.js";
import { Informer, type InformerOptions, type KubeObjectLike } from "./informer.js";

export interface CachedLookupOptions<T> extends InformerOptions<T> {
  namespace: string;
  /** The one GET on a cache miss (KubeApiError 404: does not exist). */
  fetch: (name: string, signal?: AbortSignal) => Promise<T>;
}

export class CachedLookup<T extends KubeObjectLike> {
  readonly #informer: Informer<T>;
  readonly #namespace: string;
  readonly #fetch: (name: string, signal?: AbortSignal) => Promise<T>;
  readonly #transform: (obj: T) => T;

  constructor(opts: CachedLookupOptions<T>) {
    const { namespace, fetch, ...informer } = opts;
    this.#informer = new Informer<T>(informer);
    this.#namespace = namespace;
    this.#fetch = fetch;
    this.#transform = opts.transform ?? ((obj) => obj);
  }

  get synced(): boolean {
    return this.#informer.synced;
  }

  start(): void {
    this.#informer.start();
  }

  waitForSync(): Promise<void> {
    return this.#informer.waitForSync();
  }

  stop(): Promise<void> {
    return this.#informer.stop();
  }

  /** The object named `name` as the informer holds it now; never a Kubernetes call. */
  peek(name: string): T | undefined {
    return this.#informer.get(name, this.#namespace);
  }

  /** The object named `name` in the namespace, or undefined when it does not exist. */
  async get(name: string, signal?: AbortSignal): Promise<T | undefined> {
    const cached = this.#informer.get(name, this.#namespace);
    if (cached !== undefined) return cached;
    const fresh = await ifFound(this.#fetch(name, signal));
    return fresh === undefined ? undefined : this.#transform(fresh);
  }
}
