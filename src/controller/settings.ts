// `brupop controller` configuration: environment (upstream's names, from the Deployment) plus CLI
// flags, read and validated once at start-up. Every error names the variable or flag at fault.
import type { LevelWithSilent } from "pino";
import { BrupopError } from "../errors.js";
import { parseLogLevel } from "../log.js";
import { DEFAULT_NAMESPACE } from "../model/constants.js";
import { parseMaxConcurrentUpdate } from "./config.js";
import type { ConcurrencyLimit } from "./decisions.js";
import { scheduleFromEnv, type UpdateSchedule } from "./schedule.js";

export interface ControllerEnv {
  MAX_CONCURRENT_UPDATE?: string | undefined;
  SCHEDULER_CRON_EXPRESSION?: string | undefined;
  UPDATE_WINDOW_START?: string | undefined;
  UPDATE_WINDOW_STOP?: string | undefined;
  MY_NODE_NAME?: string | undefined;
  /** Identity for leader election (set from the downward API); default hostname + random suffix. */
  POD_NAME?: string | undefined;
  /** Upstream's log filter (`info`, `debug`, or a tracing directive such as `controller=debug,info`). */
  TRACING_FILTER_DIRECTIVE?: string | undefined;
}

export interface ControllerFlags {
  namespace?: string | undefined;
  metricsPort?: number | undefined;
  leaderElect?: boolean | undefined;
  leaseName?: string | undefined;
  leaseDurationSeconds?: number | undefined;
  renewDeadlineSeconds?: number | undefined;
  retryPeriodSeconds?: number | undefined;
  tickIntervalMs?: number | undefined;
  logLevel?: string | undefined;
}

export interface ControllerSettings {
  namespace: string;
  namespaceSource: "flag" | "service-account" | "default";
  maxConcurrent: ConcurrencyLimit;
  schedule: UpdateSchedule;
  controllerNodeName: string | undefined;
  podName: string | undefined;
  metricsPort: number;
  leaderElect: boolean;
  leaseName: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  tickIntervalMs: number;
  logLevel: LevelWithSilent;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function configError(variable: string, message: string): BrupopError {
  return new BrupopError("BRUPOP_E_CONFIG", `${variable}: ${message}`, { variable });
}

function positiveSeconds(value: number | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0)
    throw configError(flag, `must be a positive number of seconds, got ${value}`);
  return Math.round(value * 1000);
}

function nodeNameFrom(value: string | undefined, warn: (message: string) => void): string | undefined {
  const name = value?.trim();
  if (name === undefined || name === "") {
    warn("MY_NODE_NAME is not set: the node hosting the controller is not held back to be updated last");
    return undefined;
  }
  if (!DNS_SUBDOMAIN.test(name)) throw configError("MY_NODE_NAME", `"${name}" is not a valid node name`);
  return name;
}

function namespaceFrom(
  flag: string | undefined,
  readNamespaceFile: () => string | undefined,
  warn: (message: string) => void,
): Pick<ControllerSettings, "namespace" | "namespaceSource"> {
  if (flag !== undefined) return { namespace: flag, namespaceSource: "flag" };
  const fromFile = readNamespaceFile()?.trim();
  if (fromFile !== undefined && fromFile !== "")
    return { namespace: fromFile, namespaceSource: "service-account" };
  warn(`no --namespace and no service-account namespace file; using "${DEFAULT_NAMESPACE}"`);
  return { namespace: DEFAULT_NAMESPACE, namespaceSource: "default" };
}

/**
 * Builds the settings from environment and flags. `readNamespaceFile` returns the service-account
 * namespace when running in a pod (undefined otherwise). `warn` receives non-fatal notes.
 */
export function controllerSettings(
  env: ControllerEnv,
  flags: ControllerFlags,
  now: Date,
  readNamespaceFile: () => string | undefined,
  warn: (message: string) => void,
): ControllerSettings {
  const maxConcurrent = parseMaxConcurrentUpdate(env.MAX_CONCURRENT_UPDATE);
  const schedule = scheduleFromEnv(env, now, warn);

  const controllerNodeName = nodeNameFrom(env.MY_NODE_NAME, warn);
  const { namespace, namespaceSource } = namespaceFrom(flags.namespace, readNamespaceFile, warn);
  const leaseDurationMs = positiveSeconds(flags.leaseDurationSeconds, 15_000, "--lease-duration");
  const renewDeadlineMs = positiveSeconds(flags.renewDeadlineSeconds, 10_000, "--renew-deadline");
  const retryPeriodMs = positiveSeconds(flags.retryPeriodSeconds, 2_000, "--retry-period");
  const tickIntervalMs = flags.tickIntervalMs ?? 2_000;
  if (!Number.isInteger(tickIntervalMs) || tickIntervalMs < 50) {
    throw configError(
      "--tick-interval",
      `must be an integer number of milliseconds >= 50, got ${tickIntervalMs}`,
    );
  }
  const podName = env.POD_NAME?.trim() === "" ? undefined : env.POD_NAME?.trim();
  return {
    namespace,
    namespaceSource,
    maxConcurrent,
    schedule,
    controllerNodeName,
    podName,
    metricsPort: flags.metricsPort ?? 8080,
    leaderElect: flags.leaderElect ?? true,
    leaseName: flags.leaseName ?? "brupop-controller-leader",
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    tickIntervalMs,
    logLevel:
      flags.logLevel !== undefined
        ? parseLogLevel(flags.logLevel, "--log-level")
        : parseLogLevel(env.TRACING_FILTER_DIRECTIVE, "TRACING_FILTER_DIRECTIVE"),
  };
}
