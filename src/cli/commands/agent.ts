// `brupop agent`: a thin wrapper. Its flags and variables are the option table of
// src/agent/config.ts; it starts the agent (./agent-run.ts, src/agent/process.ts) and maps its end
// to the exit status: 0 after SIGTERM/SIGINT or after the reboot it asked for (the next boot's agent
// carries on). See docs/agent.md and docs/configuration.md. A command line with only the agent's
// flags does not come here: src/cli/run.ts runs it without commander (issue 30).
import type { Command } from "commander";
import { AGENT_OPTIONS } from "../../agent/config.js";
import { addOptionTable, flagValues } from "../../config/options.js";
import { runAgent } from "./agent-run.js";

export function registerAgent(program: Command): void {
  const cmd = program
    .command("agent")
    .description(
      "run the per-node agent: drives this node's Bottlerocket host through the state its shadow asks for",
    );
  addOptionTable(cmd, AGENT_OPTIONS).action(async (opts: Record<string, unknown>) => {
    await runAgent(flagValues(AGENT_OPTIONS, opts));
  });
}
