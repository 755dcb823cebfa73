// One declarative option table per component: each option says where it comes from (a flag,
// upstream's environment variables, the chart value that sets them), how it is parsed, its default
// and its help. From the table come the commander options and their help (`addOptionTable`), a
// commander-free parse of a command line for the agent's start (`parseFlagArgs`, issue 30), the
// documentation (`markdownTable`, docs/configuration.md) and one typed, validated settings
// object (`parseOptions`). Cross-option rules (a default built from two values, the namespace from
// the pod) stay in each component's config module, on top of the parsed values.
// Commander only as a type: the agent's start (src/cli/run.ts) parses its argv without loading it.
import type { Command } from "commander";
import { parseArgs } from "node:util";
import { configError } from "./parsers.js";

export interface OptionSpec<T> {
  /** Commander flag: `--name <value>`, or `--no-name` for a switch that is on by default. */
  readonly flag?: string;
  /** Environment variables, upstream's names; the first one set is used. A given flag wins. */
  readonly env?: readonly string[];
  /** Parses the raw text; throws BRUPOP_E_CONFIG naming `name` (the flag or variable it came from). */
  readonly parse: (raw: string, name: string) => T;
  /** The value when neither the flag nor a variable is set (absent: undefined). */
  readonly default?: T;
  /** How the default reads in help and docs when it is not the plain value ("the pod's namespace"). */
  readonly defaultText?: string;
  readonly help: string;
  /** Unset is an error with this message (the option has no default). */
  readonly required?: string;
  /** The name errors use whatever the source (when the flag only overrides the variable). */
  readonly errorName?: string;
  /** The chart value (path in values.yaml) that sets the variable. */
  readonly chartValue?: string;
  /** Never echo the value (errors say only that it is invalid). */
  readonly secret?: boolean;
}

export type OptionTable = Readonly<Record<string, OptionSpec<unknown>>>;

/** The typed settings a table parses to: an option without a default may be undefined. */
export type SettingsOf<S extends OptionTable> = {
  -readonly [K in keyof S]: S[K] extends { parse: (raw: string, name: string) => infer T }
    ? S[K] extends { default: unknown } | { required: string }
      ? T
      : T | undefined
    : never;
};

/** Raw flag values by option key, as commander hands them (strings, or booleans for switches). */
export type FlagValues<S extends OptionTable> = { readonly [K in keyof S]?: string | boolean | undefined };

export type Env = Readonly<Record<string, string | undefined>>;

/** `--socket <path>` → `--socket`; `-n, --namespace <ns>` → `--namespace`. */
export function longFlag(flag: string): string {
  const long = flag.split(/[ ,|]+/).find((w) => w.startsWith("--"));
  return long ?? flag.split(/[ ,|]+/)[0] ?? flag;
}

/** The name of an option in errors and docs: its flag, else its first variable. */
function rawName(spec: OptionSpec<unknown>): string {
  return spec.flag !== undefined ? longFlag(spec.flag) : (spec.env?.[0] ?? "?");
}

/** Set and not blank (a blank value counts as unset). */
function given(v: string | undefined): v is string {
  return v !== undefined && v.trim() !== "";
}

/** Where an option's raw text comes from: the flag, else the first variable set, else nothing. */
function rawValue(
  spec: OptionSpec<unknown>,
  flag: string | boolean | undefined,
  env: Env,
): { raw: string; name: string } | undefined {
  const fromFlag = typeof flag === "boolean" ? String(flag) : flag;
  if (given(fromFlag) && spec.flag !== undefined) return { raw: fromFlag, name: longFlag(spec.flag) };
  for (const variable of spec.env ?? []) {
    const value = env[variable];
    if (given(value)) return { raw: value, name: variable };
  }
  return undefined;
}

function parseOne(spec: OptionSpec<unknown>, raw: string, name: string): unknown {
  const errorName = spec.errorName ?? name;
  if (spec.secret !== true) return spec.parse(raw, errorName);
  try {
    return spec.parse(raw, errorName);
  } catch {
    throw configError(errorName, "invalid value (not shown)");
  }
}

/**
 * Parses every option of `table` from the flags and the environment, in table order, into one
 * typed object. A blank value counts as unset. Throws the first BRUPOP_E_CONFIG.
 */
export function parseOptions<S extends OptionTable>(
  table: S,
  env: Env,
  flags: FlagValues<S> = {},
): SettingsOf<S> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(table)) {
    const source = rawValue(spec, flags[key], env);
    if (source === undefined && spec.required !== undefined) {
      throw configError(spec.errorName ?? rawName(spec), spec.required);
    }
    out[key] = source === undefined ? spec.default : parseOne(spec, source.raw, source.name);
  }
  return out as SettingsOf<S>;
}

function formatDefault(spec: OptionSpec<unknown>): string | undefined {
  if (spec.defaultText !== undefined) return spec.defaultText;
  if (spec.default === undefined) return undefined;
  const value = spec.default;
  if (typeof value === "string") return `"${value}"`;
  return typeof value === "number" || typeof value === "boolean" ? String(value) : JSON.stringify(value);
}

/** The help line of a flag: its text, then the variables it overrides and its default. */
export function helpText(spec: OptionSpec<unknown>): string {
  const notes = [
    ...(spec.env !== undefined && spec.env.length > 0 ? [`env ${spec.env.join(", ")}`] : []),
    ...(formatDefault(spec) !== undefined ? [`default ${formatDefault(spec)}`] : []),
  ];
  return notes.length === 0 ? spec.help : `${spec.help} (${notes.join("; ")})`;
}

/**
 * The table's variables as [name, "meaning [default]"] rows: those no flag sets, or (withFlags)
 * every one.
 */
export function environmentRows(
  table: OptionTable,
  { withFlags = false }: { withFlags?: boolean } = {},
): [string, string][] {
  return Object.values(table)
    .filter((spec) => spec.env !== undefined && (withFlags || spec.flag === undefined))
    .map((spec) => {
      const note = spec.required !== undefined ? "required" : formatDefault(spec);
      return [(spec.env ?? []).join(", "), note === undefined ? spec.help : `${spec.help} [${note}]`];
    });
}

/**
 * The help section for the variables no flag sets (commander lists the flags): `Environment:` with
 * each variable, its meaning and default; empty when there are none.
 */
export function environmentHelp(table: OptionTable): string {
  const rows = environmentRows(table);
  if (rows.length === 0) return "";
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  return `\nEnvironment (defaults in brackets):\n${rows.map(([n, h]) => `  ${n.padEnd(width)}${h}`).join("\n")}\n`;
}

const TABLES = new WeakMap<Command, OptionTable>();

/** The option table `addOptionTable` gave `cmd`, if any (for the root help). */
export function optionTableOf(cmd: Command): OptionTable | undefined {
  return TABLES.get(cmd);
}

/** Adds the table's flags and the help of its environment-only variables to `cmd`. */
export function addOptionTable(cmd: Command, table: OptionTable): Command {
  TABLES.set(cmd, table);
  // No parsing in commander: parseOptions does it, with the environment.
  for (const spec of Object.values(table)) {
    if (spec.flag !== undefined) cmd.addOption(cmd.createOption(spec.flag, helpText(spec)));
  }
  const env = environmentHelp(table);
  if (env !== "") cmd.addHelpText("after", env);
  return cmd;
}

/** The key commander stores a flag's value under: `--loop-interval-ms <ms>` → `loopIntervalMs`. */
export function attributeName(flag: string): string {
  const name = longFlag(flag).replace(/^--?/, "").replace(/^no-/, "");
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Commander's parsed options → the raw flag values by option key. */
export function flagValues<S extends OptionTable>(
  table: S,
  opts: Readonly<Record<string, unknown>>,
): FlagValues<S> {
  const out: Record<string, string | boolean | undefined> = {};
  for (const [key, spec] of Object.entries(table)) {
    if (spec.flag === undefined) continue;
    const value = opts[attributeName(spec.flag)];
    if (typeof value === "string" || typeof value === "boolean") out[key] = value;
  }
  return out;
}

/** `--name <value>`: a long flag that takes one value (the only kind parseFlagArgs reads). */
const VALUE_FLAG = /^--([a-z][a-z0-9-]*) <[^>]+>$/;

/**
 * The raw flag values of a command line (the words after the subcommand) without commander, as
 * commander would hand them (`--name value`, `--name=value`, the last one wins) — or undefined for
 * anything else (`--help`, an unknown flag, a missing value, a word that is not a flag, a table
 * with other kinds of flags): the caller then lets commander answer, with its help and its errors.
 */
export function parseFlagArgs<S extends OptionTable>(
  table: S,
  args: readonly string[],
): FlagValues<S> | undefined {
  const keys = new Map<string, string>();
  for (const [key, spec] of Object.entries(table)) {
    if (spec.flag === undefined) continue;
    const long = VALUE_FLAG.exec(spec.flag)?.[1];
    if (long === undefined) return undefined;
    keys.set(long, key);
  }
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: Object.fromEntries([...keys.keys()].map((long) => [long, { type: "string" as const }])),
      strict: true,
      allowPositionals: false,
    }));
  } catch {
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const [long, value] of Object.entries(values)) {
    const key = keys.get(long);
    if (key !== undefined && typeof value === "string") out[key] = value;
  }
  return out;
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

/** The table as Markdown: flag, environment, chart value, default, meaning. */
export function markdownTable(table: OptionTable): string {
  const code = (s: string): string => `\`${s}\``;
  const rows = Object.values(table).map((spec) => [
    spec.flag === undefined ? "" : code(spec.flag),
    (spec.env ?? []).map(code).join(", "),
    spec.chartValue === undefined ? "" : code(spec.chartValue),
    spec.required !== undefined
      ? "required"
      : spec.secret === true
        ? "(secret)"
        : (formatDefault(spec) ?? ""),
    spec.help,
  ]);
  const lines = [
    ["flag", "environment", "chart value", "default", "meaning"],
    ["---", "---", "---", "---", "---"],
    ...rows,
  ].map((r) => `| ${r.map(cell).join(" | ")} |`);
  return `${lines.join("\n")}\n`;
}
