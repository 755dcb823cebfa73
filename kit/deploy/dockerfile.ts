// A small Dockerfile reader: enough to check the image's key facts in a unit test (there is no
// container engine on the build machines, so the Dockerfile itself can never be built in CI).
// Handles comments, `\` line continuations, global ARG defaults in FROM and JSON exec forms.
import { BrupopError } from "../../src/errors.js";

export interface Instruction {
  /** Upper-cased keyword: FROM, RUN, COPY, USER, ENTRYPOINT, ... */
  readonly keyword: string;
  /** The rest of the line, continuations joined with a space. */
  readonly args: string;
}

export interface Stage {
  /** The base image with global ARG defaults substituted (e.g. `node:24-bookworm-slim`). */
  readonly from: string;
  /** The `AS` name, if any. */
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

function logicalLines(text: string): string[] {
  const lines: string[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    if (pending === "" && /^\s*(#.*)?$/.test(line)) continue; // comment, parser directive or blank
    if (pending !== "" && /^\s*#/.test(line)) continue; // comments inside a continuation are dropped
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    lines.push(`${pending}${line.trim()}`.trim());
    pending = "";
  }
  if (pending !== "") lines.push(pending.trim());
  return lines;
}

function substitute(value: string, args: ReadonlyMap<string, string>): string {
  return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
    const key = braced ?? bare ?? "";
    return args.get(key) ?? whole;
  });
}

/** Parses a Dockerfile into its stages. Throws BRUPOP_E_CONFIG on an instruction before FROM. */
export function parseDockerfile(text: string): Stage[] {
  const globalArgs = new Map<string, string>();
  const stages: { from: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const line of logicalLines(text)) {
    const match = /^(\S+)\s*(.*)$/.exec(line);
    const keyword = (match?.[1] ?? "").toUpperCase();
    const args = match?.[2] ?? "";
    const current = stages.at(-1);
    if (keyword === "FROM") {
      const [image = "", as, name] = args.split(/\s+/);
      stages.push({
        from: substitute(image, globalArgs),
        name: as?.toUpperCase() === "AS" ? name : undefined,
        instructions: [],
      });
    } else if (current !== undefined) {
      current.instructions.push({ keyword, args });
    } else if (keyword === "ARG") {
      const [key = "", value = ""] = args.split("=", 2);
      globalArgs.set(key.trim(), value.trim());
    } else {
      throw new BrupopError("BRUPOP_E_CONFIG", `Dockerfile: ${keyword} before the first FROM`);
    }
  }
  return stages;
}

/** An exec-form argument list (`["node", "x.js"]`), or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith("[")) return undefined;
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a): a is string => typeof a === "string")) return undefined;
  return parsed;
}

/** The last value of an instruction in a stage (USER, ENTRYPOINT, WORKDIR...), if any. */
export function lastInstruction(stage: Stage, keyword: string): string | undefined {
  return stage.instructions.filter((i) => i.keyword === keyword).at(-1)?.args;
}

/** The environment a stage sets with `ENV KEY=VALUE ...` (later values win; quotes removed). */
export function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.instructions) {
    if (i.keyword !== "ENV") continue;
    for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|(\S*))/g)) {
      const key = m[1];
      if (key !== undefined) env[key] = m[3] ?? m[4] ?? "";
    }
  }
  return env;
}
