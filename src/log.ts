// Logging: pino, JSON to stderr by default. Components take a Logger; nothing logs through a global.
import pino from "pino";
import type { Logger, LevelWithSilent } from "pino";
import { BrupopError } from "./errors.js";

export type { Logger };

/** Most verbose first: picking the lowest index picks the most verbose level. */
export const LOG_LEVELS: readonly LevelWithSilent[] = [
  "trace",
  "debug",
  "info",
  "warn",
  "error",
  "fatal",
  "silent",
];

/**
 * A pino level from a level name or upstream's tracing filter directive (`agent=debug,info`, as in
 * TRACING_FILTER_DIRECTIVE): the bare default level if there is one, else the most verbose level
 * named. Throws BRUPOP_E_CONFIG naming `variable`.
 */
export function parseLogLevel(value: string | undefined, variable: string): LevelWithSilent {
  if (value === undefined || value.trim() === "") return "info";
  const parts = value
    .toLowerCase()
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  const normalise = (l: string): string => (l === "off" ? "silent" : l === "warning" ? "warn" : l);
  const bare = parts.filter((p) => !p.includes("=")).map(normalise);
  const scoped = parts.filter((p) => p.includes("=")).map((p) => normalise(p.split("=")[1] ?? ""));
  const rank = (l: string): number => LOG_LEVELS.indexOf(l as LevelWithSilent);
  const pick = bare.at(-1) ?? scoped.sort((a, b) => rank(a) - rank(b))[0];
  if (pick === undefined || rank(pick) < 0) {
    throw new BrupopError(
      "BRUPOP_E_CONFIG",
      `${variable}: "${value}" is not a log level (trace, debug, info, warn, error, off)`,
      { variable },
    );
  }
  return pick as LevelWithSilent;
}

export interface LogOptions {
  level?: LevelWithSilent;
  name?: string;
}

export function createLogger(opts: LogOptions = {}): Logger {
  return pino({ name: opts.name ?? "brupop", level: opts.level ?? "info" }, pino.destination(2));
}

/** A logger that writes nothing (tests, many in-process agents). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
