// Client identities for the benchmark: each brupop component gets its own client certificate (CN =
// the user kube-apiserver's audit log names), so its requests can be told apart at the API server.
// All are cluster admins (O=system:masters): the benchmark measures load, not RBAC.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { TestCluster } from "../../kit/testenv/cluster.js";
import { renderKubeconfig } from "../../kit/testenv/kubeconfig.js";
import { issueCert } from "../../kit/testenv/pki.js";

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
