// The controller's effective settings as `brupop status` sees them: what the leader published in its
// state ConfigMap (src/controller/act/round-store.ts), or the controller's own defaults when nothing was
// published, with a note saying so. Pure.
import { parseMaxConcurrentUpdate } from "../controller/run/config.js";
import type { ConcurrencyLimit } from "../controller/decide/decisions.js";
import { roundStateFromData, type RoundState } from "../controller/decide/gate.js";
import { settingsFromData } from "../controller/act/round-store.js";
import {
  DEFAULT_CRON_EXPRESSION,
  parseSchedule,
  type UpdateSchedule,
} from "../controller/decide/schedule.js";

export const SETTINGS_UNKNOWN_NOTE = "controller settings unknown (controller not running?)";

export interface EffectiveSettings {
  /** True when the settings come from the running controller, false when they are defaults. */
  known: boolean;
  /** Why they are not known (null when they are). */
  note: string | null;
  maxConcurrent: ConcurrencyLimit;
  schedule: UpdateSchedule;
  controllerNode: string | null;
  leader: string | null;
  leaderSince: string | null;
  /** Persisted trigger-round state, if any. */
  round: RoundState | null;
}

function defaults(now: Date, note: string, round: RoundState | null): EffectiveSettings {
  return {
    known: false,
    note,
    // The controller's own defaults, from the same functions it uses, so they cannot drift.
    maxConcurrent: parseMaxConcurrentUpdate(undefined),
    schedule: parseSchedule(DEFAULT_CRON_EXPRESSION, now),
    controllerNode: null,
    leader: null,
    leaderSince: null,
    round,
  };
}

/**
 * @param data the ConfigMap's data, null when it does not exist
 * @param readError why it could not be read, if so (e.g. forbidden)
 */
export function resolveSettings(
  data: Record<string, string> | null,
  readError: string | undefined,
  now: Date,
): EffectiveSettings {
  if (readError !== undefined) return defaults(now, `${SETTINGS_UNKNOWN_NOTE}: ${readError}`, null);
  const round = roundStateFromData(data ?? undefined);
  const published = settingsFromData(data ?? undefined);
  if (published === null) return defaults(now, SETTINGS_UNKNOWN_NOTE, round);
  let schedule: UpdateSchedule;
  try {
    schedule = parseSchedule(published.schedule, now);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return defaults(now, `${SETTINGS_UNKNOWN_NOTE}: published schedule unusable: ${why}`, round);
  }
  return {
    known: true,
    note: null,
    maxConcurrent: published.maxConcurrent,
    schedule,
    controllerNode: published.controllerNode,
    leader: published.leader === "" ? null : published.leader,
    leaderSince: published.leaderSince === "" ? null : published.leaderSince,
    round,
  };
}
