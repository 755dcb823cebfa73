// Logging: pino, JSON to stderr by default. Components take a Logger; nothing logs through a global.
import { isatty } from "node:tty";
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

/** Upstream's LOGGING_FORMATTER values (tracing-subscriber's formats). */
export const LOG_FORMATS = ["full", "compact", "pretty", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * LOGGING_FORMATTER as upstream reads it: exactly one of full, compact, pretty, json (lower case).
 * Unset or empty: undefined (the caller picks: text on a terminal, JSON otherwise).
 */
export function parseLogFormat(
  value: string | undefined,
  variable = "LOGGING_FORMATTER",
): LogFormat | undefined {
  if (value === undefined || value === "") return undefined;
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw new BrupopError(
    "BRUPOP_E_CONFIG",
    `${variable}: "${value}" is not a log format (${LOG_FORMATS.join(", ")})`,
    { variable },
  );
}

/** LOGGING_ANSI_ENABLED as upstream reads it: true or false, any case. Unset: undefined. */
export function parseAnsiEnabled(
  value: string | undefined,
  variable = "LOGGING_ANSI_ENABLED",
): boolean | undefined {
  if (value === undefined || value === "") return undefined;
  const v = value.toLowerCase();
  if (v === "true" || v === "false") return v === "true";
  throw new BrupopError("BRUPOP_E_CONFIG", `${variable}: "${value}" is not true or false`, { variable });
}

/** What the logger writes: the format and colours, from the environment and the destination. */
export function resolveLogStyle(
  env: NodeJS.ProcessEnv,
  destinationIsTty: boolean,
): { format: LogFormat; ansi: boolean } {
  const format = parseLogFormat(env["LOGGING_FORMATTER"]) ?? (destinationIsTty ? "full" : "json");
  const ansi =
    parseAnsiEnabled(env["LOGGING_ANSI_ENABLED"]) ??
    (destinationIsTty && (env["NO_COLOR"] === undefined || env["NO_COLOR"] === ""));
  return { format, ansi };
}

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};
const LEVEL_COLOURS: Readonly<Record<number, string>> = {
  10: "\x1b[35m",
  20: "\x1b[34m",
  30: "\x1b[32m",
  40: "\x1b[33m",
  50: "\x1b[31m",
  60: "\x1b[31m",
};
const DIM = "\x1b[2m";
const BOLD = "\x1b[1m";
const RESET = "\x1b[0m";
const RESERVED = new Set(["level", "time", "pid", "hostname", "name", "msg", "v"]);

function fieldText(value: unknown): string {
  if (typeof value === "string") return /[\s"=]/.test(value) || value === "" ? JSON.stringify(value) : value;
  if (typeof value === "object" && value !== null) {
    const err = value as { message?: unknown; type?: unknown };
    if (typeof err.message === "string" && typeof err.type === "string") return JSON.stringify(err.message);
    return JSON.stringify(value);
  }
  return String(value);
}

interface LogRecord {
  level: number;
  iso: string;
  name: string | undefined;
  msg: string;
  fields: [string, unknown][];
  stack: string | undefined;
}

function parseRecord(line: string): LogRecord | undefined {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const stack = (rec["err"] as { stack?: unknown } | undefined)?.stack;
  return {
    level: typeof rec["level"] === "number" ? rec["level"] : 30,
    iso: new Date(typeof rec["time"] === "number" ? rec["time"] : Date.now()).toISOString(),
    name: typeof rec["name"] === "string" ? rec["name"] : undefined,
    msg: typeof rec["msg"] === "string" ? rec["msg"] : "",
    fields: Object.entries(rec).filter(([k]) => !RESERVED.has(k)),
    stack: typeof stack === "string" ? stack : undefined,
  };
}

/**
 * One pino JSON line as human text, in the spirit of upstream's tracing-subscriber formats:
 * full `TIME LEVEL name: message key=value`, compact (time of day, no name), pretty (message, then
 * the fields on an indented line). `json` returns the line unchanged.
 */
export function formatLogLine(line: string, format: LogFormat, ansi: boolean): string {
  if (format === "json") return line;
  const r = parseRecord(line);
  if (r === undefined) return line;
  const paint = (code: string, text: string): string => (ansi ? `${code}${text}${RESET}` : text);
  const level = paint(LEVEL_COLOURS[r.level] ?? "", (LEVEL_NAMES[r.level] ?? String(r.level)).padStart(5));
  if (format === "pretty") {
    const who = r.name === undefined ? "" : paint(BOLD, `${r.name}: `);
    const kv = r.fields.map(([k, v]) => `${k}: ${fieldText(v)}`).join(", ");
    const body = kv === "" ? "" : `    ${paint(DIM, "with")} ${kv}\n`;
    const trace = r.stack !== undefined && r.level >= 50 ? `${r.stack.replace(/^/gm, "    ")}\n` : "";
    return `  ${paint(DIM, r.iso)} ${level} ${who}${r.msg}\n${body}${trace}\n`;
  }
  const time = format === "full" ? r.iso : r.iso.slice(11, 23);
  const who = format === "full" && r.name !== undefined ? ` ${paint(DIM, `${r.name}:`)}` : "";
  const kv = r.fields.map(([k, v]) => ` ${paint(DIM, `${k}=`)}${fieldText(v)}`).join("");
  return `${paint(DIM, time)} ${level}${who} ${r.msg}${kv}\n`;
}

export interface LogOptions {
  level?: LevelWithSilent;
  name?: string;
  /** File descriptor (default 2, stderr) or a file path to append to. */
  destination?: number | string;
  /** Default process.env (LOGGING_FORMATTER, LOGGING_ANSI_ENABLED, NO_COLOR). */
  env?: NodeJS.ProcessEnv;
  /** Whether the destination is a terminal (default: isatty of the fd; false for a file). */
  tty?: boolean;
}

/**
 * A pino logger. Format from LOGGING_FORMATTER (upstream's values: full, compact, pretty, json);
 * unset: readable text on a terminal, JSON otherwise. Colours from LOGGING_ANSI_ENABLED; unset: on a
 * terminal unless NO_COLOR. An invalid value is a BRUPOP_E_CONFIG error naming the variable.
 */
export function createLogger(opts: LogOptions = {}): Logger {
  const destination = opts.destination ?? 2;
  const tty = opts.tty ?? (typeof destination === "number" && isatty(destination));
  const { format, ansi } = resolveLogStyle(opts.env ?? process.env, tty);
  const sink = pino.destination(
    typeof destination === "number"
      ? { dest: destination, sync: true }
      : { dest: destination, sync: true, mkdir: true },
  );
  const stream =
    format === "json"
      ? sink
      : { write: (line: string) => void sink.write(formatLogLine(line, format, ansi)) };
  return pino({ name: opts.name ?? "brupop", level: opts.level ?? "info" }, stream);
}

/** A logger that writes nothing (tests, many in-process agents). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
