// Builds the single `brupop` command. Each subcommand lives in its own module under
// src/cli/commands and registers itself on the program; this file only wires them up.
//
// Only the subcommand being run is loaded: the agent runs on every node, and loading the
// controller's, the apiserver's or the simulator's modules into it would cost tens of MiB of RSS.
// `brupop --help` (or an unknown word) loads them all, so help and errors stay complete.
import { Command } from "commander";
import { styleCommander } from "./exit.js";

export const VERSION = "0.1.0";

/** Defaults that come from the environment (each command's --help shows its flags' defaults). */
export const ROOT_HELP_FOOTER = `
Environment (defaults in brackets):
  MAX_CONCURRENT_UPDATE          controller: nodes updating at once, or "unlimited" [1]
  SCHEDULER_CRON_EXPRESSION      controller: 7-field cron, UTC ["* * * * * * *"]
  UPDATE_WINDOW_START/STOP       controller: legacy HH:MM:SS window [unset]
  EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC  agent: wait after excluding from load balancers [0]
  APISERVER_SERVICE_PORT         agent: brupop-apiserver Service port [443]
  APISERVER_INTERNAL_PORT        apiserver: listen port [8443]
  DRAIN_TIMEOUT_SECONDS          apiserver: deadline of one drain [600]
  TRACING_FILTER_DIRECTIVE       log level or directive, e.g. "controller=debug,info" [info]
  LOGGING_FORMATTER              full, compact, pretty or json [text on a terminal, else json]
  LOGGING_ANSI_ENABLED           true or false [true on a terminal unless NO_COLOR]
  KUBECONFIG                     status, demo: kubeconfig [~/.kube/config, then in-cluster]
  BRUPOP_DEBUG=1                 print the error code and stack trace with an error

Exit codes: 0 done, 1 failed, 2 usage or configuration error, 130 interrupted (Ctrl-C),
143 terminated (SIGTERM). See docs/cli.md.
Run \`brupop <command> --help\` for a command's flags and their defaults.`;

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
  const program = styleCommander(
    new Command("brupop")
      .description("Bottlerocket Update Operator (TypeScript): keeps Bottlerocket nodes up to date")
      .version(VERSION),
  );
  program.addHelpText("after", ROOT_HELP_FOOTER);
  const only = requestedCommand(argv);
  const names = only === undefined ? Object.keys(COMMANDS) : [only];
  const loaders = names.flatMap((n) => {
    const load = COMMANDS[n];
    return load === undefined ? [] : [load()];
  });
  for (const register of await Promise.all(loaders)) register(program);
  return program;
}
