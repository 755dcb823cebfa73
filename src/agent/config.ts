// `brupop agent` start-up configuration: upstream's environment names plus a few flags (mostly for
// tests and the benchmark). The option table (src/config/options.ts) gives the flags, the help,
// docs/configuration.md and the parsed values; loadAgentConfig adds what needs more than one value
// (the namespace from the pod, the apiserver's address). Every error is BRUPOP_E_CONFIG naming the
// variable or flag at fault; everything else takes the typed result.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { LevelWithSilent } from "pino";
import { AGENT_TOKEN_PATH } from "../apiserver/client.js";
import { DEFAULT_SOCKET_PATH } from "../bottlerocket/client.js";
import { KUBECONFIG_OPTION, logLevelOption } from "../config/common.js";
import { parseOptions, type Env, type FlagValues, type OptionTable } from "../config/options.js";
import {
  configError,
  parseBoolean,
  parseNamespace,
  parseNodeName,
  parseNonNegativeInt,
  parsePort,
  parsePositiveInt,
  parseSelectorText,
  parseString,
  resolveNamespace,
} from "../config/parsers.js";
import { APISERVER_SERVICE_NAME, DEFAULT_APISERVER_SERVICE_PORT } from "../model/constants.js";
import { TIME_ALLOWANCE_SECONDS } from "../model/state.js";
import type { StateTimeLimits } from "./decide.js";
import type { HealthCheckConfig } from "./health.js";
import { DEFAULT_UPDATE_CHECK_INTERVAL_MS } from "./update-check.js";

export const DEFAULT_CA_PATH = "/etc/brupop-tls-keys/ca.crt";
export const DEFAULT_LOOP_INTERVAL_MS = 5_000;
/** The health gate's soak after a reboot: short, well inside MonitoringUpdate's 300 s limit. */
export const DEFAULT_HEALTH_SOAK_SECONDS = 30;
export const DEFAULT_HEALTH_PROBE_TIMEOUT_SECONDS = 5;
/** Upstream sleeps this long after asking for the reboot, then exits 0. */
export const DEFAULT_REBOOT_WAIT_MS = 180_000;

function parseUrl(raw: string, name: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw configError(name, `"${raw}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw configError(name, `must be an https:// URL, got "${raw}"`);
  }
  return raw.replace(/\/+$/, "");
}

/** `brupop-apiserver` → `BRUPOP_APISERVER_SERVICE_HOST` (Kubernetes' service environment names). */
export function serviceEnvName(service: string, suffix: "HOST" | "PORT"): string {
  return `${service.toUpperCase().replace(/-/g, "_")}_SERVICE_${suffix}`;
}

const SERVICE_HOST_VAR = serviceEnvName(APISERVER_SERVICE_NAME, "HOST");
const SERVICE_PORT_VAR = serviceEnvName(APISERVER_SERVICE_NAME, "PORT");

export const AGENT_OPTIONS = {
  nodeName: {
    env: ["MY_NODE_NAME"],
    parse: parseNodeName,
    required: "must be set to the name of the node the agent runs on",
    help: "the node the agent runs on (the chart sets it from the downward API)",
  },
  namespace: {
    flag: "--namespace <ns>",
    parse: parseNamespace,
    defaultText: "the pod's, from the service-account mount",
    help: "brupop's namespace",
  },
  excludeFromLbWaitSeconds: {
    env: ["EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC"],
    chartValue: "exclude_from_lb_wait_time_in_sec",
    parse: parseNonNegativeInt,
    default: 0,
    help: "seconds to wait after excluding the node from load balancers, before draining (0: no exclusion)",
  },
  stageTimeLimitSeconds: {
    env: ["UPDATE_STAGE_TIME_LIMIT_IN_SEC"],
    parse: parseNonNegativeInt,
    default: TIME_ALLOWANCE_SECONDS.StagedAndPerformedUpdate ?? 0,
    help: "seconds allowed to reach StagedAndPerformedUpdate (download + activate) before failing with Timeout (0: no limit)",
  },
  rebootTimeLimitSeconds: {
    env: ["UPDATE_REBOOT_TIME_LIMIT_IN_SEC"],
    parse: parseNonNegativeInt,
    default: TIME_ALLOWANCE_SECONDS.RebootedIntoUpdate ?? 0,
    help: "seconds allowed to start the reboot into the update (drain included; the LB wait is added) before failing with Timeout (0: no limit)",
  },
  monitorTimeLimitSeconds: {
    env: ["UPDATE_MONITOR_TIME_LIMIT_IN_SEC"],
    parse: parseNonNegativeInt,
    default: TIME_ALLOWANCE_SECONDS.MonitoringUpdate ?? 0,
    help: "seconds allowed to reach MonitoringUpdate (healthy after the reboot) before failing with Timeout (0: no limit)",
  },
  healthSoakSeconds: {
    env: ["UPDATE_HEALTH_SOAK_TIME_IN_SEC"],
    chartValue: "update_health_soak_time_in_sec",
    parse: parseNonNegativeInt,
    default: DEFAULT_HEALTH_SOAK_SECONDS,
    help: "after the reboot, seconds the Node must stay Ready before the update counts as done (0: at once, as upstream)",
  },
  healthCheckDaemonSetPods: {
    env: ["UPDATE_HEALTH_CHECK_DAEMONSET_PODS"],
    chartValue: "update_health_check_daemonset_pods",
    parse: parseBoolean,
    default: true,
    help: "health gate: the node's DaemonSet pods must be Ready (held for the soak); one pod LIST per loop, only while the gate is open (false: not checked)",
  },
  healthPodSelector: {
    env: ["UPDATE_HEALTH_POD_SELECTOR"],
    chartValue: "update_health_pod_selector",
    parse: parseSelectorText,
    help: "health gate: a label selector (e.g. app=critical); the pods on the node it selects must be Ready (held for the soak)",
  },
  healthProbeUrl: {
    env: ["UPDATE_HEALTH_PROBE_URL"],
    chartValue: "update_health_probe_url",
    parse: (raw: string, name: string) => (raw.trim() === "" ? undefined : parseUrl(raw.trim(), name)),
    help: "health gate: GET this http(s) URL; healthy on a 2xx answer (e.g. http://$(MY_NODE_NAME):8080/healthz via the pod's env)",
  },
  healthProbeTimeoutSeconds: {
    env: ["UPDATE_HEALTH_PROBE_TIMEOUT_IN_SEC"],
    chartValue: "update_health_probe_timeout_in_sec",
    parse: parsePositiveInt,
    default: DEFAULT_HEALTH_PROBE_TIMEOUT_SECONDS,
    help: "health gate: seconds one probe of UPDATE_HEALTH_PROBE_URL may take (no answer in time: unhealthy)",
  },
  quarantineFailedNodes: {
    env: ["QUARANTINE_FAILED_NODES"],
    chartValue: "quarantine_failed_nodes",
    parse: parseBoolean,
    default: true,
    help: "a node whose update fails after the reboot (health gate or time limit, on the new version) stays cordoned until that failure is accepted or a later update completes (false: uncordoned, as upstream)",
  },
  apiserverServicePort: {
    env: ["APISERVER_SERVICE_PORT"],
    chartValue: "apiserver_service_port",
    parse: parsePort,
    default: DEFAULT_APISERVER_SERVICE_PORT,
    help: "port of the brupop-apiserver Service",
  },
  // Injected by Kubernetes for the apiserver Service of the agent's namespace: the agent connects
  // to this cluster IP, so it needs no cluster DNS. Checked only when used (no --apiserver-url).
  serviceHost: {
    env: [SERVICE_HOST_VAR],
    parse: parseString,
    help: "the Service's cluster IP, injected by Kubernetes: connect there (TLS still checks the DNS name)",
  },
  servicePort: {
    env: [SERVICE_PORT_VAR],
    parse: parseString,
    help: `the Service's port, injected by Kubernetes with ${SERVICE_HOST_VAR}`,
  },
  apiserverUrl: {
    flag: "--apiserver-url <url>",
    parse: parseUrl,
    defaultText: "https://brupop-apiserver.<ns>.svc.cluster.local:<APISERVER_SERVICE_PORT>",
    help: "brupop apiserver address",
  },
  tokenPath: {
    flag: "--token-path <file>",
    parse: parseString,
    default: AGENT_TOKEN_PATH,
    help: "projected service-account token (re-read on every call)",
  },
  caPath: {
    flag: "--ca-path <file>",
    parse: parseString,
    default: DEFAULT_CA_PATH,
    help: "CA that signed the apiserver's certificate",
  },
  socketPath: {
    flag: "--socket <path>",
    parse: parseString,
    default: DEFAULT_SOCKET_PATH,
    help: "Bottlerocket host API socket",
  },
  kubeconfig: KUBECONFIG_OPTION,
  loopIntervalMs: {
    flag: "--loop-interval-ms <ms>",
    parse: parsePositiveInt,
    default: DEFAULT_LOOP_INTERVAL_MS,
    help: "period of the agent loop",
  },
  updateCheckIntervalMs: {
    flag: "--update-check-interval-ms <ms>",
    parse: parsePositiveInt,
    default: DEFAULT_UPDATE_CHECK_INTERVAL_MS,
    help: "minimum time between host update checks",
  },
  rebootWaitMs: {
    flag: "--reboot-wait-ms <ms>",
    parse: parseNonNegativeInt,
    default: DEFAULT_REBOOT_WAIT_MS,
    help: "how long to wait for the node to go down after asking for a reboot",
  },
  logLevel: logLevelOption("agent"),
} satisfies OptionTable;

export type AgentEnv = Env;
export type AgentFlags = FlagValues<typeof AGENT_OPTIONS>;

export interface AgentConfig {
  nodeName: string;
  namespace: string;
  /** The apiserver's URL; its host name is what TLS verifies. */
  apiserverUrl: string;
  /** Where to connect instead of resolving apiserverUrl's host (the Service's cluster IP), if known. */
  apiserverConnectTo: { host: string; port: number } | undefined;
  tokenPath: string;
  caPath: string;
  socketPath: string;
  kubeconfig: string | undefined;
  excludeFromLbWaitMs: number;
  /** Time allowed to reach each spec state, in ms (0: unbounded); Idle and ErrorReset are never limited. */
  stateTimeLimitsMs: StateTimeLimits;
  healthSoakMs: number;
  /** The health gate's checks beyond the Node. */
  health: HealthCheckConfig;
  /** QUARANTINE_FAILED_NODES: keep a node that failed on the new version cordoned. */
  quarantineFailedNodes: boolean;
  loopIntervalMs: number;
  updateCheckIntervalMs: number;
  rebootWaitMs: number;
  logLevel: LevelWithSilent;
}

export interface AgentConfigDeps {
  /** Reads the service-account namespace file; undefined when absent (not in a pod). */
  readNamespace?: () => string | undefined;
}

/** The Service's cluster IP and port from the injected environment, or undefined when not injected. */
function serviceAddress(
  rawHost: string | undefined,
  rawPort: string | undefined,
): { host: string; port: number } | undefined {
  const host = rawHost?.trim() ?? "";
  if (host === "") return undefined;
  if (isIP(host) === 0) throw configError(SERVICE_HOST_VAR, `must be an IP address, got "${host}"`);
  if (rawPort === undefined) throw configError(SERVICE_PORT_VAR, `must be set when ${SERVICE_HOST_VAR} is`);
  return { host, port: parsePort(rawPort, SERVICE_PORT_VAR) };
}

/** Reads and validates the agent's configuration; throws BRUPOP_E_CONFIG naming the culprit. */
export function loadAgentConfig(
  env: AgentEnv,
  flags: AgentFlags = {},
  deps: AgentConfigDeps = {},
): AgentConfig {
  const o = parseOptions(AGENT_OPTIONS, env, flags);
  const { namespace } = resolveNamespace(o.namespace, deps.readNamespace);
  // An explicit URL wins; otherwise the DNS name (for TLS) reached through the cluster IP when known.
  const apiserverUrl =
    o.apiserverUrl ??
    `https://${APISERVER_SERVICE_NAME}.${namespace}.svc.cluster.local:${o.apiserverServicePort}`;
  const apiserverConnectTo =
    o.apiserverUrl === undefined ? serviceAddress(o.serviceHost, o.servicePort) : undefined;
  return {
    nodeName: o.nodeName,
    namespace,
    apiserverUrl,
    apiserverConnectTo,
    tokenPath: o.tokenPath,
    caPath: o.caPath,
    socketPath: o.socketPath,
    kubeconfig: o.kubeconfig,
    excludeFromLbWaitMs: o.excludeFromLbWaitSeconds * 1000,
    stateTimeLimitsMs: {
      StagedAndPerformedUpdate: o.stageTimeLimitSeconds * 1000,
      // The LB wait is part of the way to the reboot: added, so a long wait never times out by itself.
      RebootedIntoUpdate:
        o.rebootTimeLimitSeconds === 0 ? 0 : (o.rebootTimeLimitSeconds + o.excludeFromLbWaitSeconds) * 1000,
      MonitoringUpdate: o.monitorTimeLimitSeconds * 1000,
    },
    healthSoakMs: o.healthSoakSeconds * 1000,
    health: {
      daemonSetPods: o.healthCheckDaemonSetPods,
      podSelector: o.healthPodSelector,
      probeUrl: o.healthProbeUrl,
      probeTimeoutMs: o.healthProbeTimeoutSeconds * 1000,
    },
    quarantineFailedNodes: o.quarantineFailedNodes,
    loopIntervalMs: o.loopIntervalMs,
    updateCheckIntervalMs: o.updateCheckIntervalMs,
    rebootWaitMs: o.rebootWaitMs,
    logLevel: o.logLevel,
  };
}

/**
 * Reads a file the agent needs at start (CA, token), so a missing mount fails at start-up with the
 * path in the message rather than on the first apiserver call.
 */
export function readRequiredFile(variable: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw configError(variable, `cannot read ${path} (${code})`);
  }
}
