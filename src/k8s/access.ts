// How a component reaches the Kubernetes API. KubeRest needs only a server URL and a way to add TLS
// material and credentials to a request, which client-node's KubeConfig provides, and which, in a
// pod, a few lines over the service-account mount provide too. The agent runs on every node, so it
// uses the in-cluster path and never loads client-node (≈80 MiB of resident memory for one class).
import { readFileSync } from "node:fs";
import type https from "node:https";
import { BrupopError } from "../errors.js";

export interface KubeAccess {
  getCurrentCluster(): { server: string; proxyUrl?: string | undefined } | null;
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** The pod's namespace, as the kubelet mounts it: components default to it. */
export const SERVICE_ACCOUNT_NAMESPACE_FILE = `${SERVICE_ACCOUNT_DIR}/namespace`;
/** kubelet rotates the projected token file; client-go re-reads it about once a minute too. */
const TOKEN_REREAD_MS = 60_000;

export class InClusterAccess implements KubeAccess {
  readonly #server: string;
  readonly #ca: Buffer;
  readonly #tokenFile: string;
  #token = "";
  #tokenReadAt = -Infinity;

  constructor(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR) {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT;
    if (host === undefined || host === "" || port === undefined || port === "") {
      throw new BrupopError(
        "BRUPOP_E_CONFIG",
        "KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT: not set (not running in a pod? pass --kubeconfig)",
        { variable: "KUBERNETES_SERVICE_HOST" },
      );
    }
    this.#server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
    this.#tokenFile = `${dir}/token`;
    try {
      this.#ca = readFileSync(`${dir}/ca.crt`);
    } catch (err) {
      throw new BrupopError(
        "BRUPOP_E_CONFIG",
        `${dir}/ca.crt: cannot read the service-account CA`,
        {},
        {
          cause: err,
        },
      );
    }
  }

  getCurrentCluster(): { server: string } {
    return { server: this.#server };
  }

  #readToken(): string {
    const now = Date.now();
    if (now - this.#tokenReadAt >= TOKEN_REREAD_MS) {
      try {
        this.#token = readFileSync(this.#tokenFile, "utf8").trim();
        this.#tokenReadAt = now;
      } catch (err) {
        // Keep the last good token through a transient read failure (the file is swapped atomically).
        if (this.#token === "") {
          throw new BrupopError(
            "BRUPOP_E_CONFIG",
            `${this.#tokenFile}: cannot read the service-account token`,
            {},
            {
              cause: err,
            },
          );
        }
      }
    }
    return this.#token;
  }

  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    opts.ca = this.#ca;
    opts.headers = { ...opts.headers, Authorization: `Bearer ${this.#readToken()}` };
    return Promise.resolve();
  }
}

/** client-node's last resort when it found no configuration at all: an unauthenticated http://localhost:8080. */
const LAST_RESORT_SERVER = "http://localhost:8080";

interface LoadedClusterConfig {
  getCurrentContext(): string;
  getCurrentCluster(): { name: string; server: string; skipTLSVerify?: boolean } | null;
}

/**
 * Why a loaded kubeconfig cannot work (undefined: it can). Checked at start-up, so a component
 * refuses to start with one line instead of retrying requests that can never succeed.
 */
export function kubeconfigProblem(kc: LoadedClusterConfig, explicitFile: boolean): string | undefined {
  const cluster = kc.getCurrentCluster();
  if (
    !explicitFile &&
    kc.getCurrentContext() === "loaded-context" &&
    cluster?.server === LAST_RESORT_SERVER
  ) {
    return "no Kubernetes configuration found: not in a pod (KUBERNETES_SERVICE_HOST unset), no $KUBECONFIG, no ~/.kube/config; pass --kubeconfig";
  }
  if (cluster === null) return "the kubeconfig has no current context/cluster (set current-context)";
  let url: URL;
  try {
    url = new URL(cluster.server);
  } catch {
    return `cluster "${cluster.name}": server "${cluster.server}" is not a URL`;
  }
  if (url.protocol === "http:" && cluster.skipTLSVerify !== true) {
    return `cluster "${cluster.name}": server ${cluster.server} is plain HTTP (use https, or set insecure-skip-tls-verify)`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return `cluster "${cluster.name}": server ${cluster.server} is not an https URL`;
  }
  return undefined;
}

/**
 * The API access for a component: an explicit kubeconfig file, else the pod's service account when
 * running in a cluster, else client-node's defaults ($KUBECONFIG, ~/.kube/config). client-node is
 * only loaded when a kubeconfig is involved. Throws BRUPOP_E_CONFIG, naming what is missing, when
 * none of them can work (every component calls this before doing anything else).
 */
const nonEmpty = (v: string | undefined): string | undefined => (v === "" ? undefined : v);

export async function loadKubeAccess(
  kubeconfig?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<KubeAccess> {
  const inPod = nonEmpty(env.KUBERNETES_SERVICE_HOST) !== undefined;
  if (kubeconfig === undefined && inPod) {
    // BRUPOP_SERVICE_ACCOUNT_DIR: only for measuring the in-cluster path outside a pod (benchmarks).
    return new InClusterAccess(env, env.BRUPOP_SERVICE_ACCOUNT_DIR ?? SERVICE_ACCOUNT_DIR);
  }
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  const source = kubeconfig ?? nonEmpty(env.KUBECONFIG);
  const variable = kubeconfig === undefined ? "KUBECONFIG" : "--kubeconfig";
  try {
    if (kubeconfig !== undefined) kc.loadFromFile(kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new BrupopError("BRUPOP_E_CONFIG", `cannot load kubeconfig ${source ?? "~/.kube/config"}: ${why}`, {
      variable,
    });
  }
  const problem = kubeconfigProblem(kc, source !== undefined);
  if (problem !== undefined) {
    const message = source === undefined ? problem : `kubeconfig ${source}: ${problem}`;
    throw new BrupopError("BRUPOP_E_CONFIG", message, { variable });
  }
  return kc;
}
