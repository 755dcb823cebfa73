// Reads what `brupop status` needs from a cluster: the shadows of the namespace, all Nodes, the
// controller's state ConfigMap and — only for nodes that are draining — their pods and the PDBs.
// Shadows and Nodes are required (any failure is an error); the ConfigMap and the drain facts are
// best effort (a user without access to them still gets the table, with a note).
import { KubeConfig } from "@kubernetes/client-node";
import { DEFAULT_STATE_CONFIGMAP } from "../controller/round-store.js";
import { BrupopError } from "../errors.js";
import type { KubeRest, Query } from "../k8s/rest.js";
import { API_GROUP, PLURAL } from "../model/constants.js";
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

interface ListBody<T> {
  items?: T[];
}

export const shadowsPath = (ns: string): string => `/apis/${API_GROUP}/v2/namespaces/${ns}/${PLURAL}`;
export const NODES_PATH = "/api/v1/nodes";
export const configMapsPath = (ns: string): string => `/api/v1/namespaces/${ns}/configmaps`;

export class StatusReader {
  readonly #rest: KubeRest;
  readonly namespace: string;
  readonly server: string;
  readonly configMapName: string;

  constructor(rest: KubeRest, namespace: string, server: string, configMapName = DEFAULT_STATE_CONFIGMAP) {
    this.#rest = rest;
    this.namespace = namespace;
    this.server = server;
    this.configMapName = configMapName;
  }

  async #get<T>(path: string, query?: Query): Promise<{ status: number; body: T }> {
    try {
      return await this.#rest.request<T>("GET", path, { query, timeoutMs: TIMEOUT_MS });
    } catch (err) {
      throw connectionFailure(err, this.server);
    }
  }

  async #list<T>(path: string, what: string, opts: { query?: Query; shadows?: boolean } = {}): Promise<T[]> {
    const res = await this.#get<ListBody<T>>(path, opts.query);
    if (res.status !== 200) {
      throw apiFailure(res.status, res.body, { what, server: this.server, shadows: opts.shadows === true });
    }
    return res.body.items ?? [];
  }

  listShadows(): Promise<RawShadow[]> {
    return this.#list<RawShadow>(
      shadowsPath(this.namespace),
      `list BottlerocketShadows in namespace ${this.namespace}`,
      {
        shadows: true,
      },
    );
  }

  listNodes(): Promise<RawNode[]> {
    return this.#list<RawNode>(NODES_PATH, "list nodes");
  }

  /** The ConfigMap's data (null when absent), or why it could not be read. */
  async readControllerState(): Promise<{ data: Record<string, string> | null; error?: string }> {
    const res = await this.#get<RawConfigMap>(`${configMapsPath(this.namespace)}/${this.configMapName}`);
    if (res.status === 404) return { data: null };
    if (res.status !== 200) {
      const err = apiFailure(res.status, res.body, {
        what: `get configmap ${this.configMapName}`,
        server: this.server,
      });
      return { data: null, error: err.message };
    }
    return { data: res.body.data ?? {} };
  }

  /** Pods on each node (one filtered LIST per node) and every PDB of the cluster (one LIST). */
  async readDrain(nodeNames: readonly string[]): Promise<Map<string, DrainView>> {
    const out = new Map<string, DrainView>();
    if (nodeNames.length === 0) return out;
    let pdbs: RawPdb[];
    try {
      pdbs = await this.#list<RawPdb>("/apis/policy/v1/poddisruptionbudgets", "list PodDisruptionBudgets");
    } catch (err) {
      for (const n of nodeNames) out.set(n, { error: err instanceof Error ? err.message : String(err) });
      return out;
    }
    await Promise.all(
      nodeNames.map(async (node) => {
        try {
          const pods = await this.#list<RawPod>("/api/v1/pods", `list pods on node ${node}`, {
            query: { fieldSelector: `spec.nodeName=${node}` },
          });
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
    const drain = await this.readDrain(drainingNodes(shadows, nodes));
    return {
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
