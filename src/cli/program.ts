// Builds the single `brupop` command. Each subcommand lives in its own module under
// src/cli/commands and registers itself on the program; this file only wires them up.
import { Command } from "commander";
import { registerAgent } from "./commands/agent.js";
import { registerApiserver } from "./commands/apiserver.js";
import { registerController } from "./commands/controller.js";
import { registerCrd } from "./commands/crd.js";
import { registerDemo } from "./commands/demo.js";
import { registerSimulateHost } from "./commands/simulate-host.js";
import { registerStatus } from "./commands/status.js";

export const VERSION = "0.1.0";

export function buildProgram(): Command {
  const program = new Command("brupop")
    .description("Bottlerocket Update Operator (TypeScript): keeps Bottlerocket nodes up to date")
    .version(VERSION);
  registerController(program);
  registerAgent(program);
  registerApiserver(program);
  registerCrd(program);
  registerDemo(program);
  registerStatus(program);
  registerSimulateHost(program);
  return program;
}
