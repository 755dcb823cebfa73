// `brupop agent` start-up configuration: upstream's environment names plus a few flags (mostly for
// tests and the benchmark), read and validated once. Every error is BRUPOP_E_CONFIG naming the
// variable or flag at fault; everything else takes the typed result.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { LevelWithSilent } from "pino";
import { AGENT_TOKEN_PATH } from "../apiserver/client.js";
import { DEFAULT_SOCKET_PATH } from "../bottlerocket/client.js";
import { BrupopError } from "../errors.js";
import { parseLogLevel } from "../log.js";
import { APISERVER_SERVICE_NAME, DEFAULT_APISERVER_SERVICE_PORT } from "../model/constants.js";
import { DEFAULT_UPDATE_CHECK_INTERVAL_MS } from "./update-check.js";

import { SERVICE_ACCOUNT_NAMESPACE_FILE } from "../k8s/access.js";
export const DEFAULT_CA_PATH = "/etc/brupop-tls-keys/ca.crt";
export const DEFAULT_LOOP_INTERVAL_MS = 5_000;
/** Upstream sleeps this long after asking for the reboot, then exits 0. */
export const DEFAULT_REBOOT_WAIT_MS = 180_000;

export interface AgentEnv {
  MY_NODE_NAME?: string | undefined;
  EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC?: string | undefined;
  APISERVER_SERVICE_PORT?: string | undefined;
  /**
   * Injected by Kubernetes for the apiserver Service of the agent's namespace (`<SERVICE NAME>_
   * SERVICE_HOST/_PORT`): the agent connects to this cluster IP, so it needs no cluster DNS.
   */
  BRUPOP_APISERVER_SERVICE_HOST?: string | undefined;
  BRUPOP_APISERVER_SERVICE_PORT?: string | undefined;
  /** Upstream's log filter (`info`, `debug`, `agent=debug,info`). */
  TRACING_FILTER_DIRECTIVE?: string | undefined;
}

export interface AgentFlags {
  namespace?: string | undefined;
  /** Overrides the in-cluster service address (tests, the benchmark). */
  apiserverUrl?: string | undefined;
  tokenPath?: string | undefined;
  caPath?: string | undefined;
  socketPath?: string | undefined;
  kubeconfig?: string | undefined;
  loopIntervalMs?: string | undefined;
  updateCheckIntervalMs?: string | undefined;
  rebootWaitMs?: string | undefined;
  logLevel?: string | undefined;
}

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
  loopIntervalMs: number;
  updateCheckIntervalMs: number;
  rebootWaitMs: number;
  logLevel: LevelWithSilent;
}

export interface AgentConfigDeps {
  /** Reads the service-account namespace file; undefined when absent (not in a pod). */
  readNamespace?: () => string | undefined;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function configError(variable: string, message: string): BrupopError {
  return new BrupopError("BRUPOP_E_CONFIG", `${variable}: ${message}`, { variable });
}

function nonNegativeInt(variable: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw.trim() === "") return fallback;
  const v = raw.trim();
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw configError(variable, `must be a non-negative integer, got "${raw}"`);
  }
  return Number(v);
}

function positiveInt(variable: string, raw: string | undefined, fallback: number): number {
  const n = nonNegativeInt(variable, raw, fallback);
  if (n < 1) throw configError(variable, `must be a positive integer, got "${raw}"`);
  return n;
}

function port(variable: string, raw: string | undefined, fallback: number): number {
  const n = nonNegativeInt(variable, raw, fallback);
  if (n < 1 || n > 65535) throw configError(variable, `must be a port number 1-65535, got "${raw}"`);
  return n;
}

function readNamespaceFile(): string | undefined {
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, "utf8").trim();
  } catch {
    return undefined;
  }
}

function nodeNameFrom(raw: string | undefined): string {
  const name = raw?.trim() ?? "";
  if (name === "") throw configError("MY_NODE_NAME", "must be set to the name of the node the agent runs on");
  if (!DNS_SUBDOMAIN.test(name)) throw configError("MY_NODE_NAME", `"${name}" is not a valid node name`);
  return name;
}

function namespaceFrom(flag: string | undefined, deps: AgentConfigDeps): string {
  const ns = flag ?? (deps.readNamespace ?? readNamespaceFile)();
  if (ns === undefined || ns === "") {
    throw configError(
      "--namespace",
      `required when ${SERVICE_ACCOUNT_NAMESPACE_FILE} does not exist (not running in a pod)`,
    );
  }
  if (!DNS_LABEL.test(ns)) throw configError("--namespace", `"${ns}" is not a valid namespace name`);
  return ns;
}

function urlFrom(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw configError("--apiserver-url", `"${raw}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw configError("--apiserver-url", `must be an https:// URL, got "${raw}"`);
  }
  return raw.replace(/\/+$/, "");
}

/** `brupop-apiserver` → `BRUPOP_APISERVER_SERVICE_HOST` (Kubernetes' service environment names). */
export function serviceEnvName(service: string, suffix: "HOST" | "PORT"): string {
  return `${service.toUpperCase().replace(/-/g, "_")}_SERVICE_${suffix}`;
}

/** The Service's cluster IP and port from the injected environment, or undefined when not injected. */
function serviceAddressFrom(env: AgentEnv): { host: string; port: number } | undefined {
  const hostVar = serviceEnvName(APISERVER_SERVICE_NAME, "HOST");
  const portVar = serviceEnvName(APISERVER_SERVICE_NAME, "PORT");
  const host = env.BRUPOP_APISERVER_SERVICE_HOST?.trim() ?? "";
  if (host === "") return undefined;
  if (isIP(host) === 0) throw configError(hostVar, `must be an IP address, got "${host}"`);
  const raw = env.BRUPOP_APISERVER_SERVICE_PORT;
  if (raw === undefined || raw.trim() === "") throw configError(portVar, `must be set when ${hostVar} is`);
  return { host, port: port(portVar, raw, DEFAULT_APISERVER_SERVICE_PORT) };
}

/** Reads and validates the agent's configuration; throws BRUPOP_E_CONFIG naming the culprit. */
export function loadAgentConfig(
  env: AgentEnv,
  flags: AgentFlags = {},
  deps: AgentConfigDeps = {},
): AgentConfig {
  const nodeName = nodeNameFrom(env.MY_NODE_NAME);
  const namespace = namespaceFrom(flags.namespace, deps);
  const servicePort = port(
    "APISERVER_SERVICE_PORT",
    env.APISERVER_SERVICE_PORT,
    DEFAULT_APISERVER_SERVICE_PORT,
  );
  const apiserverUrl = urlFrom(
    flags.apiserverUrl ?? `https://${APISERVER_SERVICE_NAME}.${namespace}.svc.cluster.local:${servicePort}`,
  );
  // An explicit URL wins; otherwise the DNS name (for TLS) reached through the cluster IP when known.
  const apiserverConnectTo = flags.apiserverUrl === undefined ? serviceAddressFrom(env) : undefined;
  const lbWaitSeconds = nonNegativeInt(
    "EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC",
    env.EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC,
    0,
  );
  return {
    nodeName,
    namespace,
    apiserverUrl,
    apiserverConnectTo,
    tokenPath: flags.tokenPath ?? AGENT_TOKEN_PATH,
    caPath: flags.caPath ?? DEFAULT_CA_PATH,
    socketPath: flags.socketPath ?? DEFAULT_SOCKET_PATH,
    kubeconfig: flags.kubeconfig,
    excludeFromLbWaitMs: lbWaitSeconds * 1000,
    loopIntervalMs: positiveInt("--loop-interval-ms", flags.loopIntervalMs, DEFAULT_LOOP_INTERVAL_MS),
    updateCheckIntervalMs: positiveInt(
      "--update-check-interval-ms",
      flags.updateCheckIntervalMs,
      DEFAULT_UPDATE_CHECK_INTERVAL_MS,
    ),
    rebootWaitMs: nonNegativeInt("--reboot-wait-ms", flags.rebootWaitMs, DEFAULT_REBOOT_WAIT_MS),
    logLevel:
      flags.logLevel !== undefined
        ? parseLogLevel(flags.logLevel, "--log-level")
        : parseLogLevel(env.TRACING_FILTER_DIRECTIVE, "TRACING_FILTER_DIRECTIVE"),
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
