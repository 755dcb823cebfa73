// Start-up configuration of `brupop apiserver` (upstream's variable names): the option table
// (src/config/options.ts) gives the flags, the help, docs/configuration.md and the parsed values;
// loadApiserverConfig adds the namespace from the pod and the bind address, validated once.
import type { LevelWithSilent } from "pino";
import { logLevelOption } from "../config/common.js";
import { parseOptions, type Env, type FlagValues, type OptionTable } from "../config/options.js";
import {
  configError,
  parseBoolean,
  parseNamespace,
  parsePort,
  parsePositiveInt,
  parseString,
  resolveNamespace,
} from "../config/parsers.js";
import { DEFAULT_DRAIN_POLICY, type DrainPolicy, type DrainTimeoutAction } from "./drain-policy.js";
import { parseLabelSelector, type LabelSelector } from "../k8s/label-selector.js";
import {
  parseAnnotationMarks,
  parseLabelMarks,
  parseTaintMarks,
  type NodeMarks,
  type NodeTaint,
} from "./node-marks.js";
import { DEFAULT_TLS_DIR } from "./tls.js";

/** A pure parser whose Error becomes BRUPOP_E_CONFIG naming the variable. */
function named<T>(parse: (raw: string) => T): (raw: string, name: string) => T {
  return (raw, name) => {
    try {
      return parse(raw);
    } catch (err) {
      throw configError(name, err instanceof Error ? err.message : String(err));
    }
  };
}

function parseTimeoutAction(raw: string, name: string): DrainTimeoutAction {
  const v = raw.trim();
  if (v === "fail" || v === "delete") return v;
  throw configError(name, `must be fail or delete, got "${raw}"`);
}

export const DEFAULT_APISERVER_INTERNAL_PORT = 8443;
export const DEFAULT_DRAIN_TIMEOUT_SECONDS = 600;

export const APISERVER_OPTIONS = {
  namespace: {
    flag: "--namespace <ns>",
    parse: parseNamespace,
    defaultText: "the pod's, from the service-account mount",
    help: "brupop's namespace",
  },
  tlsDir: {
    flag: "--tls-dir <dir>",
    parse: parseString,
    default: DEFAULT_TLS_DIR,
    help: "directory with tls.crt and tls.key (reloaded when they change)",
  },
  host: {
    flag: "--host <addr>",
    parse: parseString,
    defaultText: "all addresses of the cluster's IP family",
    help: "address to bind",
  },
  port: {
    env: ["APISERVER_INTERNAL_PORT"],
    chartValue: "apiserver_internal_port",
    parse: parsePort,
    default: DEFAULT_APISERVER_INTERNAL_PORT,
    help: "port the apiserver listens on",
  },
  drainTimeoutSeconds: {
    flag: "--drain-timeout-seconds <n>",
    env: ["DRAIN_TIMEOUT_SECONDS"],
    errorName: "DRAIN_TIMEOUT_SECONDS",
    parse: parsePositiveInt,
    default: DEFAULT_DRAIN_TIMEOUT_SECONDS,
    chartValue: "drain.timeout_seconds",
    help: "deadline of one cordon-and-drain, in seconds",
  },
  drainTimeoutAction: {
    flag: "--drain-timeout-action <action>",
    env: ["DRAIN_TIMEOUT_ACTION"],
    errorName: "DRAIN_TIMEOUT_ACTION",
    chartValue: "drain.timeout_action",
    parse: parseTimeoutAction,
    default: DEFAULT_DRAIN_POLICY.onTimeout,
    help: "when the drain deadline passes: fail (the node stays cordoned, the agent reports the pods left) or delete (delete the pods still there, except those a PodDisruptionBudget protects now)",
  },
  drainDisregardPdb: {
    flag: "--drain-disregard-pdb <bool>",
    env: ["DRAIN_DISREGARD_PDB"],
    errorName: "DRAIN_DISREGARD_PDB",
    chartValue: "drain.disregard_pdb",
    parse: parseBoolean,
    default: DEFAULT_DRAIN_POLICY.disregardPdb,
    help: "with DRAIN_TIMEOUT_ACTION=delete, also delete pods whose PodDisruptionBudget allows no disruption",
  },
  drainSkipPodSelector: {
    flag: "--drain-skip-pod-selector <selector>",
    env: ["DRAIN_SKIP_POD_SELECTOR"],
    errorName: "DRAIN_SKIP_POD_SELECTOR",
    chartValue: "drain.skip_pod_selector",
    parse: named<LabelSelector>(parseLabelSelector),
    defaultText: "none",
    help: "label selector (a=b,c!=d,e in (x,y),!f) of pods the drain leaves on the node",
  },
  drainEvictDoNotDisruptPods: {
    flag: "--drain-evict-do-not-disrupt-pods <bool>",
    env: ["DRAIN_EVICT_DO_NOT_DISRUPT_PODS"],
    errorName: "DRAIN_EVICT_DO_NOT_DISRUPT_PODS",
    chartValue: "drain.evict_do_not_disrupt_pods",
    parse: parseBoolean,
    default: DEFAULT_DRAIN_POLICY.evictDoNotDisrupt,
    help: 'evict pods annotated karpenter.sh/do-not-disrupt: "true" or cluster-autoscaler.kubernetes.io/safe-to-evict: "false" (false: such a pod blocks the drain; upstream evicts them)',
  },
  drainEvictUnmanagedPods: {
    flag: "--drain-evict-unmanaged-pods <bool>",
    env: ["DRAIN_EVICT_UNMANAGED_PODS"],
    errorName: "DRAIN_EVICT_UNMANAGED_PODS",
    chartValue: "drain.evict_unmanaged_pods",
    parse: parseBoolean,
    default: DEFAULT_DRAIN_POLICY.evictUnmanaged,
    help: "evict pods no controller owns, as upstream and kubectl drain --force (false: such a pod blocks the drain)",
  },
  drainEvictEmptyDirPods: {
    flag: "--drain-evict-emptydir-pods <bool>",
    env: ["DRAIN_EVICT_EMPTYDIR_PODS"],
    errorName: "DRAIN_EVICT_EMPTYDIR_PODS",
    chartValue: "drain.evict_emptydir_pods",
    parse: parseBoolean,
    default: DEFAULT_DRAIN_POLICY.evictEmptyDir,
    help: "evict pods with emptyDir volumes, as upstream and kubectl drain --delete-emptydir-data (false: such a pod blocks the drain)",
  },
  updateNodeLabels: {
    flag: "--update-node-labels <k=v,...>",
    env: ["UPDATE_NODE_LABELS"],
    errorName: "UPDATE_NODE_LABELS",
    chartValue: "update_node_marks.labels",
    parse: named(parseLabelMarks),
    defaultText: "none",
    help: "labels put on a node with brupop's cordon and removed with its uncordon (only those brupop added)",
  },
  updateNodeAnnotations: {
    flag: "--update-node-annotations <k=v,...>",
    env: ["UPDATE_NODE_ANNOTATIONS"],
    errorName: "UPDATE_NODE_ANNOTATIONS",
    chartValue: "update_node_marks.annotations",
    parse: named(parseAnnotationMarks),
    defaultText: "none",
    help: "annotations put on a node with brupop's cordon and removed with its uncordon, e.g. karpenter.sh/do-not-disrupt=true",
  },
  updateNodeTaints: {
    flag: "--update-node-taints <k=v:Effect,...>",
    env: ["UPDATE_NODE_TAINTS"],
    errorName: "UPDATE_NODE_TAINTS",
    chartValue: "update_node_marks.taints",
    parse: named<NodeTaint[]>(parseTaintMarks),
    defaultText: "none",
    help: "taints (key[=value]:NoSchedule|PreferNoSchedule) put on a node with brupop's cordon and removed with its uncordon",
  },
  logLevel: logLevelOption("apiserver"),
} satisfies OptionTable;

export type ApiserverFlags = FlagValues<typeof APISERVER_OPTIONS>;

export interface ApiserverConfig {
  port: number;
  host: string;
  namespace: string;
  tlsDir: string;
  drainTimeoutMs: number;
  drainPolicy: DrainPolicy;
  /** Put on the node with the cordon, taken off with the uncordon. */
  marks: NodeMarks;
  logLevel: LevelWithSilent;
}

export interface LoadConfigDeps {
  env?: Env;
  /** Reads the service-account namespace file; undefined when absent (not in a pod). */
  readNamespace?: () => string | undefined;
}

export function loadApiserverConfig(flags: ApiserverFlags, deps: LoadConfigDeps = {}): ApiserverConfig {
  const env = deps.env ?? process.env;
  const o = parseOptions(APISERVER_OPTIONS, env, flags);
  const { namespace } = resolveNamespace(o.namespace, deps.readNamespace);
  return {
    port: o.port,
    // Like upstream: bind every address of the cluster's IP family (from KUBERNETES_SERVICE_HOST).
    host: o.host ?? (env["KUBERNETES_SERVICE_HOST"]?.includes(":") === true ? "::" : "0.0.0.0"),
    namespace,
    tlsDir: o.tlsDir,
    drainTimeoutMs: o.drainTimeoutSeconds * 1000,
    drainPolicy: {
      onTimeout: o.drainTimeoutAction,
      disregardPdb: o.drainDisregardPdb,
      skipSelector: o.drainSkipPodSelector,
      evictDoNotDisrupt: o.drainEvictDoNotDisruptPods,
      evictUnmanaged: o.drainEvictUnmanagedPods,
      evictEmptyDir: o.drainEvictEmptyDirPods,
    },
    marks: {
      labels: o.updateNodeLabels ?? {},
      annotations: o.updateNodeAnnotations ?? {},
      taints: o.updateNodeTaints ?? [],
    },
    logLevel: o.logLevel,
  };
}
