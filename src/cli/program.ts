// Builds the single `brupop` command. Each subcommand lives in its own module under
// src/cli/commands and registers itself on the program; this file only wires them up. `demo` and
// `simulate-host` are the kit's (kit/demo, kit/simulator), reached through ./kit.ts.
//
// Only the subcommand being run is loaded: the agent runs on every node, and loading the
// controller's, the apiserver's or the simulator's modules into it would cost tens of MiB of RSS.
// `brupop --help` (or an unknown word) loads them all, so help and errors stay complete.
import { Command } from "commander";
import { environmentRows, optionTableOf } from "../config/options.js";
import { styleCommander } from "./exit.js";
import { loadKitCommand, type Register } from "./kit.js";

export const VERSION = "0.1.0";

/**
 * The root help's footer: every variable of the registered commands' option tables with its
 * default, then the common ones. Only for `brupop --help`, when every command is registered.
 */
export function rootHelpFooter(commands: readonly Command[]): string {
  // One line per variable and meaning: a variable two components read alike is listed once.
  const rows = new Map<string, { name: string; commands: string[]; text: string }>();
  for (const cmd of commands) {
    const table = optionTableOf(cmd);
    if (table === undefined) continue;
    const command = cmd.name();
    for (const [name, text] of environmentRows(table, { withFlags: true })) {
      const row = rows.get(`${name} ${text}`);
      if (row === undefined) rows.set(`${name} ${text}`, { name, commands: [command], text });
      else row.commands.push(command);
    }
  }
  const lines = [
    ...[...rows.values()].map(({ name, commands, text }) => [name, `${commands.join(", ")}: ${text}`]),
    ["LOGGING_FORMATTER", "full, compact, pretty or json [text on a terminal, else json]"],
    ["LOGGING_ANSI_ENABLED", "true or false [true on a terminal unless NO_COLOR]"],
    ["KUBECONFIG", "status, demo: kubeconfig [~/.kube/config, then in-cluster]"],
    ["BRUPOP_DEBUG=1", "print the error code and stack trace with an error"],
  ];
  const width = Math.max(...lines.map(([n]) => (n ?? "").length)) + 2;
  return `
Environment (defaults in brackets; all of them in docs/configuration.md):
${lines.map(([n, t]) => `  ${(n ?? "").padEnd(width)}${t ?? ""}`).join("\n")}

Exit codes: 0 done, 1 failed, 2 usage or configuration error, 130 interrupted (Ctrl-C),
143 terminated (SIGTERM). See docs/cli.md.
Run \`brupop <command> --help\` for a command's flags and their defaults.`;
}

const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  accept: async () => (await import("./commands/accept.js")).registerAccept,
  controller: async () => (await import("./commands/controller.js")).registerController,
  agent: async () => (await import("./commands/agent.js")).registerAgent,
  apiserver: async () => (await import("./commands/apiserver.js")).registerApiserver,
  crd: async () => (await import("./commands/crd.js")).registerCrd,
  demo: () => loadKitCommand("demo"),
  status: async () => (await import("./commands/status.js")).registerStatus,
  "simulate-host": () => loadKitCommand("simulate-host"),
};

/** The subcommand named on the command line (the first word that is not an option), if any. */
export function requestedCommand(argv: readonly string[]): string | undefined {
  const word = argv.slice(2).find((a) => !a.startsWith("-"));
  return word !== undefined && Object.hasOwn(COMMANDS, word) ? word : undefined;
}

export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = styleCommander(
    new Command("brupop")
      .description("Bottlerocket Update Operator (TypeScript): keeps Bottlerocket nodes up to date")
      .version(VERSION),
  );
  const only = requestedCommand(argv);
  const names = only === undefined ? Object.keys(COMMANDS) : [only];
  const loaders = names.flatMap((n) => {
    const load = COMMANDS[n];
    return load === undefined ? [] : [load()];
  });
  for (const register of await Promise.all(loaders)) register(program);
  if (only === undefined) program.addHelpText("after", rootHelpFooter(program.commands));
  return program;
}
