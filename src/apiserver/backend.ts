// The cluster operations behind the apiserver's routes, as narrow interfaces (routes and tests see
// only these), and their implementation on the Kubernetes API (KubeApi: typed calls, one counted path).
import type { Logger } from "pino";
import { BrupopError, isConflict, KubeApiError } from "../errors.js";
import { shadowNameForNode } from "../model/constants.js";
import { DEFAULT_SPEC, type ShadowStatus } from "../model/shadow.js";
import type { KubeApi } from "../k8s/api.js";
import { kubeDrainApi } from "./drain-api.js";
import { drainNode, type DrainOptions, type DrainResult } from "./drain.js";
import type { NodeMarks } from "./node-marks.js";
import { NodeOps } from "./node-ops.js";
import { AgentPodCache } from "./agent-pods.js";
import { ServiceAccountCache } from "./service-accounts.js";
import type { AuthBackend } from "./authenticator.js";
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
  rest: KubeApi;
  namespace: string;
  logger: Logger;
  drain?: Omit<DrainOptions, "signal" | "logger">;
  /** Labels, annotations and taints put on a node with the cordon, taken off with the uncordon. */
  marks?: NodeMarks;
  /** How long a node's uid is trusted from memory (default 30 s). */
  nodeUidTtlMs?: number;
}

const REQUEST_TIMEOUT_MS = 15_000;

function withoutManagedFields(body: object | undefined): Record<string, unknown> | undefined {
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
  const nodeOps = new NodeOps(rest, opts.marks);
  const nodeUids = new TtlCache<string>({ ttlMs: opts.nodeUidTtlMs ?? 30_000, maxEntries: 10_000 });
  const drainApi = kubeDrainApi(rest);

  const auth: AuthBackend = {
    reviewToken: (token, audiences) => rest.reviewToken(token, audiences, { timeoutMs: REQUEST_TIMEOUT_MS }),
    getPod: (name, signal) => pods.get(name, signal),
    peekAgentPod: (name) => pods.peek(name),
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
      const call = { signal, timeoutMs: REQUEST_TIMEOUT_MS };
      try {
        const created = await rest.createShadow(
          namespace,
          name,
          { nodeName, nodeUid },
          { ...DEFAULT_SPEC },
          call,
        );
        return { name, created: true, shadow: withoutManagedFields(created) };
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
      // Already there: answer the existing object (one GET, only on this path).
      const existing = await rest.getShadow(namespace, name, call);
      return { name, created: false, shadow: withoutManagedFields(existing) };
    },
    async updateStatus(nodeName, status, signal) {
      const name = shadowNameForNode(nodeName);
      try {
        const updated = await rest.replaceShadowStatus(namespace, name, status, {
          signal,
          timeoutMs: REQUEST_TIMEOUT_MS,
        });
        return { name, resourceVersion: updated.metadata?.resourceVersion };
      } catch (err) {
        if (!(err instanceof KubeApiError)) throw err;
        if (err.httpStatus === 404) {
          throw new BrupopError("BRUPOP_E_NOT_FOUND", `${name} does not exist; create it first`, { name });
        }
        if (err.httpStatus === 422) throw new BrupopError("BRUPOP_E_BAD_REQUEST", err.message, { name });
        throw err;
      }
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
