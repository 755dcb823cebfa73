// The Kubernetes objects brupop reads and writes, as the slim raw-JSON shapes its code looks at (one
// type per kind, only optional fields: the API may omit any of them), and the one place their REST
// paths are built. Nothing here does I/O. Names are encoded with encodeURIComponent, which leaves every
// valid Kubernetes name as it is.
import { API_GROUP, PLURAL, STORAGE_VERSION } from "../model/constants.js";

export interface OwnerReference {
  apiVersion?: string;
  kind?: string;
  name?: string;
  uid?: string;
  controller?: boolean;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  creationTimestamp?: string;
  deletionTimestamp?: string;
  managedFields?: unknown;
}

/** Any object: what the informer and the generic verbs need. */
export interface KubeObject {
  metadata?: ObjectMeta;
}

/** A LIST answer. */
export interface KubeList<T> {
  items?: T[];
  /** `continue`: the token for the next page of a paginated LIST (absent or "" on the last page). */
  metadata?: { resourceVersion?: string; continue?: string };
}

/** A BottlerocketShadow as read from the API (validated later with parseShadow). */
export interface RawShadow {
  metadata?: ObjectMeta;
  spec?: unknown;
  status?: unknown;
}

export interface NodeCondition {
  type?: string;
  status?: string;
  lastTransitionTime?: string;
}

/** The part of a Node brupop reads (agent, node writes, status). */
export interface Taint {
  key?: string;
  value?: string;
  effect?: string;
  timeAdded?: string;
}

export interface KubeNode {
  metadata?: ObjectMeta;
  spec?: { unschedulable?: boolean; taints?: Taint[] };
  status?: { conditions?: NodeCondition[] };
}

/** The part of a Pod brupop reads (drain, apiserver's agent check, status). */
export interface KubePod {
  metadata?: ObjectMeta;
  spec?: {
    nodeName?: string;
    volumes?: { name?: string; emptyDir?: unknown }[];
    /** The drain reads whether the pod tolerates the cordon's taint. */
    tolerations?: { key?: string; operator?: string; value?: string; effect?: string }[];
  };
  /** `conditions`: the agent's health gate reads Ready. */
  status?: { phase?: string; conditions?: { type?: string; status?: string; lastTransitionTime?: string }[] };
}

/** A policy/v1 PodDisruptionBudget, the part the drain reads. */
export interface KubePodDisruptionBudget {
  metadata?: ObjectMeta;
  spec?: {
    selector?: {
      matchLabels?: Record<string, string>;
      matchExpressions?: { key: string; operator: string; values?: string[] }[];
    } | null;
  };
  /** disruptedPods: pod name → when an eviction of it was granted (Kubernetes drops it after 2 min). */
  status?: { disruptionsAllowed?: number; disruptedPods?: Record<string, string> };
}

export interface KubeServiceAccount {
  metadata?: ObjectMeta;
}

export interface KubeConfigMap {
  metadata?: ObjectMeta;
  data?: Record<string, string>;
}

/** What a TokenReview answers (authentication.k8s.io/v1). */
export interface TokenReviewResult {
  authenticated?: boolean;
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  audiences?: string[];
  error?: string;
}

const seg = encodeURIComponent;

/** REST paths of everything brupop touches. */
export const paths = {
  nodes: (): string => "/api/v1/nodes",
  node: (name: string): string => `/api/v1/nodes/${seg(name)}`,
  /** All pods (cluster scope) or the pods of one namespace. */
  pods: (namespace?: string): string =>
    namespace === undefined ? "/api/v1/pods" : `/api/v1/namespaces/${seg(namespace)}/pods`,
  pod: (namespace: string, name: string): string => `${paths.pods(namespace)}/${seg(name)}`,
  eviction: (namespace: string, name: string): string => `${paths.pod(namespace, name)}/eviction`,
  serviceAccounts: (namespace: string): string => `/api/v1/namespaces/${seg(namespace)}/serviceaccounts`,
  serviceAccount: (namespace: string, name: string): string =>
    `${paths.serviceAccounts(namespace)}/${seg(name)}`,
  configMaps: (namespace: string): string => `/api/v1/namespaces/${seg(namespace)}/configmaps`,
  configMap: (namespace: string, name: string): string => `${paths.configMaps(namespace)}/${seg(name)}`,
  events: (namespace: string): string => `/apis/events.k8s.io/v1/namespaces/${seg(namespace)}/events`,
  leases: (namespace: string): string => `/apis/coordination.k8s.io/v1/namespaces/${seg(namespace)}/leases`,
  lease: (namespace: string, name: string): string => `${paths.leases(namespace)}/${seg(name)}`,
  tokenReviews: (): string => "/apis/authentication.k8s.io/v1/tokenreviews",
  /** All PodDisruptionBudgets (cluster scope) or those of one namespace. */
  podDisruptionBudgets: (namespace?: string): string =>
    namespace === undefined
      ? "/apis/policy/v1/poddisruptionbudgets"
      : `/apis/policy/v1/namespaces/${seg(namespace)}/poddisruptionbudgets`,
  /** The BottlerocketShadow collection of a namespace (storage version v2). */
  shadows: (namespace: string): string =>
    `/apis/${API_GROUP}/${STORAGE_VERSION}/namespaces/${seg(namespace)}/${PLURAL}`,
  shadow: (namespace: string, name: string): string => `${paths.shadows(namespace)}/${seg(name)}`,
  shadowStatus: (namespace: string, name: string): string => `${paths.shadow(namespace, name)}/status`,
} as const;
