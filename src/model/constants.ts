// Names that form brupop's contract with clusters that ran upstream Brupop (SPEC §2, §7).
// Changing any of these breaks compatibility with existing objects, labels or charts.

export const API_GROUP = "brupop.bottlerocket.aws";
export const KIND = "BottlerocketShadow";
export const PLURAL = "bottlerocketshadows";
export const SINGULAR = "bottlerocketshadow";
export const SHORT_NAME = "brs";
export const CRD_NAME = `${PLURAL}.${API_GROUP}`;
export const STORAGE_VERSION = "v2";
export const LEGACY_VERSION = "v1";
export const API_VERSION_V2 = `${API_GROUP}/v2`;
export const API_VERSION_V1 = `${API_GROUP}/v1`;

export const DEFAULT_NAMESPACE = "brupop-bottlerocket-aws";
export const APISERVER_SERVICE_NAME = "brupop-apiserver";
export const DEFAULT_APISERVER_SERVICE_PORT = 443;
export const CONVERSION_PATH = "/crdconvert";
/** cert-manager Certificate whose CA is injected into the CRD's conversion webhook. */
export const ROOT_CERTIFICATE_NAME = "root-certificate";

/** Nodes carrying this label (value 2.0.0) are managed by brupop. */
export const UPDATER_INTERFACE_LABEL = "bottlerocket.aws/updater-interface-version";
export const UPDATER_INTERFACE_VERSION = "2.0.0";
export const EXCLUDE_FROM_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers";
export const COMPONENT_LABEL = `${API_GROUP}/component`;
export const AGENT_COMPONENT = "agent";

/** Audience of the agents' projected service-account tokens. */
export const AGENT_TOKEN_AUDIENCE = "brupop-apiserver";

/** Name of the shadow object that mirrors a node. */
export function shadowNameForNode(nodeName: string): string {
  return `brs-${nodeName}`;
}

/** Inverse of shadowNameForNode; undefined for names that are not shadow names. */
export function nodeNameForShadow(shadowName: string): string | undefined {
  return shadowName.startsWith("brs-") && shadowName.length > 4 ? shadowName.slice(4) : undefined;
}

/**
 * On a node's BottlerocketShadow: the version the node is pinned to (issue 18; the controller's
 * fleet policy writes it). The agent sets the host's `settings.updates.version-lock` to it before
 * every update check; absent = no pin ("latest").
 */
export const VERSION_LOCK_ANNOTATION = `${API_GROUP}/version-lock`;

/**
 * On a node's BottlerocketShadow: a person accepts the node's failure on the new version (issue 25).
 * The value must be that failure's `status.failure.timestamp`, so an acceptance never covers a later
 * failure. Set by `brupop accept NODE` or by hand (docs/policy.md).
 */
export const ACCEPT_FAILURE_ANNOTATION = `${API_GROUP}/accept-failure`;
