// The option-table entries of the optional checks of issue 19 (notifications, blockers, silent
// agents), spread into CONTROLLER_OPTIONS (config.ts), and the ExtrasConfig built from their values.
// Every one is unset by default: the controller then behaves exactly as upstream's.
import { type OptionTable, type SettingsOf } from "../../config/options.js";
import {
  configError,
  parseBoolean,
  parsePositiveSecondsAsMs,
  parseSelectorText,
} from "../../config/parsers.js";
import type { ExtrasConfig } from "./extras.js";
import { NOTIFY_FORMATS, type NotifyFormat } from "../act/notify.js";

/** Timeout of one Prometheus alert query. */
export const PROMETHEUS_TIMEOUT_MS = 10_000;

export function parseHttpUrl(raw: string, name: string): URL {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw configError(name, `"${raw}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw configError(name, `must be an http:// or https:// URL, got "${raw}"`);
  }
  return url;
}

function parseFormat(raw: string, name: string): NotifyFormat {
  const v = raw.trim().toLowerCase();
  if ((NOTIFY_FORMATS as readonly string[]).includes(v)) return v as NotifyFormat;
  throw configError(name, `must be one of ${NOTIFY_FORMATS.join(", ")}, got "${raw}"`);
}

function parseRegexp(raw: string, name: string): RegExp {
  try {
    return new RegExp(raw);
  } catch (err) {
    throw configError(name, `not a regular expression: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export const EXTRAS_OPTIONS = {
  notifyWebhookUrl: {
    chartValue: "notifications.webhook_url",
    flag: "--notify-webhook-url <url>",
    env: ["NOTIFY_WEBHOOK_URL"],
    parse: parseHttpUrl,
    secret: true,
    defaultText: "none: no notifications",
    help: "POST a notification here when a node starts, finishes or fails its update and when the fleet finishes (best effort, see docs/controller.md)",
  },
  notifyWebhookFormat: {
    chartValue: "notifications.webhook_format",
    flag: "--notify-webhook-format <format>",
    env: ["NOTIFY_WEBHOOK_FORMAT"],
    parse: parseFormat,
    default: "json",
    help: 'body of a notification: "json" (the event\'s fields) or "slack" ({"text": ...})',
  },
  notifyWebhookTimeout: {
    chartValue: "notifications.webhook_timeout_seconds",
    flag: "--notify-webhook-timeout <seconds>",
    env: ["NOTIFY_WEBHOOK_TIMEOUT_SECONDS"],
    parse: parsePositiveSecondsAsMs,
    default: 10_000,
    defaultText: "10",
    help: "timeout of one webhook call (failed calls are retried with back-off)",
  },
  blockingPodSelector: {
    chartValue: "update_blockers.pod_selector",
    flag: "--blocking-pod-selector <selector>",
    env: ["BLOCKING_POD_SELECTOR"],
    parse: parseSelectorText,
    defaultText: "none",
    help: "label selector: no update starts on a node while such a pod runs on it (one pod LIST per node about to start)",
  },
  prometheusUrl: {
    chartValue: "update_blockers.prometheus_url",
    flag: "--prometheus-url <url>",
    env: ["PROMETHEUS_URL"],
    parse: parseHttpUrl,
    defaultText: "none",
    help: "no update starts while this Prometheus reports alerts (GET <url>/api/v1/alerts; as kured)",
  },
  alertFilterRegexp: {
    chartValue: "update_blockers.alert_filter_regexp",
    flag: "--alert-filter-regexp <regexp>",
    env: ["ALERT_FILTER_REGEXP"],
    parse: parseRegexp,
    defaultText: "none",
    help: "alerts whose name matches do not block (with --alert-filter-match-only: only those block)",
  },
  alertFilterMatchOnly: {
    chartValue: "update_blockers.alert_filter_match_only",
    flag: "--alert-filter-match-only",
    env: ["ALERT_FILTER_MATCH_ONLY"],
    parse: parseBoolean,
    default: false,
    help: "only alerts matching --alert-filter-regexp block",
  },
  alertFiringOnly: {
    chartValue: "update_blockers.alert_firing_only",
    flag: "--alert-firing-only",
    env: ["ALERT_FIRING_ONLY"],
    parse: parseBoolean,
    default: false,
    help: "only firing alerts block (otherwise pending ones too)",
  },
  agentSilenceLimit: {
    chartValue: "agent_silence_limit_seconds",
    flag: "--agent-silence-limit <seconds>",
    env: ["AGENT_SILENCE_LIMIT_SECONDS"],
    parse: parsePositiveSecondsAsMs,
    defaultText: "none: off",
    help: "a Warning Event when an updating node's status has not changed for this long (the spec is not touched)",
  },
} satisfies OptionTable;

/** ExtrasConfig from the parsed values; warns about settings that do nothing alone. */
export function extrasConfig(
  o: SettingsOf<typeof EXTRAS_OPTIONS>,
  warn: (message: string) => void,
): ExtrasConfig {
  if (o.prometheusUrl === undefined && (o.alertFilterRegexp !== undefined || o.alertFilterMatchOnly)) {
    warn("ALERT_FILTER_REGEXP / ALERT_FILTER_MATCH_ONLY do nothing without PROMETHEUS_URL");
  }
  return {
    notify:
      o.notifyWebhookUrl === undefined
        ? null
        : { url: o.notifyWebhookUrl, format: o.notifyWebhookFormat, timeoutMs: o.notifyWebhookTimeout },
    blockers: {
      podSelector: o.blockingPodSelector,
      prometheus:
        o.prometheusUrl === undefined
          ? undefined
          : {
              url: o.prometheusUrl,
              filter: o.alertFilterRegexp,
              matchOnly: o.alertFilterMatchOnly,
              firingOnly: o.alertFiringOnly,
              timeoutMs: PROMETHEUS_TIMEOUT_MS,
            },
    },
    agentSilenceLimitMs: o.agentSilenceLimit ?? null,
  };
}
