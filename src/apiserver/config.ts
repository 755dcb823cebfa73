// Start-up configuration of `brupop apiserver` (upstream's variable names): the option table
// (src/config/options.ts) gives the flags, the help, docs/configuration.md and the parsed values;
// loadApiserverConfig adds the namespace from the pod and the bind address, validated once.
import type { LevelWithSilent } from "pino";
import { logLevelOption } from "../config/common.js";
import { parseOptions, type Env, type FlagValues, type OptionTable } from "../config/options.js";
import {
  parseNamespace,
  parsePort,
  parsePositiveInt,
  parseString,
  resolveNamespace,
} from "../config/parsers.js";
import { DEFAULT_TLS_DIR } from "./tls.js";

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
    help: "deadline of one cordon-and-drain, in seconds",
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
    logLevel: o.logLevel,
  };
}
