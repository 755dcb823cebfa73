// Wires the optional checks of issue 19 (notifications, blockers, silent agents) into the tick's
// dependencies. Each is absent unless configured, and then costs nothing.
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Timers } from "../../clock.js";
import type { EventRecorder } from "../../k8s/events.js";
import type { CONTROLLER_EVENTS } from "../act/event-reasons.js";
import type { KubeApi } from "../../k8s/api.js";
import { API_VERSION_V2, KIND } from "../../model/constants.js";
import { Blockers, describeBlocker, type BlockerSettings } from "../decide/blockers.js";
import { Notifier, type NotifierSettings } from "../act/notify.js";
import { formatSilence, SilenceWatch } from "../decide/silence.js";

/** The controller's settings for the optional checks (ControllerConfig fields). */
export interface ExtrasConfig {
  /** Webhook notifications; absent or null: none. */
  notify?: NotifierSettings | null | undefined;
  /** Update blockers; absent or none set: none. */
  blockers?: BlockerSettings | undefined;
  /** Warn about an agent whose status has not changed for this long; absent or null: off. */
  agentSilenceLimitMs?: number | null | undefined;
}

export interface Extras {
  notifier?: Notifier;
  blockers?: Blockers;
  silence?: SilenceWatch;
}

export function makeExtras(
  config: ExtrasConfig,
  deps: {
    api: KubeApi;
    log: Logger;
    registry: Registry;
    events: EventRecorder<typeof CONTROLLER_EVENTS>;
    namespace: string;
    timers: Timers;
  },
): Extras {
  const out: Extras = {};
  if (config.notify !== undefined && config.notify !== null) {
    out.notifier = new Notifier(config.notify, {
      logger: deps.log,
      timers: deps.timers,
      registry: deps.registry,
    });
  }
  if (config.blockers !== undefined && Blockers.enabled(config.blockers)) {
    out.blockers = new Blockers(config.blockers, {
      api: deps.api,
      logger: deps.log,
      registry: deps.registry,
      // One Event per new verdict, so `kubectl describe brs` shows why the node has not started.
      onBlocked: (shadow, blocker) =>
        deps.events.record(
          "UpdateBlocked",
          { apiVersion: API_VERSION_V2, kind: KIND, name: shadow, namespace: deps.namespace },
          `update not started: ${describeBlocker(blocker)}`,
        ),
    });
  }
  const limit = config.agentSilenceLimitMs;
  if (limit !== undefined && limit !== null) {
    out.silence = new SilenceWatch(limit, {
      registry: deps.registry,
      warn: (s) => {
        const message = `agent silent for ${formatSilence(s.forMs)} in state ${s.state} (no status update; limit ${formatSilence(limit)}); the spec is left as is`;
        deps.log.warn({ shadow: s.shadow, state: s.state, silentMs: s.forMs }, message);
        deps.events.record(
          "AgentSilent",
          { apiVersion: API_VERSION_V2, kind: KIND, name: s.shadow, namespace: deps.namespace },
          message,
        );
      },
    });
  }
  return out;
}
