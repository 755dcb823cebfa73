// Client identities for the benchmark: each brupop component gets its own client certificate (CN =
// the user kube-apiserver's audit log names), so its requests can be told apart at the API server.
// All are cluster admins (O=system:masters): the benchmark measures load, not RBAC.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { TestCluster } from "../../kit/testenv/cluster.js";
import { renderKubeconfig } from "../../kit/testenv/kubeconfig.js";
import { issueCert } from "../../kit/testenv/pki.js";
import { kube } from "../../kit/testenv/kube-call.js";
import { RawKubeRest } from "../../kit/testenv/raw-rest.js";

export interface Identity {
  user: string;
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
}

export async function identity(cluster: TestCluster, user: string, dir: string): Promise<Identity> {
  const cert = await issueCert({
    ca: cluster.ca,
    commonName: user,
    organization: "system:masters",
    usage: "client",
  });
  const text = renderKubeconfig({
    server: cluster.server,
    caCertPem: cluster.caCertPem,
    clientCertPem: cert.certPem,
    clientKeyPem: cert.keyPem,
    name: user,
  });
  const kubeconfigPath = join(dir, `${user}.kubeconfig`);
  await writeFile(kubeconfigPath, text, { mode: 0o600 });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(text);
  return { user, kubeconfigPath, kubeConfig };
}

/**
 * The same cluster seen through another identity: what a testbed built on it (its REST client, the
 * in-process brupop apiserver, the agents' watches) sends is made as `id.user`. The cluster's own
 * helpers (adding nodes, flipping readiness) keep the admin identity: they play kubelet and kwok.
 */
export function asIdentity(cluster: TestCluster, id: Identity): TestCluster {
  return { ...cluster, kubeConfig: id.kubeConfig, kubeconfigPath: id.kubeconfigPath };
}

/** A component's in-cluster access as its pod has it: the service account's files and the API's address. */
export interface InClusterAccess {
  /** The user kube-apiserver's audit log names: `system:serviceaccount:<ns>:<name>`. */
  user: string;
  /** BRUPOP_SERVICE_ACCOUNT_DIR: token, ca.crt, namespace (as mounted at /var/run/secrets/kubernetes.io/serviceaccount). */
  dir: string;
  /** KUBERNETES_SERVICE_HOST/PORT and BRUPOP_SERVICE_ACCOUNT_DIR. */
  env: Record<string, string>;
}

/**
 * A cluster-admin service account `name` in `namespace` (created with the admin identity) and its
 * bound token written under `dir`: a component started with `env` takes the in-cluster path, as
 * deployed, and never loads client-node's KubeConfig (≈ 40 MiB of RSS a kubeconfig would add).
 */
export async function inClusterAccess(
  cluster: TestCluster,
  namespace: string,
  name: string,
  dir: string,
  tokenSeconds = 6 * 3600,
): Promise<InClusterAccess> {
  const rest = new RawKubeRest(cluster.kubeConfig);
  await kube(rest, "POST", `/api/v1/namespaces/${namespace}/serviceaccounts`, {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name },
  });
  await kube(rest, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: `${name}-${namespace}` },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
    subjects: [{ kind: "ServiceAccount", name, namespace }],
  });
  const tr = await kube<{ status: { token: string } }>(
    rest,
    "POST",
    `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: tokenSeconds },
    },
  );
  const saDir = join(dir, `${name}-serviceaccount`);
  await mkdir(saDir, { recursive: true });
  await writeFile(join(saDir, "token"), tr.status.token, { mode: 0o600 });
  await writeFile(join(saDir, "ca.crt"), cluster.caCertPem);
  await writeFile(join(saDir, "namespace"), namespace);
  const server = new URL(cluster.server);
  return {
    user: `system:serviceaccount:${namespace}:${name}`,
    dir: saDir,
    env: {
      KUBERNETES_SERVICE_HOST: server.hostname,
      KUBERNETES_SERVICE_PORT: server.port,
      BRUPOP_SERVICE_ACCOUNT_DIR: saDir,
    },
  };
}
