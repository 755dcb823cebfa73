// Self-contained kubeconfig (certificates embedded) for a client-certificate user.
import { stringify } from "yaml";

export interface KubeconfigSpec {
  server: string;
  caCertPem: string;
  clientCertPem: string;
  clientKeyPem: string;
  /** Used for the cluster, user and context names (default "brupop-testenv"). */
  name?: string;
  /** Optional TLS server name when `server` is not in the serving cert (e.g. a proxy). */
  tlsServerName?: string;
}

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

export function renderKubeconfig(spec: KubeconfigSpec): string {
  const name = spec.name ?? "brupop-testenv";
  const cluster: Record<string, string> = {
    server: spec.server,
    "certificate-authority-data": b64(spec.caCertPem),
  };
  if (spec.tlsServerName !== undefined) cluster["tls-server-name"] = spec.tlsServerName;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster }],
    users: [
      {
        name,
        user: {
          "client-certificate-data": b64(spec.clientCertPem),
          "client-key-data": b64(spec.clientKeyPem),
        },
      },
    ],
    contexts: [{ name, context: { cluster: name, user: name } }],
    "current-context": name,
    preferences: {},
  });
}
