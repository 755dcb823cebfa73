// Reads what `brupop status` needs from a cluster: the shadows of the namespace, all Nodes, the
// controller's state ConfigMap and — only for nodes that are draining — their pods and the PDBs.
// Shadows and Nodes are required (any failure is an error); the ConfigMap and the drain facts are
// best effort (a user without access to them still gets the table, with a note).
import { DEFAULT_POLICY_NAME, POLICY_COLLECTION_PATH, type RawPolicy } from "../model/policy.js";
import { KubeConfig } from "@kubernetes/client-node";
import { BLOCKERS_CONFIGMAP } from "../controller/act/blockers-publish.js";
import { DEFAULT_STATE_CONFIGMAP } from "../controller/act/round-store.js";
import { BrupopError, isNotFound, KubeApiError } from "../errors.js";
import type { KubeApi, Query } from "../k8s/api.js";
import { paths } from "../k8s/objects.js";
import { drainingNodes } from "./core.js";
import { apiFailure, connectionFailure } from "./errors.js";
import type { DrainView, RawConfigMap, RawNode, RawPdb, RawPod, RawShadow, StatusInput } from "./inputs.js";

const TIMEOUT_MS = 30_000;
const LAST_RESORT_SERVER = "http://localhost:8080";

export interface KubeconfigOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
}

/** --kubeconfig (else $KUBECONFIG, ~/.kube/config, in-cluster) and --context, validated. */
export function loadKubeConfig(opts: KubeconfigOptions): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (opts.kubeconfig !== undefined) kc.loadFromFile(opts.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new BrupopError(
      "BRUPOP_E_CONFIG",
      `cannot load kubeconfig${opts.kubeconfig === undefined ? "" : ` ${opts.kubeconfig}`}: ${why}`,
    );
  }
  // client-node's last resort when it found nothing: an unauthenticated http://localhost:8080.
  const fallback =
    kc.getCurrentContext() === "loaded-context" && kc.getCurrentCluster()?.server === LAST_RESORT_SERVER;
  if (opts.kubeconfig === undefined && fallback) {
    throw new BrupopError(
      "BRUPOP_E_CONFIG",
      "no kubeconfig found: pass --kubeconfig, set $KUBECONFIG or create ~/.kube/config",
    );
  }
  if (opts.context !== undefined) {
    if (kc.getContextObject(opts.context) === null) {
      throw new BrupopError("BRUPOP_E_CONFIG", `context "${opts.context}" not found in the kubeconfig`);
    }
    kc.setCurrentContext(opts.context);
  }
  if (kc.getCurrentCluster() === null) {
    throw new BrupopError(
      "BRUPOP_E_CONFIG",
      "the kubeconfig has no current cluster (use --context or --kubeconfig)",
    );
  }
  return kc;
}

interface ReadContext {
  what: string;
  /** A 404 means the CRD is not installed. */
  shadows?: boolean;
}

export class StatusReader {
  readonly #api: KubeApi;
  readonly namespace: string;
  readonly server: string;
  readonly configMapName: string;

  constructor(api: KubeApi, namespace: string, server: string, configMapName = DEFAULT_STATE_CONFIGMAP) {
    this.#api = api;
    this.namespace = namespace;
    this.server = server;
    this.configMapName = configMapName;
  }

  /** One read, its failure as the one clear line `brupop status` prints (see ./errors.ts). */
  async #read<T>(call: Promise<T>, ctx: ReadContext): Promise<T> {
    try {
      return await call;
    } catch (err) {
      if (err instanceof KubeApiError) {
        throw apiFailure(err.httpStatus, err.body, { ...ctx, server: this.server });
      }
      throw connectionFailure(err, this.server);
    }
  }

  async #list<T>(path: string, ctx: ReadContext, query?: Query): Promise<T[]> {
    const list = await this.#read(this.#api.list<T>(path, { query, timeoutMs: TIMEOUT_MS }), ctx);
    return list.items ?? [];
  }

  listShadows(): Promise<RawShadow[]> {
    return this.#list<RawShadow>(paths.shadows(this.namespace), {
      what: `list BottlerocketShadows in namespace ${this.namespace}`,
      shadows: true,
    });
  }

  listNodes(): Promise<RawNode[]> {
    return this.#list<RawNode>(paths.nodes(), { what: "list nodes" });
  }

  /** The ConfigMap's data (null when absent), or why it could not be read. */
  async readControllerState(): Promise<{ data: Record<string, string> | null; error?: string }> {
    const path = paths.configMap(this.namespace, this.configMapName);
    let cm: RawConfigMap;
    try {
      cm = await this.#api.get<RawConfigMap>(path, { timeoutMs: TIMEOUT_MS });
    } catch (err) {
      if (isNotFound(err)) return { data: null };
      if (!(err instanceof KubeApiError)) throw connectionFailure(err, this.server);
      const ctx = { what: `get configmap ${this.configMapName}`, server: this.server };
      return { data: null, error: apiFailure(err.httpStatus, err.body, ctx).message };
    }
    return { data: cm.data ?? {} };
  }

  /**
   * The controller's blocker verdicts (ConfigMap brupop-blockers, written only with blockers
   * configured): its data, or null when absent or not readable (status never fails on it).
   */
  async readBlockers(): Promise<Record<string, string> | null> {
    try {
      const cm = await this.#api.get<RawConfigMap>(paths.configMap(this.namespace, BLOCKERS_CONFIGMAP), {
        timeoutMs: TIMEOUT_MS,
      });
      return cm.data ?? {};
    } catch {
      return null;
    }
  }

  /** The UpdatePolicy (null when absent, not installed, or not readable: status never fails on it). */
  async readPolicy(name = DEFAULT_POLICY_NAME): Promise<RawPolicy | null> {
    try {
      return await this.#api.get<RawPolicy>(`${POLICY_COLLECTION_PATH}/${name}`, { timeoutMs: TIMEOUT_MS });
    } catch {
      return null;
    }
  }

  /** Pods on each node (one filtered LIST per node) and every PDB of the cluster (one LIST). */
  async readDrain(nodeNames: readonly string[]): Promise<Map<string, DrainView>> {
    const out = new Map<string, DrainView>();
    if (nodeNames.length === 0) return out;
    let pdbs: RawPdb[];
    try {
      pdbs = await this.#list<RawPdb>(paths.podDisruptionBudgets(), { what: "list PodDisruptionBudgets" });
    } catch (err) {
      for (const n of nodeNames) out.set(n, { error: err instanceof Error ? err.message : String(err) });
      return out;
    }
    await Promise.all(
      nodeNames.map(async (node) => {
        try {
          const pods = await this.#list<RawPod>(
            paths.pods(),
            { what: `list pods on node ${node}` },
            { fieldSelector: `spec.nodeName=${node}` },
          );
          out.set(node, { pods, pdbs });
        } catch (err) {
          out.set(node, { error: err instanceof Error ? err.message : String(err) });
        }
      }),
    );
    return out;
  }

  /** Everything for one snapshot. */
  async snapshot(now: () => Date): Promise<StatusInput> {
    // In parallel, but a failure is reported in a fixed order (shadows first): with Promise.all the
    // error shown would depend on which answer happened to arrive first.
    const [shadows, nodes, state] = firstFailureInOrder(
      await Promise.allSettled([this.listShadows(), this.listNodes(), this.readControllerState()]),
    );
    const [drain, policy, blockers] = await Promise.all([
      this.readDrain(drainingNodes(shadows, nodes)),
      this.readPolicy(),
      this.readBlockers(),
    ]);
    return {
      policy,
      blockers,
      namespace: this.namespace,
      now: now(),
      shadows,
      nodes,
      controllerState: state.data,
      controllerStateError: state.error,
      drain,
    };
  }
}

type Settled<T extends readonly unknown[]> = { [K in keyof T]: PromiseSettledResult<T[K]> };

/** The values of settled promises, or the first rejection in their order (not in time). */
export function firstFailureInOrder<T extends readonly unknown[]>(results: Settled<T>): T {
  for (const r of results as readonly PromiseSettledResult<unknown>[]) {
    if (r.status === "rejected") throw r.reason;
  }
  return (results as readonly PromiseSettledResult<unknown>[]).map(
    (r) => (r as PromiseFulfilledResult<unknown>).value,
  ) as unknown as T;
}
