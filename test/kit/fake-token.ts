// Unsigned JWTs shaped like bound service-account tokens, for tests: they pass the apiserver's
// claim pre-check (audience, expiry, pod binding) so a (fake or real) TokenReview decides. A real
// kube-apiserver refuses them: they are what a forger would send.
import { AGENT_TOKEN_AUDIENCE } from "../../src/model/constants.js";

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");

export interface FakeTokenClaims {
  aud?: string | string[];
  /** Seconds since epoch (default: year 2100). */
  exp?: number;
  namespace?: string;
  pod?: { name: string; uid: string } | null;
  serviceAccount?: { name: string; uid: string };
  /** The pod's node, as bound tokens from Kubernetes ≥ 1.30 carry it (default: none). */
  node?: { name: string; uid: string };
}

/** A deterministic fake token; `label` makes it distinct (it is the `sub` claim's suffix). */
export function fakeAgentToken(label: string, claims: FakeTokenClaims = {}): string {
  const ns = claims.namespace ?? "brupop-bottlerocket-aws";
  const sa = claims.serviceAccount ?? { name: "brupop-agent-service-account", uid: "sa-uid" };
  const k8s: Record<string, unknown> = { namespace: ns, serviceaccount: sa };
  if (claims.pod !== null) k8s.pod = claims.pod ?? { name: `pod-${label}`, uid: `pod-uid-${label}` };
  if (claims.node !== undefined) k8s.node = claims.node;
  const payload = {
    aud: claims.aud ?? [AGENT_TOKEN_AUDIENCE],
    exp: claims.exp ?? 4_102_444_800,
    iat: 1_700_000_000,
    iss: "https://kubernetes.default.svc.cluster.local",
    sub: `system:serviceaccount:${ns}:${sa.name}:${label}`,
    "kubernetes.io": k8s,
  };
  return `${b64({ alg: "RS256", kid: "fake" })}.${b64(payload)}.${Buffer.from(`sig-${label}`).toString("base64url")}`;
}
