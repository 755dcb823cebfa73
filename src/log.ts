// Logging: pino, JSON to stderr by default. Components take a Logger; nothing logs through a global.
import pino from "pino";
import type { Logger, LevelWithSilent } from "pino";

export type { Logger };

export const LOG_LEVELS: readonly LevelWithSilent[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

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
