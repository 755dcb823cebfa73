// The apiserver's authentication/authorisation decisions, as pure functions (SPEC §5). An agent
// proves who it is with a bound service-account token (TokenReview), and may only act on the node
// its own agent pod runs on:
//
//   headers present                         else 401
//   review authenticated, no review error   else 401
//   audience intersection non-empty         else 401
//   exactly one pod-name claim              else 401 (not a pod-bound token)
//   service account in our namespace        else 403 (a pod elsewhere may share the agent's name)
//   the pod still exists (same uid)         else 401 (the token died with its pod)
//   pod carries the agent component label   else 403
//   pod is scheduled on the named node      else 403
//   the node exists with the given uid      else 403
import type { ErrorCode } from "../errors.js";
import { AGENT_COMPONENT, COMPONENT_LABEL } from "../model/constants.js";

export const HEADER_NODE_NAME = "BrupopNodeName";
export const HEADER_NODE_UID = "BrupopNodeUid";
export const HEADER_TOKEN = "BrupopK8sAuthToken";

export const POD_NAME_EXTRA = "authentication.kubernetes.io/pod-name";
export const POD_UID_EXTRA = "authentication.kubernetes.io/pod-uid";
const SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:";

export type AuthErrorCode = Extract<ErrorCode, "BRUPOP_E_UNAUTHENTICATED" | "BRUPOP_E_FORBIDDEN">;
export type Decision<T> = { ok: true; value: T } | { ok: false; code: AuthErrorCode; reason: string };

const deny = (code: AuthErrorCode, reason: string): { ok: false; code: AuthErrorCode; reason: string } => ({
  ok: false,
  code,
  reason,
});

export interface CallerClaim {
  nodeName: string;
  nodeUid: string;
  token: string;
}

type HeaderValue = string | string[] | undefined;

function single(value: HeaderValue): string | undefined {
  const v = Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;
  const trimmed = v?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}

/** Reads the three agent headers (names are case-insensitive; Node lower-cases them). */
export function parseAuthHeaders(headers: Record<string, HeaderValue>): Decision<CallerClaim> {
  const nodeName = single(headers[HEADER_NODE_NAME.toLowerCase()]);
  const nodeUid = single(headers[HEADER_NODE_UID.toLowerCase()]);
  let token = single(headers[HEADER_TOKEN.toLowerCase()]);
  if (token?.startsWith("Bearer ") === true) token = token.slice(7).trim();
  const missing = [
    nodeName === undefined ? HEADER_NODE_NAME : undefined,
    nodeUid === undefined ? HEADER_NODE_UID : undefined,
    token === undefined || token === "" ? HEADER_TOKEN : undefined,
  ].filter((h) => h !== undefined);
  if (nodeName === undefined || nodeUid === undefined || token === undefined || token === "") {
    return deny("BRUPOP_E_UNAUTHENTICATED", `missing header(s): ${missing.join(", ")}`);
  }
  return { ok: true, value: { nodeName, nodeUid, token } };
}

/** `status` of an authentication.k8s.io/v1 TokenReview. */
export interface TokenReviewStatus {
  authenticated?: boolean;
  error?: string;
  audiences?: string[];
  user?: {
    username?: string;
    uid?: string;
    groups?: string[];
    extra?: Record<string, string[]>;
  };
}

/** Who a reviewed token belongs to: one pod's service account in our namespace. */
export interface AgentIdentity {
  podName: string;
  /** Present on tokens from Kubernetes ≥ 1.21; lets us reject a token of a deleted, re-created pod. */
  podUid: string | undefined;
  serviceAccount: string;
}

export interface ReviewExpectations {
  namespace: string;
  audiences: readonly string[];
}

/** Why the review itself does not vouch for the token (undefined: it does). */
function reviewProblem(
  status: TokenReviewStatus | undefined,
  audiences: readonly string[],
): string | undefined {
  if (status?.authenticated !== true) return "token not authenticated";
  if (status.error !== undefined && status.error !== "") return "token review reported an error";
  if (!(status.audiences ?? []).some((a) => audiences.includes(a))) return "token audience does not match";
  return undefined;
}

/** The one value of a claim, or undefined when it has none, several, or an empty one. */
function onlyValue(values: readonly string[] | undefined): string | undefined {
  const [first] = values ?? [];
  return values?.length === 1 && first !== undefined && first !== "" ? first : undefined;
}

/** `system:serviceaccount:<ns>:<name>` → name, when ns is ours. */
function serviceAccountIn(username: string | undefined, namespace: string): string | undefined {
  if (username?.startsWith(SERVICE_ACCOUNT_PREFIX) !== true) return undefined;
  const [ns, sa] = username.slice(SERVICE_ACCOUNT_PREFIX.length).split(":");
  return ns === namespace && sa !== undefined && sa !== "" ? sa : undefined;
}

export function identityFromReview(
  status: TokenReviewStatus | undefined,
  expect: ReviewExpectations,
): Decision<AgentIdentity> {
  const problem = reviewProblem(status, expect.audiences);
  if (problem !== undefined) return deny("BRUPOP_E_UNAUTHENTICATED", problem);
  const extra = status?.user?.extra ?? {};
  const podName = onlyValue(extra[POD_NAME_EXTRA]);
  const podUids = extra[POD_UID_EXTRA];
  const podUid = onlyValue(podUids);
  if (podName === undefined || (podUids !== undefined && podUid === undefined)) {
    return deny("BRUPOP_E_UNAUTHENTICATED", "token is not bound to exactly one pod");
  }
  const serviceAccount = serviceAccountIn(status?.user?.username, expect.namespace);
  if (serviceAccount === undefined) {
    return deny("BRUPOP_E_FORBIDDEN", "token does not belong to a service account of this namespace");
  }
  return { ok: true, value: { podName, podUid, serviceAccount } };
}

/** The part of a Pod the decision reads. */
export interface AgentPod {
  metadata?: { name?: string; namespace?: string; uid?: string; labels?: Record<string, string> };
  spec?: { nodeName?: string };
}

export interface Caller {
  nodeName: string;
  nodeUid: string;
  podName: string;
  serviceAccount: string;
}

/**
 * Decides whether the reviewed identity may act on the claimed node.
 * `pod`: the identity's pod as found in our namespace now (undefined: gone).
 * `nodeUid`: the claimed node's uid as found now (undefined: no such node).
 */
export function authorizeCaller(
  identity: AgentIdentity,
  pod: AgentPod | undefined,
  nodeUid: string | undefined,
  claim: Omit<CallerClaim, "token">,
): Decision<Caller> {
  if (pod === undefined) return deny("BRUPOP_E_UNAUTHENTICATED", "the token's pod no longer exists");
  if (identity.podUid !== undefined && pod.metadata?.uid !== identity.podUid) {
    return deny("BRUPOP_E_UNAUTHENTICATED", "the token's pod no longer exists");
  }
  if (pod.metadata?.labels?.[COMPONENT_LABEL] !== AGENT_COMPONENT) {
    return deny("BRUPOP_E_FORBIDDEN", "the token's pod is not a brupop agent");
  }
  if (pod.spec?.nodeName !== claim.nodeName) {
    return deny("BRUPOP_E_FORBIDDEN", "the token's pod does not run on the named node");
  }
  if (nodeUid === undefined) return deny("BRUPOP_E_FORBIDDEN", "no such node");
  if (nodeUid !== claim.nodeUid) return deny("BRUPOP_E_FORBIDDEN", "node uid does not match");
  return {
    ok: true,
    value: {
      nodeName: claim.nodeName,
      nodeUid,
      podName: identity.podName,
      serviceAccount: identity.serviceAccount,
    },
  };
}
