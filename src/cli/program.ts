// Builds the single `brupop` command. Each subcommand lives in its own module under
// src/cli/commands and registers itself on the program; this file only wires them up.
//
// Only the subcommand being run is loaded: the agent runs on every node, and loading the
// controller's, the apiserver's or the simulator's modules into it would cost tens of MiB of RSS.
// `brupop --help` (or an unknown word) loads them all, so help and errors stay complete.
import { Command } from "commander";

export const VERSION = "0.1.0";

type Register = (program: Command) => void;

const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  controller: async () => (await import("./commands/controller.js")).registerController,
  agent: async () => (await import("./commands/agent.js")).registerAgent,
  apiserver: async () => (await import("./commands/apiserver.js")).registerApiserver,
  crd: async () => (await import("./commands/crd.js")).registerCrd,
  demo: async () => (await import("./commands/demo.js")).registerDemo,
  status: async () => (await import("./commands/status.js")).registerStatus,
  "simulate-host": async () => (await import("./commands/simulate-host.js")).registerSimulateHost,
};

/** The subcommand named on the command line (the first word that is not an option), if any. */
export function requestedCommand(argv: readonly string[]): string | undefined {
  const word = argv.slice(2).find((a) => !a.startsWith("-"));
  return word !== undefined && Object.hasOwn(COMMANDS, word) ? word : undefined;
}

export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command("brupop")
    .description("Bottlerocket Update Operator (TypeScript): keeps Bottlerocket nodes up to date")
    .version(VERSION);
  const only = requestedCommand(argv);
  const names = only === undefined ? Object.keys(COMMANDS) : [only];
  const loaders = names.flatMap((n) => {
    const load = COMMANDS[n];
    return load === undefined ? [] : [load()];
  });
  for (const register of await Promise.all(loaders)) register(program);
  return program;
}
