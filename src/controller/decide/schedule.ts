// The update schedule (SPEC §3): a cron `sec min hour day-of-month month day-of-week [year]` in UTC,
// or one of the shorthands @yearly @monthly @weekly @daily @hourly. If the next two fire times are one second apart the schedule is a *window* (updates may
// start only while the current second matches); otherwise it is a *trigger* (each fire time opens
// an update round that runs until every waiting node is done).
//
// Syntax and field semantics follow the Rust `cron` crate upstream used: the year is optional,
// `N/step` steps from N to the field's maximum, day-of-week 1-7 is Sunday-Saturday (Quartz
// numbering) or names (Mon, Tue, ...), and day-of-month and day-of-week must both match.
import { Cron } from "croner";
import { BrupopError } from "../../errors.js";

export type ScheduleKind = "window" | "trigger";

export const DEFAULT_CRON_EXPRESSION = "* * * * * * *";

export interface UpdateSchedule {
  readonly expression: string;
  readonly kind: ScheduleKind;
  /** True while `now` lies inside the window (always false for a trigger schedule). */
  isInWindow(now: Date): boolean;
  /** First fire time strictly after `after`, or null if the schedule never fires again. */
  nextFire(after: Date): Date | null;
  /** Latest fire time at or before `atOrBefore`, or null if there was none. */
  previousFire(atOrBefore: Date): Date | null;
  /** Milliseconds until updates may start: 0 inside a window; null if never again. */
  msUntilOpen(now: Date): number | null;
}

const SECOND = 1000;

function floorToSecond(d: Date): Date {
  return new Date(Math.floor(d.getTime() / SECOND) * SECOND);
}

/** Upstream's shorthands (the Rust `cron` crate has exactly these five; no @annually, no @midnight). */
const SHORTHANDS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 0 1 1 * *",
  "@monthly": "0 0 0 1 * * *",
  "@weekly": "0 0 0 * * 1 *", // day 1 = Sunday in the crate's numbering
  "@daily": "0 0 0 * * * *",
  "@hourly": "0 0 * * * * *",
};

/** Largest value of each field, in order: sec min hour day-of-month month day-of-week year. */
const FIELD_MAX = [59, 59, 23, 31, 12, 7, 2100] as const;

const FIELDS_HINT =
  "expected 6 or 7 fields (sec min hour day-of-month month day-of-week [year]) or one of " +
  Object.keys(SHORTHANDS).join(", ");

/**
 * Rewrites an expression in the Rust `cron` crate's syntax (what upstream Brupop parses) into the
 * 7-field form croner understands, without changing its meaning:
 * - a shorthand becomes its 7-field expression;
 * - 6 fields (no year) get `*` as year;
 * - `N/step` (a step starting at a number) becomes `N-max/step`, as the crate reads it.
 * Throws BRUPOP_E_CRON naming `variable` when the shape is wrong.
 */
export function normalizeCronExpression(expression: string, variable = "SCHEDULER_CRON_EXPRESSION"): string {
  const trimmed = expression.trim();
  if (trimmed.startsWith("@")) {
    const full = SHORTHANDS[trimmed];
    if (full === undefined) {
      throw new BrupopError(
        "BRUPOP_E_CRON",
        `${variable}: "${expression}" is not a supported shorthand; ${FIELDS_HINT}`,
        { variable },
      );
    }
    return full;
  }
  const fields = trimmed === "" ? [] : trimmed.split(/\s+/);
  if (fields.length !== 6 && fields.length !== 7) {
    throw new BrupopError(
      "BRUPOP_E_CRON",
      `${variable}: "${expression}" has ${fields.length} fields; ${FIELDS_HINT}`,
      { variable },
    );
  }
  if (fields.length === 6) fields.push("*");
  return fields
    .map((field, i) =>
      field
        .split(",")
        .map((item) =>
          item.replace(
            /^(\d+)\/(\d+)$/,
            (_, start: string, step: string) => `${start}-${FIELD_MAX[i] ?? 0}/${step}`,
          ),
        )
        .join(","),
    )
    .join(" ");
}

function compileCron(expression: string, variable: string, timeZone: string): Cron {
  const normalized = normalizeCronExpression(expression, variable);
  try {
    return new Cron(normalized, {
      mode: "7-part",
      timezone: timeZone,
      alternativeWeekdays: true,
      domAndDow: true,
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/^CronPattern:\s*/, "") : String(err);
    throw new BrupopError(
      "BRUPOP_E_CRON",
      `${variable}: invalid cron expression "${expression}": ${reason}`,
      {
        variable,
      },
    );
  }
}

/**
 * Parses a cron expression (upstream's syntax, see normalizeCronExpression) and classifies it as window or trigger, looking from `now`.
 * Throws BRUPOP_E_CRON (naming `variable`) for an invalid expression or one that never fires again.
 */
export function parseSchedule(
  expression: string,
  now: Date,
  variable = "SCHEDULER_CRON_EXPRESSION",
  /** IANA zone the fields are read in (an UpdatePolicy's spec.timeZone); default UTC. */
  timeZone = "Etc/UTC",
): UpdateSchedule {
  const cron = compileCron(expression, variable, timeZone);
  const [first, second] = cron.nextRuns(2, now);
  if (first === undefined) {
    throw new BrupopError(
      "BRUPOP_E_CRON",
      `${variable}: "${expression}" never fires after ${now.toISOString()}`,
      {
        variable,
      },
    );
  }
  const kind: ScheduleKind =
    second !== undefined && second.getTime() - first.getTime() === SECOND ? "window" : "trigger";
  return {
    expression,
    kind,
    isInWindow: (t) => kind === "window" && cron.match(floorToSecond(t)),
    nextFire: (after) => cron.nextRun(after),
    previousFire(atOrBefore) {
      const t = floorToSecond(atOrBefore);
      if (cron.match(t)) return t;
      return cron.previousRuns(1, t)[0] ?? null;
    },
    msUntilOpen(t) {
      if (kind === "window" && cron.match(floorToSecond(t))) return 0;
      const next = cron.nextRun(t);
      return next === null ? null : next.getTime() - t.getTime();
    },
  };
}

export interface ScheduleEnv {
  SCHEDULER_CRON_EXPRESSION?: string | undefined;
  UPDATE_WINDOW_START?: string | undefined;
  UPDATE_WINDOW_STOP?: string | undefined;
}

const HMS = /^([01]?\d|2[0-3]):([0-5]?\d):([0-5]?\d)$/;

function parseHms(value: string, variable: string): { hour: number; minute: number; second: number } {
  const m = HMS.exec(value.trim());
  if (m === null) {
    throw new BrupopError("BRUPOP_E_CONFIG", `${variable}: "${value}" is not a time of day HH:MM:SS (UTC)`, {
      variable,
    });
  }
  return { hour: Number(m[1]), minute: Number(m[2]), second: Number(m[3]) };
}

/**
 * Legacy `UPDATE_WINDOW_START/STOP` → hour-range window, as upstream converts it: `* * S-E * * * *`,
 * or `* * S-23,0-E * * * *` when the window crosses midnight. Minutes and seconds are dropped
 * (upstream's granularity); the caller is told so it can warn.
 */
export function legacyWindowToCron(start: string, stop: string): { expression: string; lossy: boolean } {
  const s = parseHms(start, "UPDATE_WINDOW_START");
  const e = parseHms(stop, "UPDATE_WINDOW_STOP");
  const lossy = s.minute !== 0 || s.second !== 0 || e.minute !== 0 || e.second !== 0;
  const hours = s.hour <= e.hour ? `${s.hour}-${e.hour}` : `${s.hour}-23,0-${e.hour}`;
  return { expression: `* * ${hours} * * * *`, lossy };
}

function present(v: string | undefined): v is string {
  return v !== undefined && v.trim() !== "";
}

/**
 * Chooses the schedule from the environment (SPEC §3): the cron expression wins over the legacy
 * window (with a warning); a legacy window needs both ends. A legacy pair with equal ends (the
 * upstream chart's `0:0:0`/`0:0:0` default) means "no window" and is ignored.
 */
export function scheduleFromEnv(
  env: ScheduleEnv,
  now: Date,
  warn: (message: string) => void,
): UpdateSchedule {
  const cron = env.SCHEDULER_CRON_EXPRESSION;
  const start = env.UPDATE_WINDOW_START;
  const stop = env.UPDATE_WINDOW_STOP;
  const legacyEnds = [start, stop].filter(present).length;
  if (present(cron)) {
    // Like upstream: with a cron expression the legacy window is ignored entirely, never validated
    // (a half-set or malformed legacy pair must not stop a controller that does not use it).
    if (legacyEnds > 0 && !legacyIsDefault(start, stop)) {
      warn(
        "SCHEDULER_CRON_EXPRESSION and UPDATE_WINDOW_START/STOP are both set; using SCHEDULER_CRON_EXPRESSION, ignoring UPDATE_WINDOW_START/STOP",
      );
    }
    return parseSchedule(cron, now);
  }
  if (legacyEnds === 1) {
    const missing = present(start) ? "UPDATE_WINDOW_STOP" : "UPDATE_WINDOW_START";
    throw new BrupopError(
      "BRUPOP_E_CONFIG",
      `${missing}: must be set when the other end of the update window is set`,
      {
        variable: missing,
      },
    );
  }
  if (
    legacyEnds === 2 &&
    parseHmsSeconds(start ?? "", "UPDATE_WINDOW_START") !== parseHmsSeconds(stop ?? "", "UPDATE_WINDOW_STOP")
  ) {
    const { expression, lossy } = legacyWindowToCron(start ?? "", stop ?? "");
    if (lossy) warn(`UPDATE_WINDOW_START/STOP are applied with hour granularity as "${expression}"`);
    return parseSchedule(expression, now, "UPDATE_WINDOW_START/STOP");
  }
  return parseSchedule(DEFAULT_CRON_EXPRESSION, now);
}

/** Both ends set, valid and equal (the upstream chart's `0:0:0`/`0:0:0` default). Never throws. */
function legacyIsDefault(start: string | undefined, stop: string | undefined): boolean {
  if (!present(start) || !present(stop)) return false;
  try {
    return parseHmsSeconds(start, "UPDATE_WINDOW_START") === parseHmsSeconds(stop, "UPDATE_WINDOW_STOP");
  } catch {
    return false;
  }
}

function parseHmsSeconds(value: string, variable: string): number {
  const t = parseHms(value, variable);
  return t.hour * 3600 + t.minute * 60 + t.second;
}
