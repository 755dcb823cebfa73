#!/usr/bin/env node
// The kubectl plugin: `kubectl brupop [status] [flags]` runs this binary (kubectl-brupop on PATH)
// with every argument after `brupop`. It is `brupop status`: the `status` word is optional, and the
// usual flags (--kubeconfig, --context, -n, -o, -w) pass straight through.
import { Command } from "commander";
import { configureStatusCommand } from "./commands/status.js";
import { runCli, styleCommander } from "./exit.js";

/** The arguments kubectl hands us, minus an optional leading `status`. */
function pluginArgs(argv: readonly string[]): string[] {
  const args = argv.slice(2);
  return args[0] === "status" ? args.slice(1) : args;
}

const program = configureStatusCommand(styleCommander(new Command().name("kubectl brupop")));
await runCli(program, pluginArgs(process.argv), "user");
