// List+watch cache (an "informer") for one resource collection.
//
// Why not client-node's ListWatch: it stops for good on any watch error other than 410, has no
// watchdog for a silently dead stream, mixes deserialized LIST objects (Dates) with raw watch JSON,
// and lets a throwing handler break its loop. This one is a small state machine:
//   list → watch from the list's resourceVersion → on stream end resume from the last seen RV,
//   on 410 Gone relist, on any other error back off (exponential, jittered) and resume,
//   and a watchdog aborts a stream that has been silent longer than the server-side timeout.
// Handlers only get told "this key changed"; they must only enqueue work. They never break the loop.
import type { Logger } from "pino";
import { systemTimers, type Timers } from "../clock.js";
import { isGone } from "../errors.js";
import { backoffDelay, Wakeup } from "../runtime/loop.js";
import type { KubeApi } from "./api.js";

export interface KubeObjectLike {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; managedFields?: unknown };
}

interface WatchEvent<T> {
  type?: string;
  object?: T & { code?: number; reason?: string; message?: string };
}

export type InformerEventType = "add" | "update" | "delete";
export type InformerHandler<T> = (type: InformerEventType, obj: T) => void;

export interface InformerOptions<T> {
  rest: KubeApi;
  /** Collection path, e.g. `/api/v1/nodes`. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  logger: Logger;
  /**
   * Objects per LIST page (`limit`, following `continue` as client-go's reflector does with 500):
   * each page is transformed before the next is read, so a relist of a large collection holds
   * one page's JSON at a time, not the whole collection's. Default 500.
   */
  pageSize?: number;
  /** Applied to every object before it is cached, e.g. to drop fields nobody reads. */
  transform?: (obj: T) => T;
  /** Server-side watch timeout; the watchdog fires after this plus a grace period of silence. */
  watchTimeoutSeconds?: number;
  /** Silence tolerated beyond watchTimeoutSeconds before the watchdog restarts the stream. */
  watchdogGraceMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** What the back-off waits on (default real timers). */
  timers?: Timers;
}

type WatchOutcome = "ended" | "gone" | "error";

/** client-go's reflector pages its LISTs by 500 too. */
const DEFAULT_PAGE_SIZE = 500;

function keyOf(obj: KubeObjectLike): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? "";
  return ns === undefined || ns === "" ? name : `${ns}/${name}`;
}

/** By default nobody reads managedFields, and they are often the bulk of an object. */
function dropManagedFields<T extends KubeObjectLike>(obj: T): T {
  if (obj.metadata?.managedFields !== undefined) delete obj.metadata.managedFields;
  return obj;
}

export class Informer<T extends KubeObjectLike> {
  readonly #opts: InformerOptions<T>;
  readonly #store = new Map<string, T>();
  readonly #handlers: InformerHandler<T>[] = [];
  #resourceVersion = "";
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #stopped = true;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  /** The back-off sleep; stop() ends it. */
  #wakeup: Wakeup | undefined;
  /** Counters for tests and metrics. */
  readonly stats = { lists: 0, watches: 0, errors: 0, watchdogFired: 0 };

  constructor(opts: InformerOptions<T>) {
    this.#opts = opts;
  }

  get synced(): boolean {
    return this.#synced;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#store.get(namespace === undefined || namespace === "" ? name : `${namespace}/${name}`);
  }

  list(): T[] {
    return [...this.#store.values()];
  }

  get size(): number {
    return this.#store.size;
  }

  on(handler: InformerHandler<T>): void {
    this.#handlers.push(handler);
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#wakeup = new Wakeup(this.#timers);
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort?.abort();
    this.#wakeup?.stop();
    await this.#loop;
    for (const w of this.#syncWaiters) w();
    this.#syncWaiters = [];
  }

  /** Resolves once the first LIST has filled the cache (or the informer is stopped). */
  waitForSync(): Promise<void> {
    if (this.#synced || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  #emit(type: InformerEventType, obj: T): void {
    for (const h of this.#handlers) {
      try {
        h(type, obj);
      } catch (err) {
        this.#opts.logger.error({ err, path: this.#opts.path }, "informer handler threw; ignored");
      }
    }
  }

  #accept(obj: T): T {
    const transformed = dropManagedFields(obj);
    return this.#opts.transform ? this.#opts.transform(transformed) : transformed;
  }

  get #timers(): Timers {
    return this.#opts.timers ?? systemTimers;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      try {
        if (this.#resourceVersion === "") await this.#list();
        const started = this.#timers.nowMs();
        const outcome = await this.#watchOnce();
        if (outcome === "gone") this.#resourceVersion = "";
        // An error event, or a stream the server closes at once, must not become a hot loop.
        if (outcome === "error" || (outcome === "ended" && this.#timers.nowMs() - started < 1000)) {
          failures++;
          await this.#sleep(this.#backoff(failures));
        } else {
          failures = 0;
        }
      } catch (err) {
        if (this.#stopped) break;
        if (isGone(err)) {
          this.#resourceVersion = "";
          continue;
        }
        failures++;
        this.stats.errors++;
        const delay = this.#backoff(failures);
        this.#opts.logger.warn(
          { err, path: this.#opts.path, retryInMs: delay },
          "list/watch failed; backing off",
        );
        await this.#sleep(delay);
      }
    }
  }

  #backoff(failures: number): number {
    return backoffDelay(failures, {
      initialMs: this.#opts.backoffInitialMs ?? 500,
      maxMs: this.#opts.backoffMaxMs ?? 30_000,
    });
  }

  /** Sleeps ms; returns at once once stop() ran (also when it ran before we got here). */
  #sleep(ms: number): Promise<void> {
    return this.#wakeup?.sleep(ms) ?? Promise.resolve();
  }

  async #list(): Promise<void> {
    this.stats.lists++;
    const { fresh, resourceVersion } = await this.#readAllPages();
    for (const [key, old] of this.#store) {
      if (!fresh.has(key)) {
        this.#store.delete(key);
        this.#emit("delete", old);
      }
    }
    for (const [key, obj] of fresh) {
      const old = this.#store.get(key);
      this.#store.set(key, obj);
      if (old === undefined) this.#emit("add", obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.#emit("update", obj);
    }
    this.#resourceVersion = resourceVersion;
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters) w();
      this.#syncWaiters = [];
    }
  }

  /**
   * The whole collection, page by page, each object accepted (transformed) as its page arrives.
   * Every page of one LIST is served from the first page's snapshot (same resourceVersion); an
   * expired token (410) throws, nothing is applied, and the loop relists from the start.
   */
  async #readAllPages(): Promise<{ fresh: Map<string, T>; resourceVersion: string }> {
    const fresh = new Map<string, T>();
    let resourceVersion = "";
    let token: string | undefined;
    do {
      const query = {
        labelSelector: this.#opts.labelSelector,
        fieldSelector: this.#opts.fieldSelector,
        limit: this.#opts.pageSize ?? DEFAULT_PAGE_SIZE,
        continue: token,
      };
      const page = await this.#opts.rest.list<T>(this.#opts.path, {
        query,
        timeoutMs: 60_000,
        what: `LIST ${this.#opts.path}`,
      });
      for (const item of page.items ?? []) {
        const obj = this.#accept(item);
        fresh.set(keyOf(obj), obj);
      }
      resourceVersion = page.metadata?.resourceVersion ?? "";
      const next = page.metadata?.continue;
      token = next === undefined || next === "" ? undefined : next;
    } while (token !== undefined);
    return { fresh, resourceVersion };
  }

  /** One watch stream. Returns "gone" when the server says our resourceVersion is too old. */
  async #watchOnce(): Promise<WatchOutcome> {
    this.stats.watches++;
    const timeoutSeconds = this.#opts.watchTimeoutSeconds ?? 240 + Math.floor(Math.random() * 60);
    const abort = new AbortController();
    this.#abort = abort;
    let outcome: WatchOutcome = "ended";
    let watchdog: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(
        () => {
          this.stats.watchdogFired++;
          this.#opts.logger.warn({ path: this.#opts.path }, "watch silent past its timeout; restarting it");
          abort.abort();
        },
        timeoutSeconds * 1000 + (this.#opts.watchdogGraceMs ?? 30_000),
      );
    };
    arm();
    const query = {
      resourceVersion: this.#resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds,
      labelSelector: this.#opts.labelSelector,
      fieldSelector: this.#opts.fieldSelector,
    };
    try {
      await this.#opts.rest.watch(
        this.#opts.path,
        query,
        (raw) => {
          arm();
          const result = this.#handleEvent(raw as WatchEvent<T>);
          if (result !== undefined) {
            outcome = result;
            abort.abort();
          }
        },
        abort.signal,
      );
    } finally {
      clearTimeout(watchdog);
    }
    return outcome;
  }

  #handleEvent(event: WatchEvent<T>): "gone" | "error" | undefined {
    const obj = event.object;
    if (obj === undefined) return undefined;
    switch (event.type) {
      case "ADDED":
      case "MODIFIED": {
        const accepted = this.#accept(obj);
        const key = keyOf(accepted);
        const existed = this.#store.has(key);
        this.#store.set(key, accepted);
        this.#emit(existed ? "update" : "add", accepted);
        break;
      }
      case "DELETED": {
        const key = keyOf(obj);
        const old = this.#store.get(key);
        this.#store.delete(key);
        this.#emit("delete", old ?? obj);
        break;
      }
      case "BOOKMARK":
        break;
      case "ERROR":
        // A Status object: 410 Gone means relist; anything else ends this stream and we resume.
        if (obj.code === 410) return "gone";
        this.stats.errors++;
        this.#opts.logger.warn({ path: this.#opts.path, status: obj }, "watch error event");
        return "error";
      default:
        return undefined;
    }
    const rv = obj.metadata?.resourceVersion;
    if (rv !== undefined && rv !== "") this.#resourceVersion = rv;
    return undefined;
  }
}
