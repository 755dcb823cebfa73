// Start-up configuration of `brupop apiserver`, read and validated once (upstream's variable names).
// Everything else takes the typed result.
import { readFileSync } from "node:fs";
import { BrupopError } from "../errors.js";
import { DEFAULT_TLS_DIR } from "./tls.js";

export const DEFAULT_APISERVER_INTERNAL_PORT = 8443;
import { SERVICE_ACCOUNT_NAMESPACE_FILE } from "../k8s/access.js";
export const DEFAULT_DRAIN_TIMEOUT_SECONDS = 600;

export interface ApiserverConfig {
  port: number;
  host: string;
  namespace: string;
  tlsDir: string;
  drainTimeoutMs: number;
}

export interface ApiserverFlags {
  namespace?: string;
  tlsDir?: string;
  host?: string;
  drainTimeoutSeconds?: string;
}

const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function port(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 65535) {
    throw new BrupopError("BRUPOP_E_CONFIG", `${name}: must be a port number 1-65535, got "${raw}"`, {
      variable: name,
    });
  }
  return n;
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1) {
    throw new BrupopError("BRUPOP_E_CONFIG", `${name}: must be a positive integer, got "${raw}"`, {
      variable: name,
    });
  }
  return n;
}

function readNamespaceFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

export interface LoadConfigDeps {
  env?: NodeJS.ProcessEnv;
  /** Reads the service-account namespace file; undefined when absent (not in a pod). */
  readNamespace?: () => string | undefined;
}

export function loadApiserverConfig(flags: ApiserverFlags, deps: LoadConfigDeps = {}): ApiserverConfig {
  const env = deps.env ?? process.env;
  const fromMount = (deps.readNamespace ?? (() => readNamespaceFile(SERVICE_ACCOUNT_NAMESPACE_FILE)))();
  const namespace = flags.namespace ?? fromMount;
  if (namespace === undefined || namespace === "") {
    throw new BrupopError(
      "BRUPOP_E_CONFIG",
      `--namespace: required when ${SERVICE_ACCOUNT_NAMESPACE_FILE} does not exist (not running in a pod)`,
      { variable: "--namespace" },
    );
  }
  if (!NAMESPACE_RE.test(namespace)) {
    throw new BrupopError("BRUPOP_E_CONFIG", `--namespace: "${namespace}" is not a valid namespace name`, {
      variable: "--namespace",
    });
  }
  const drainSeconds = positiveInt(
    "DRAIN_TIMEOUT_SECONDS",
    flags.drainTimeoutSeconds ?? env["DRAIN_TIMEOUT_SECONDS"],
    DEFAULT_DRAIN_TIMEOUT_SECONDS,
  );
  return {
    port: port("APISERVER_INTERNAL_PORT", env["APISERVER_INTERNAL_PORT"], DEFAULT_APISERVER_INTERNAL_PORT),
    // Like upstream: bind every address of the cluster's IP family (from KUBERNETES_SERVICE_HOST).
    host: flags.host ?? (env["KUBERNETES_SERVICE_HOST"]?.includes(":") === true ? "::" : "0.0.0.0"),
    namespace,
    tlsDir: flags.tlsDir ?? DEFAULT_TLS_DIR,
    drainTimeoutMs: drainSeconds * 1000,
  };
}
