// Logging: pino, JSON to stderr by default. Components take a Logger; nothing logs through a global.
import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

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
