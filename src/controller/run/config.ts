// `brupop controller` configuration as an option table (src/config/options.ts): environment
// (upstream's names, from the Deployment) plus CLI flags. The table gives the flags, the help,
// docs/configuration.md and the parsed values; settings.ts builds the validated settings from them.
// Every error names the variable or flag at fault, so a misconfigured Deployment fails fast.
import { KUBECONFIG_OPTION, logLevelOption } from "../../config/common.js";
import { type OptionTable } from "../../config/options.js";
import {
  configError,
  parseBoolean,
  parseNamespace,
  parseNodeName,
  parseNumber,
  parsePort,
  parsePositiveSecondsAsMs,
  parseString,
} from "../../config/parsers.js";
import { BrupopError } from "../../errors.js";
import type { ConcurrencyLimit } from "../decide/decisions.js";
import { EXTRAS_OPTIONS } from "./extras-config.js";
import { DEFAULT_CRON_EXPRESSION } from "../decide/schedule.js";

export function parseMaxConcurrentUpdate(value: string | undefined): ConcurrencyLimit {
  if (value === undefined || value.trim() === "") return 1;
  const v = value.trim();
  if (v.toLowerCase() === "unlimited") return "unlimited";
  // 0 is valid, as upstream: nodes in progress finish, no node starts (a pause switch).
  if (/^\+?\d+$/.test(v) && Number.isSafeInteger(Number(v))) return Number(v); // Rust usize::from_str allows "+"
  throw new BrupopError(
    "BRUPOP_E_CONFIG",
    `MAX_CONCURRENT_UPDATE: must be a whole number (0 pauses updates) or "unlimited", got "${value}"`,
    { variable: "MAX_CONCURRENT_UPDATE" },
  );
}

function parseTickInterval(raw: string, name: string): number {
  const ms = parseNumber(raw, name);
  if (!Number.isInteger(ms) || ms < 50) {
    throw configError(name, `must be an integer number of milliseconds >= 50, got ${ms}`);
  }
  return ms;
}

function trimmed(raw: string): string {
  return raw.trim();
}

export const CONTROLLER_OPTIONS = {
  maxConcurrent: {
    env: ["MAX_CONCURRENT_UPDATE"],
    chartValue: "max_concurrent_updates",
    parse: parseMaxConcurrentUpdate,
    default: 1,
    help: 'nodes updating at once, or "unlimited" (0 pauses updates)',
  },
  // The schedule needs the three together (settings.ts, scheduleFromEnv): parsed there.
  cron: {
    env: ["SCHEDULER_CRON_EXPRESSION"],
    chartValue: "scheduler_cron_expression",
    parse: parseString,
    defaultText: `"${DEFAULT_CRON_EXPRESSION}", unless the legacy window is set`,
    help: "7-field cron expression, UTC: when updates may start (a window) or rounds begin",
  },
  windowStart: {
    env: ["UPDATE_WINDOW_START"],
    chartValue: "update_window_start",
    parse: parseString,
    help: "deprecated daily window start, HH:MM:SS UTC (only without SCHEDULER_CRON_EXPRESSION)",
  },
  windowStop: {
    env: ["UPDATE_WINDOW_STOP"],
    chartValue: "update_window_stop",
    parse: parseString,
    help: "deprecated daily window stop, HH:MM:SS UTC",
  },
  nodeName: {
    env: ["MY_NODE_NAME"],
    parse: parseNodeName,
    help: "the node hosting the controller, updated last (unset: a warning)",
  },
  podName: {
    env: ["POD_NAME"],
    parse: trimmed,
    defaultText: "hostname and a random suffix",
    help: "identity for leader election (the chart sets it from the downward API)",
  },
  namespace: {
    flag: "--namespace <ns>",
    parse: parseNamespace,
    defaultText: 'the pod\'s service-account namespace, else "brupop-bottlerocket-aws"',
    help: "namespace of the shadows",
  },
  kubeconfig: KUBECONFIG_OPTION,
  metricsPort: {
    flag: "--metrics-port <port>",
    parse: parsePort,
    default: 8080,
    help: "port for /metrics and /healthz",
  },
  leaderElect: {
    flag: "--no-leader-elect",
    parse: parseBoolean,
    default: true,
    defaultText: "a Lease is used",
    help: "do not use a leader Lease (only safe with exactly one replica)",
  },
  leaseName: {
    flag: "--lease-name <name>",
    parse: parseString,
    default: "brupop-controller-leader",
    help: "name of the leader Lease",
  },
  leaseDuration: {
    flag: "--lease-duration <seconds>",
    parse: parsePositiveSecondsAsMs,
    default: 15_000,
    defaultText: "15",
    help: "leader lease duration",
  },
  renewDeadline: {
    flag: "--renew-deadline <seconds>",
    parse: parsePositiveSecondsAsMs,
    default: 10_000,
    defaultText: "10",
    help: "leader stops acting if it could not renew for this long",
  },
  retryPeriod: {
    flag: "--retry-period <seconds>",
    parse: parsePositiveSecondsAsMs,
    default: 2_000,
    defaultText: "2",
    help: "how often the lease is renewed / tried",
  },
  tickInterval: {
    flag: "--tick-interval <ms>",
    parse: parseTickInterval,
    default: 2_000,
    help: "decision loop period in milliseconds (>= 50)",
  },
  logLevel: logLevelOption("controller"),
  ...EXTRAS_OPTIONS,
} satisfies OptionTable;
