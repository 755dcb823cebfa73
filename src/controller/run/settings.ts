// `brupop controller` settings: the option table's values (config.ts: environment, upstream's
// names, plus flags) and what needs more than one of them (the schedule, the namespace from the
// pod), validated once at start-up. Every error names the variable or flag at fault.
import type { LevelWithSilent } from "pino";
import { parseOptions, type Env, type FlagValues } from "../../config/options.js";
import { resolveNamespace, type NamespaceSource } from "../../config/parsers.js";
import { DEFAULT_NAMESPACE } from "../../model/constants.js";
import { CONTROLLER_OPTIONS } from "./config.js";
import type { ConcurrencyLimit } from "../decide/decisions.js";
import { extrasConfig } from "./extras-config.js";
import type { ExtrasConfig } from "./extras.js";
import { scheduleFromEnv, type UpdateSchedule } from "../decide/schedule.js";

export type ControllerEnv = Env;
export type ControllerFlags = FlagValues<typeof CONTROLLER_OPTIONS>;

export interface ControllerSettings {
  namespace: string;
  namespaceSource: NamespaceSource;
  maxConcurrent: ConcurrencyLimit;
  schedule: UpdateSchedule;
  controllerNodeName: string | undefined;
  podName: string | undefined;
  kubeconfig: string | undefined;
  metricsPort: number;
  leaderElect: boolean;
  leaseName: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  tickIntervalMs: number;
  logLevel: LevelWithSilent;
  /** Notifications, blockers, silent-agent check (all off by default). */
  extras: ExtrasConfig;
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
  const o = parseOptions(CONTROLLER_OPTIONS, env, flags);
  const schedule = scheduleFromEnv(
    {
      SCHEDULER_CRON_EXPRESSION: o.cron,
      UPDATE_WINDOW_START: o.windowStart,
      UPDATE_WINDOW_STOP: o.windowStop,
    },
    now,
    warn,
  );
  if (o.nodeName === undefined) {
    warn("MY_NODE_NAME is not set: the node hosting the controller is not held back to be updated last");
  }
  const { namespace, source } = resolveNamespace(o.namespace, readNamespaceFile, {
    namespace: DEFAULT_NAMESPACE,
    warn,
  });
  return {
    namespace,
    namespaceSource: source,
    maxConcurrent: o.maxConcurrent,
    schedule,
    controllerNodeName: o.nodeName,
    podName: o.podName,
    kubeconfig: o.kubeconfig,
    metricsPort: o.metricsPort,
    leaderElect: o.leaderElect,
    leaseName: o.leaseName,
    leaseDurationMs: o.leaseDuration,
    renewDeadlineMs: o.renewDeadline,
    retryPeriodMs: o.retryPeriod,
    tickIntervalMs: o.tickInterval,
    logLevel: o.logLevel,
    extras: extrasConfig(o, warn),
  };
}
