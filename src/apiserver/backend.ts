// The cluster operations behind the apiserver's routes, as narrow interfaces (routes and tests see
// only these), and their implementation on the Kubernetes API (KubeRest: raw JSON, one counted path).
import type { Logger } from "pino";
import { BrupopError } from "../errors.js";
import { API_GROUP, API_VERSION_V2, KIND, PLURAL, shadowNameForNode } from "../model/constants.js";
import { DEFAULT_SPEC, type ShadowStatus } from "../model/shadow.js";
import { drainNode, kubeDrainApi, type DrainOptions, type DrainResult } from "../k8s/drain.js";
import { NodeOps, upstreamError } from "../k8s/node-ops.js";
import type { KubeRest } from "../k8s/rest.js";
import { AgentPodCache } from "./agent-pods.js";
import { ServiceAccountCache } from "./service-accounts.js";
import type { AuthBackend } from "./authenticator.js";
import type { TokenReviewStatus } from "./authz.js";
import { TtlCache } from "./token-cache.js";

export interface ShadowStore {
  /**
   * Creates brs-<node> owned by the Node; `created: false` when it already existed. `shadow` is the
   * object as the cluster holds it (the route answers it, as upstream's apiserver does).
   */
  create(
    nodeName: string,
    nodeUid: string,
    signal?: AbortSignal,
  ): Promise<{ name: string; created: boolean; shadow?: Record<string, unknown> }>;
  /** Replaces the status of brs-<node> through the status subresource. */
  updateStatus(
    nodeName: string,
    status: ShadowStatus,
    signal?: AbortSignal,
  ): Promise<{ name: string; resourceVersion: string | undefined }>;
}

export interface NodeActions {
  /** Each returns true when it changed the node (false: it already was as asked, or not ours to change). */
  cordon(nodeName: string, nodeUid: string, signal?: AbortSignal): Promise<boolean>;
  uncordon(nodeName: string, nodeUid: string, signal?: AbortSignal): Promise<boolean>;
  excludeFromLb(nodeName: string, nodeUid: string, signal?: AbortSignal): Promise<boolean>;
  removeExclusionFromLb(nodeName: string, nodeUid: string, signal?: AbortSignal): Promise<boolean>;
  drain(nodeName: string, signal?: AbortSignal): Promise<DrainResult>;
}

export interface ApiserverBackend {
  readonly auth: AuthBackend;
  readonly shadows: ShadowStore;
  readonly nodes: NodeActions;
  start(): void;
  stop(): Promise<void>;
}

export interface KubeBackendOptions {
  rest: KubeRest;
  namespace: string;
  logger: Logger;
  drain?: Omit<DrainOptions, "signal" | "logger">;
  /** How long a node's uid is trusted from memory (default 30 s). */
  nodeUidTtlMs?: number;
}

const REQUEST_TIMEOUT_MS = 15_000;

function withoutManagedFields(body: unknown): Record<string, unknown> | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const obj = { ...(body as Record<string, unknown>) };
  const meta = obj["metadata"];
  if (typeof meta === "object" && meta !== null && "managedFields" in meta) {
    const { managedFields: _dropped, ...rest } = meta as Record<string, unknown>;
    obj["metadata"] = rest;
  }
  return obj;
}

export function createKubeBackend(opts: KubeBackendOptions): ApiserverBackend {
  const { rest, namespace, logger } = opts;
  const pods = new AgentPodCache(rest, namespace, logger);
  const serviceAccounts = new ServiceAccountCache(rest, namespace, logger);
  const nodeOps = new NodeOps(rest);
  const nodeUids = new TtlCache<string>({ ttlMs: opts.nodeUidTtlMs ?? 30_000, maxEntries: 10_000 });
  const drainApi = kubeDrainApi(rest);
  const shadowsPath = `/apis/${API_GROUP}/v2/namespaces/${encodeURIComponent(namespace)}/${PLURAL}`;

  const auth: AuthBackend = {
    async reviewToken(token, audiences) {
      const res = await rest.request<{ status?: TokenReviewStatus }>(
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        {
          body: {
            apiVersion: "authentication.k8s.io/v1",
            kind: "TokenReview",
            spec: { token, audiences },
          },
          timeoutMs: REQUEST_TIMEOUT_MS,
        },
      );
      if (res.status !== 201 && res.status !== 200) throw upstreamError("TokenReview", res);
      return res.body.status ?? {};
    },
    getPod: (name, signal) => pods.get(name, signal),
    getServiceAccountUid: (name, signal) => serviceAccounts.uid(name, signal),
    async getNodeUid(name, fresh, signal) {
      if (!fresh) {
        const cached = nodeUids.get(name);
        if (cached !== undefined) return cached;
      }
      const uid = (await nodeOps.get(name, signal))?.metadata?.uid;
      if (uid === undefined) nodeUids.delete(name);
      else nodeUids.set(name, uid);
      return uid;
    },
  };

  const shadows: ShadowStore = {
    async create(nodeName, nodeUid, signal) {
      const name = shadowNameForNode(nodeName);
      const res = await rest.request("POST", shadowsPath, {
        body: {
          apiVersion: API_VERSION_V2,
          kind: KIND,
          metadata: {
            name,
            namespace,
            ownerReferences: [{ apiVersion: "v1", kind: "Node", name: nodeName, uid: nodeUid }],
          },
          spec: { ...DEFAULT_SPEC },
        },
        signal,
        timeoutMs: REQUEST_TIMEOUT_MS,
      });
      if (res.status === 201 || res.status === 200)
        return { name, created: true, shadow: withoutManagedFields(res.body) };
      if (res.status !== 409) throw upstreamError(`create ${name}`, res);
      // Already there: answer the existing object (one GET, only on this path).
      const got = await rest.request("GET", `${shadowsPath}/${encodeURIComponent(name)}`, {
        signal,
        timeoutMs: REQUEST_TIMEOUT_MS,
      });
      if (got.status !== 200) throw upstreamError(`read ${name}`, got);
      return { name, created: false, shadow: withoutManagedFields(got.body) };
    },
    async updateStatus(nodeName, status, signal) {
      const name = shadowNameForNode(nodeName);
      // JSON Patch "add" on /status replaces the whole status (a merge patch would drop null fields).
      const res = await rest.request<{ metadata?: { resourceVersion?: string } }>(
        "PATCH",
        `${shadowsPath}/${encodeURIComponent(name)}/status`,
        {
          body: [{ op: "add", path: "/status", value: status }],
          contentType: "application/json-patch+json",
          signal,
          timeoutMs: REQUEST_TIMEOUT_MS,
        },
      );
      if (res.status === 200) return { name, resourceVersion: res.body.metadata?.resourceVersion };
      if (res.status === 404) {
        throw new BrupopError("BRUPOP_E_NOT_FOUND", `${name} does not exist; create it first`, { name });
      }
      if (res.status === 422) {
        const err = upstreamError(`update status of ${name}`, res);
        throw new BrupopError("BRUPOP_E_BAD_REQUEST", err.message, { name });
      }
      throw upstreamError(`update status of ${name}`, res);
    },
  };

  const nodes: NodeActions = {
    cordon: (name, uid, signal) => nodeOps.cordon(name, { expectedUid: uid, signal }),
    uncordon: (name, uid, signal) => nodeOps.uncordon(name, { expectedUid: uid, signal }),
    excludeFromLb: (name, uid, signal) => nodeOps.excludeFromLb(name, { expectedUid: uid, signal }),
    removeExclusionFromLb: (name, uid, signal) =>
      nodeOps.removeExclusionFromLb(name, { expectedUid: uid, signal }),
    drain: (name, signal) =>
      drainNode(drainApi, name, { brupopNamespace: namespace, ...opts.drain, signal, logger }),
  };

  return {
    auth,
    shadows,
    nodes,
    start: () => {
      pods.start();
      serviceAccounts.start();
    },
    stop: async () => {
      await Promise.all([pods.stop(), serviceAccounts.stop()]);
    },
  };
}
