// The apiserver's authentication/authorisation decisions, as pure functions (SPEC §5). An agent
// proves who it is with a bound service-account token (TokenReview), and may only act on the node
// its own agent pod runs on:
//
//   headers present                         else 401
//   headers well-formed (node name, uid)    else 400 (checked before any Kubernetes call)
//   token is a JWT whose unverified claims
//     could pass (audience, expiry, pod)    else 401, without a TokenReview
//   review authenticated, no review error   else 401
//   audience intersection non-empty         else 401
//   exactly one pod-name claim              else 401 (not a pod-bound token)
//   service account in our namespace        else 403 (a pod elsewhere may share the agent's name)
//   the service account still exists
//     (same uid as in the review)           else 401 (the token died with its service account)
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

export type AuthErrorCode = Extract<
  ErrorCode,
  "BRUPOP_E_UNAUTHENTICATED" | "BRUPOP_E_FORBIDDEN" | "BRUPOP_E_BAD_REQUEST"
>;
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

/** A Kubernetes node name: an RFC 1123 DNS subdomain (lower case, ≤ 253 characters). */
const NODE_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A Kubernetes uid (kube-apiserver issues UUIDs; anything of letters, digits and dashes is let through). */
const UID_RE = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
/** A JWT in compact form: three base64url segments (service-account tokens are always JWTs). */
const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** Bound tokens are ~1 KiB; anything much larger is not one (and is not worth hashing or reviewing). */
export const MAX_TOKEN_LENGTH = 16 * 1024;

/** Why a node-name header is not a Kubernetes node name (undefined: it is one). */
export function nodeNameProblem(name: string): string | undefined {
  if (name.length > 253) return "longer than 253 characters";
  if (!NODE_NAME_RE.test(name)) return "not an RFC 1123 subdomain (lower-case letters, digits, '-', '.')";
  return undefined;
}

/**
 * Reads the three agent headers (names are case-insensitive; Node lower-cases them) and checks their
 * shape, so that nothing malformed ever reaches a Kubernetes call: missing → 401, malformed → 400,
 * a token that cannot be a service-account token → 401.
 */
export function parseAuthHeaders(headers: Record<string, HeaderValue>): Decision<CallerClaim> {
  const raw = {
    [HEADER_NODE_NAME]: headers[HEADER_NODE_NAME.toLowerCase()],
    [HEADER_NODE_UID]: headers[HEADER_NODE_UID.toLowerCase()],
    [HEADER_TOKEN]: headers[HEADER_TOKEN.toLowerCase()],
  };
  const repeated = Object.entries(raw).filter(([, v]) => Array.isArray(v) && v.length > 1);
  if (repeated.length > 0) {
    return deny(
      "BRUPOP_E_BAD_REQUEST",
      `header(s) given more than once: ${repeated.map(([h]) => h).join(", ")}`,
    );
  }
  const nodeName = single(raw[HEADER_NODE_NAME]);
  const nodeUid = single(raw[HEADER_NODE_UID]);
  let token = single(raw[HEADER_TOKEN]);
  if (token?.startsWith("Bearer ") === true) token = token.slice(7).trim();
  const missing = [
    nodeName === undefined ? HEADER_NODE_NAME : undefined,
    nodeUid === undefined ? HEADER_NODE_UID : undefined,
    token === undefined || token === "" ? HEADER_TOKEN : undefined,
  ].filter((h) => h !== undefined);
  if (nodeName === undefined || nodeUid === undefined || token === undefined || token === "") {
    return deny("BRUPOP_E_UNAUTHENTICATED", `missing header(s): ${missing.join(", ")}`);
  }
  return checkShape({ nodeName, nodeUid, token });
}

function checkShape(claim: CallerClaim): Decision<CallerClaim> {
  const nameProblem = nodeNameProblem(claim.nodeName);
  if (nameProblem !== undefined) return deny("BRUPOP_E_BAD_REQUEST", `${HEADER_NODE_NAME}: ${nameProblem}`);
  if (!UID_RE.test(claim.nodeUid)) {
    return deny("BRUPOP_E_BAD_REQUEST", `${HEADER_NODE_UID}: not a Kubernetes uid`);
  }
  if (claim.token.length > MAX_TOKEN_LENGTH || !JWT_RE.test(claim.token)) {
    return deny("BRUPOP_E_UNAUTHENTICATED", "token is not a service-account token (JWT)");
  }
  return { ok: true, value: claim };
}

/** The claims of a JWT, read WITHOUT verifying it (undefined: not decodable). */
export function unverifiedClaims(token: string): Record<string, unknown> | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as unknown;
    return typeof claims === "object" && claims !== null && !Array.isArray(claims)
      ? (claims as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function objectAt(v: unknown, key: string): Record<string, unknown> | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const next = (v as Record<string, unknown>)[key];
  return typeof next === "object" && next !== null ? (next as Record<string, unknown>) : undefined;
}

/**
 * Why a token's own (unverified) claims already rule it out, so no TokenReview is spent on it
 * (undefined: worth reviewing). Only refuses what the review would refuse too: a token not for our
 * audience, expired, or not bound to a pod (legacy secret tokens, user tokens). A forger can of
 * course write any claims; the review still decides, and the review budget bounds what that costs.
 */
export function tokenClaimsProblem(
  token: string,
  audiences: readonly string[],
  nowMs: number,
): string | undefined {
  const claims = unverifiedClaims(token);
  if (claims === undefined) return "token is not a JWT";
  const aud = claims.aud;
  const auds = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : [];
  if (!auds.some((a) => typeof a === "string" && audiences.includes(a)))
    return "token audience does not match";
  const exp = claims.exp;
  if (typeof exp !== "number" || exp * 1000 <= nowMs) return "token expired or without expiry";
  if (objectAt(objectAt(claims, "kubernetes.io"), "pod") === undefined) return "token is not bound to a pod";
  return undefined;
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
  /** The service account's uid as the review saw it (user.uid); re-checked on every request. */
  serviceAccountUid: string | undefined;
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
  const uid = status?.user?.uid;
  const serviceAccountUid = uid === undefined || uid === "" ? undefined : uid;
  return { ok: true, value: { podName, podUid, serviceAccount, serviceAccountUid } };
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

/** The service account found now (uid; undefined: gone) is the one the review vouched for. */
function sameServiceAccount(identity: AgentIdentity, uidNow: string | undefined): boolean {
  if (uidNow === undefined) return false;
  return identity.serviceAccountUid === undefined || identity.serviceAccountUid === uidNow;
}

/**
 * Decides whether the reviewed identity may act on the claimed node.
 * `pod`: the identity's pod as found in our namespace now (undefined: gone).
 * `nodeUid`: the claimed node's uid as found now (undefined: no such node).
 * `serviceAccount`: the identity's service account as found now (`uid` undefined: gone); omitted
 * when not looked up.
 */
export function authorizeCaller(
  identity: AgentIdentity,
  pod: AgentPod | undefined,
  nodeUid: string | undefined,
  claim: Omit<CallerClaim, "token">,
  serviceAccount?: { uid: string | undefined },
): Decision<Caller> {
  if (serviceAccount !== undefined && !sameServiceAccount(identity, serviceAccount.uid)) {
    return deny("BRUPOP_E_UNAUTHENTICATED", "the token's service account no longer exists");
  }
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
