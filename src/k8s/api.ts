// The one way brupop talks to the Kubernetes API: KubeApi, typed methods for the objects brupop uses
// and generic verbs for the rest. Every method resolves to the object the API answered and throws
// KubeApiError (src/errors.ts) for any answer outside 2xx, so callers ask `isNotFound(err)` or
// `isConflict(err)` instead of comparing status codes; a network failure or an abort rejects with
// the transport's error. Paths and object types come from ./objects.ts.
//
// KubeApiBase builds all of it on two primitives, `request` (one exchange, answers {status, body},
// never throws on a status; protected, so nothing outside the layer can bypass the typed methods)
// and `watch`; KubeRest (./rest.ts) is the real implementation of those two, the in-memory fake
// (test/kit/fake-kube.ts) another.
import { KubeApiError, isNotFound } from "../errors.js";
import { API_VERSION_V2, KIND } from "../model/constants.js";
import {
  paths,
  type KubeConfigMap,
  type KubeList,
  type KubeNode,
  type KubePod,
  type KubeServiceAccount,
  type RawShadow,
  type TokenReviewResult,
} from "./objects.js";

export type Query = Record<string, string | number | boolean | undefined>;

export interface RestResponse<T = unknown> {
  status: number;
  body: T;
}

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Per-call options of the typed methods. `what` names the call in the error message. */
export interface CallOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  query?: Query | undefined;
  what?: string | undefined;
}

/** merge: RFC 7386 (null deletes a key); json: RFC 6902 operations. */
export type PatchType = "merge" | "json";

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
};

export type WatchHandler = (event: unknown) => void;

export interface KubeApi {
  // --- generic verbs (path from ./objects.ts paths) ---
  get<T>(path: string, opts?: CallOptions): Promise<T>;
  list<T>(path: string, opts?: CallOptions): Promise<KubeList<T>>;
  create<T>(path: string, body: unknown, opts?: CallOptions): Promise<T>;
  replace<T>(path: string, body: unknown, opts?: CallOptions): Promise<T>;
  patch<T>(path: string, type: PatchType, body: unknown, opts?: CallOptions): Promise<T>;
  /** DELETE, with an optional DeleteOptions body (preconditions). */
  remove<T>(path: string, body?: unknown, opts?: CallOptions): Promise<T>;
  /**
   * Streams a collection's watch events (one parsed JSON line each) until the stream ends (server
   * timeout, network error, abort: resolves); a non-200 answer rejects with KubeApiError.
   */
  watch(path: string, query: Query, onEvent: WatchHandler, signal: AbortSignal): Promise<void>;

  // --- typed resources ---
  getNode(name: string, opts?: CallOptions): Promise<KubeNode>;
  patchNode(name: string, patch: Record<string, unknown>, opts?: CallOptions): Promise<KubeNode>;
  listPods(select: { namespace?: string; fieldSelector?: string }, opts?: CallOptions): Promise<KubePod[]>;
  getPod(namespace: string, name: string, opts?: CallOptions): Promise<KubePod>;
  /** POSTs a policy/v1 Eviction (429: a PodDisruptionBudget says not now). */
  evictPod(namespace: string, name: string, opts?: CallOptions): Promise<void>;
  getServiceAccount(namespace: string, name: string, opts?: CallOptions): Promise<KubeServiceAccount>;
  reviewToken(token: string, audiences: readonly string[], opts?: CallOptions): Promise<TokenReviewResult>;
  listShadows(namespace: string, opts?: CallOptions): Promise<KubeList<RawShadow>>;
  getShadow(namespace: string, name: string, opts?: CallOptions): Promise<RawShadow>;
  /** Creates brs `name` with `spec`, owned by the given Node. */
  createShadow(
    namespace: string,
    name: string,
    owner: { nodeName: string; nodeUid: string },
    spec: unknown,
    opts?: CallOptions,
  ): Promise<RawShadow>;
  /** Replaces the whole status (JSON Patch "add" on /status: a merge patch would drop null fields). */
  replaceShadowStatus(
    namespace: string,
    name: string,
    status: unknown,
    opts?: CallOptions,
  ): Promise<RawShadow>;
  /** Replaces the spec, conditionally on `resourceVersion` (409 if the object changed since). */
  replaceShadowSpec(
    namespace: string,
    name: string,
    resourceVersion: string,
    spec: unknown,
    opts?: CallOptions,
  ): Promise<RawShadow>;
  /** Deletes a shadow, only if it is still the object with `uid` (when known; 409 otherwise). */
  deleteShadow(namespace: string, name: string, uid: string | undefined, opts?: CallOptions): Promise<void>;
  getConfigMap(namespace: string, name: string, opts?: CallOptions): Promise<KubeConfigMap>;
  createEvent(namespace: string, event: unknown, opts?: CallOptions): Promise<void>;
}

/** The object, or undefined when the API said 404 (any other failure rejects). */
export async function ifFound<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** KubeApi on top of `request` and `watch`: the status handling, written once. */
export abstract class KubeApiBase implements KubeApi {
  /**
   * One exchange: the answer whatever its status; rejects only when no answer came (network, abort,
   * timeout). Protected: product code goes through the typed methods, which turn a status outside
   * 2xx into KubeApiError (the kit's RawKubeRest re-exposes it for tests that inspect raw answers).
   */
  protected abstract request<T = unknown>(
    method: string,
    path: string,
    opts?: RequestOptions,
  ): Promise<RestResponse<T>>;
  abstract watch(path: string, query: Query, onEvent: WatchHandler, signal: AbortSignal): Promise<void>;

  async #call<T>(
    method: string,
    path: string,
    opts: CallOptions & { body?: unknown; contentType?: string } = {},
  ): Promise<T> {
    const req: RequestOptions = {};
    if (opts.query !== undefined) req.query = opts.query;
    if (opts.body !== undefined) req.body = opts.body;
    if (opts.contentType !== undefined) req.contentType = opts.contentType;
    if (opts.signal !== undefined) req.signal = opts.signal;
    if (opts.timeoutMs !== undefined) req.timeoutMs = opts.timeoutMs;
    const res = await this.request<T>(method, path, req);
    if (res.status < 200 || res.status >= 300) {
      throw new KubeApiError(opts.what ?? `${method} ${path}`, res.status, res.body);
    }
    return res.body;
  }

  get<T>(path: string, opts: CallOptions = {}): Promise<T> {
    return this.#call<T>("GET", path, opts);
  }

  list<T>(path: string, opts: CallOptions = {}): Promise<KubeList<T>> {
    return this.#call<KubeList<T>>("GET", path, opts);
  }

  create<T>(path: string, body: unknown, opts: CallOptions = {}): Promise<T> {
    return this.#call<T>("POST", path, { ...opts, body });
  }

  replace<T>(path: string, body: unknown, opts: CallOptions = {}): Promise<T> {
    return this.#call<T>("PUT", path, { ...opts, body });
  }

  patch<T>(path: string, type: PatchType, body: unknown, opts: CallOptions = {}): Promise<T> {
    return this.#call<T>("PATCH", path, { ...opts, body, contentType: PATCH_CONTENT_TYPES[type] });
  }

  remove<T>(path: string, body?: unknown, opts: CallOptions = {}): Promise<T> {
    return this.#call<T>("DELETE", path, { ...opts, body });
  }

  getNode(name: string, opts: CallOptions = {}): Promise<KubeNode> {
    return this.get<KubeNode>(paths.node(name), { what: `GET node ${name}`, ...opts });
  }

  patchNode(name: string, patch: Record<string, unknown>, opts: CallOptions = {}): Promise<KubeNode> {
    return this.patch<KubeNode>(paths.node(name), "merge", patch, { what: `PATCH node ${name}`, ...opts });
  }

  async listPods(
    select: { namespace?: string; fieldSelector?: string },
    opts: CallOptions = {},
  ): Promise<KubePod[]> {
    const query =
      select.fieldSelector === undefined
        ? opts.query
        : { ...opts.query, fieldSelector: select.fieldSelector };
    return (await this.list<KubePod>(paths.pods(select.namespace), { ...opts, query })).items ?? [];
  }

  getPod(namespace: string, name: string, opts: CallOptions = {}): Promise<KubePod> {
    return this.get<KubePod>(paths.pod(namespace, name), { what: `GET pod ${name}`, ...opts });
  }

  async evictPod(namespace: string, name: string, opts: CallOptions = {}): Promise<void> {
    await this.create(
      paths.eviction(namespace, name),
      { apiVersion: "policy/v1", kind: "Eviction", metadata: { name, namespace } },
      { what: `evict pod ${namespace}/${name}`, ...opts },
    );
  }

  getServiceAccount(namespace: string, name: string, opts: CallOptions = {}): Promise<KubeServiceAccount> {
    return this.get<KubeServiceAccount>(paths.serviceAccount(namespace, name), {
      what: `GET serviceaccount ${name}`,
      ...opts,
    });
  }

  async reviewToken(
    token: string,
    audiences: readonly string[],
    opts: CallOptions = {},
  ): Promise<TokenReviewResult> {
    const review = await this.create<{ status?: TokenReviewResult }>(
      paths.tokenReviews(),
      { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, audiences } },
      { what: "TokenReview", ...opts },
    );
    return review.status ?? {};
  }

  listShadows(namespace: string, opts: CallOptions = {}): Promise<KubeList<RawShadow>> {
    return this.list<RawShadow>(paths.shadows(namespace), { what: "LIST shadows", ...opts });
  }

  getShadow(namespace: string, name: string, opts: CallOptions = {}): Promise<RawShadow> {
    return this.get<RawShadow>(paths.shadow(namespace, name), { what: `read ${name}`, ...opts });
  }

  createShadow(
    namespace: string,
    name: string,
    owner: { nodeName: string; nodeUid: string },
    spec: unknown,
    opts: CallOptions = {},
  ): Promise<RawShadow> {
    const body = {
      apiVersion: API_VERSION_V2,
      kind: KIND,
      metadata: {
        name,
        namespace,
        ownerReferences: [{ apiVersion: "v1", kind: "Node", name: owner.nodeName, uid: owner.nodeUid }],
      },
      spec,
    };
    return this.create<RawShadow>(paths.shadows(namespace), body, { what: `create ${name}`, ...opts });
  }

  replaceShadowStatus(
    namespace: string,
    name: string,
    status: unknown,
    opts: CallOptions = {},
  ): Promise<RawShadow> {
    return this.patch<RawShadow>(
      paths.shadowStatus(namespace, name),
      "json",
      [{ op: "add", path: "/status", value: status }],
      { what: `update status of ${name}`, ...opts },
    );
  }

  replaceShadowSpec(
    namespace: string,
    name: string,
    resourceVersion: string,
    spec: unknown,
    opts: CallOptions = {},
  ): Promise<RawShadow> {
    // JSON Patch keeps explicit nulls in spec; the resourceVersion in it makes the write conditional.
    const patch = [
      { op: "replace", path: "/metadata/resourceVersion", value: resourceVersion },
      { op: "add", path: "/spec", value: spec },
    ];
    return this.patch<RawShadow>(paths.shadow(namespace, name), "json", patch, {
      what: `update spec of ${name}`,
      ...opts,
    });
  }

  async deleteShadow(
    namespace: string,
    name: string,
    uid: string | undefined,
    opts: CallOptions = {},
  ): Promise<void> {
    const body = {
      apiVersion: "v1",
      kind: "DeleteOptions",
      ...(uid !== undefined && { preconditions: { uid } }),
    };
    await this.remove(paths.shadow(namespace, name), body, { what: `delete ${name}`, ...opts });
  }

  getConfigMap(namespace: string, name: string, opts: CallOptions = {}): Promise<KubeConfigMap> {
    return this.get<KubeConfigMap>(paths.configMap(namespace, name), {
      what: `GET configmap ${namespace}/${name}`,
      ...opts,
    });
  }

  async createEvent(namespace: string, event: unknown, opts: CallOptions = {}): Promise<void> {
    await this.create(paths.events(namespace), event, { what: "POST event", ...opts });
  }
}
