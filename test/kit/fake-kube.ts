// An in-memory KubeApi for unit tests of code that reads and writes through the typed Kubernetes
// layer (src/k8s/api.ts): the controller's runtime tests drive it; no cluster, no sockets.
import type { EventsV1Event } from "../../src/k8s/event.js";
import { eventProblems } from "../../src/k8s/event-problems.js";
import { KubeApiBase, type Query, type RequestOptions, type RestResponse } from "../../src/k8s/api.js";
import { paths } from "../../src/k8s/objects.js";

export interface Obj {
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    labels?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

interface Subscriber {
  path: string;
  onEvent: (e: unknown) => void;
}

/**
 * The typed KubeApi in memory: Shadows, Nodes and Events with resourceVersions and watch streams,
 * answering the requests KubeApiBase's typed methods make as kube-apiserver would (404, 409 on a
 * stale resourceVersion, 422 on an invalid Event). A subclass may answer more routes by overriding
 * `request` (protected, as on the real client).
 */
export class FakeKube extends KubeApiBase {
  readonly shadows = new Map<string, Obj>();
  readonly nodes = new Map<string, Obj>();
  readonly events: { reason: string; name: string }[] = [];
  #rv = 100;
  readonly #subs = new Set<Subscriber>();
  readonly #held: (() => void)[] = [];
  /** Watch events for which this returns true are held back until release(). */
  hold: (obj: Obj) => boolean = () => false;
  /** If set, spec PATCHes wait for this before being applied (and give up when aborted). */
  gate: Promise<void> | undefined;
  patches = 0;

  constructor(readonly namespace = "ns") {
    super();
  }

  get #shadowsPath(): string {
    return paths.shadows(this.namespace);
  }

  put(kind: "shadow" | "node", obj: Obj): void {
    const map = kind === "shadow" ? this.shadows : this.nodes;
    const existed = map.has(obj.metadata.name);
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.#rv);
    stored.metadata.uid ??= `uid-${obj.metadata.name}`;
    map.set(obj.metadata.name, stored);
    this.#emit(
      kind === "shadow" ? this.#shadowsPath : "/api/v1/nodes",
      existed ? "MODIFIED" : "ADDED",
      stored,
    );
  }

  release(): void {
    this.hold = () => false;
    for (const deliver of this.#held.splice(0)) deliver();
  }

  #emit(path: string, type: string, obj: Obj): void {
    const copy = structuredClone(obj);
    for (const s of this.#subs) {
      if (s.path !== path) continue;
      const deliver = () => s.onEvent({ type, object: structuredClone(copy) });
      if (this.hold(copy)) this.#held.push(deliver);
      else deliver();
    }
  }

  protected override async request<T = unknown>(
    method: string,
    path: string,
    opts: RequestOptions = {},
  ): Promise<RestResponse<T>> {
    const res = await this.#route(method, path, opts);
    return res as RestResponse<T>;
  }

  async #route(method: string, path: string, opts: RequestOptions): Promise<RestResponse> {
    const list = (m: Map<string, Obj>) => ({
      status: 200,
      body: {
        items: [...m.values()].map((o) => structuredClone(o)),
        metadata: { resourceVersion: String(this.#rv) },
      },
    });
    if (method === "GET" && path === this.#shadowsPath) return list(this.shadows);
    if (method === "GET" && path === "/api/v1/nodes") return list(this.nodes);
    if (method === "POST" && path.endsWith("/events")) {
      // Refused as kube-apiserver would (issue 34: an Event without `action` was a 422).
      const ev = opts.body as EventsV1Event;
      const problems = eventProblems(ev);
      if (problems.length > 0)
        return { status: 422, body: { kind: "Status", reason: "Invalid", message: problems.join("; ") } };
      this.events.push({ reason: ev.reason, name: ev.regarding.name });
      return { status: 201, body: {} };
    }
    if (method === "PATCH" && path.startsWith(`${this.#shadowsPath}/`))
      return this.#patch(path.slice(this.#shadowsPath.length + 1), opts);
    if (method === "DELETE" && path.startsWith(`${this.#shadowsPath}/`)) {
      const name = path.slice(this.#shadowsPath.length + 1);
      const obj = this.shadows.get(name);
      if (obj === undefined) return { status: 404, body: {} };
      this.shadows.delete(name);
      this.#emit(this.#shadowsPath, "DELETED", obj);
      return { status: 200, body: {} };
    }
    return { status: 404, body: { message: `fake: no route for ${method} ${path}` } };
  }

  async #patch(name: string, opts: RequestOptions): Promise<RestResponse> {
    this.patches++;
    if (opts.signal?.aborted === true) throw new Error("aborted");
    if (this.gate !== undefined) {
      const aborted = new Promise<never>((_, reject) =>
        opts.signal?.addEventListener("abort", () => reject(new Error("aborted")), { once: true }),
      );
      await Promise.race([this.gate, aborted]);
    }
    const obj = this.shadows.get(name);
    if (obj === undefined) return { status: 404, body: {} };
    const ops = opts.body as { op: string; path: string; value: unknown }[];
    const rv = ops.find((o) => o.path === "/metadata/resourceVersion")?.value;
    if (rv !== obj.metadata.resourceVersion) return { status: 409, body: { reason: "Conflict" } };
    const spec = ops.find((o) => o.path === "/spec")?.value as Record<string, unknown>;
    this.put("shadow", { ...obj, spec });
    return { status: 200, body: structuredClone(this.shadows.get(name)) };
  }

  override watch(
    path: string,
    _query: Query,
    onEvent: (event: unknown) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const sub = { path, onEvent };
    this.#subs.add(sub);
    return new Promise((resolve) => {
      signal.addEventListener(
        "abort",
        () => {
          this.#subs.delete(sub);
          resolve();
        },
        { once: true },
      );
    });
  }
}
