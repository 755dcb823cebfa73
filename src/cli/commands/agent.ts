// `brupop agent`: a thin wrapper. Its flags and variables are the option table of
// src/agent/config.ts; it starts the agent (src/agent/process.ts) and maps its end to the exit
// status: 0 after SIGTERM/SIGINT or after the reboot it asked for (the next boot's agent carries
// on). See docs/agent.md and docs/configuration.md.
import type { Command } from "commander";
import { AGENT_OPTIONS } from "../../agent/config.js";
import { addOptionTable, flagValues } from "../../config/options.js";
import { runService } from "../service.js";

export function registerAgent(program: Command): void {
  const cmd = program
    .command("agent")
    .description(
      "run the per-node agent: drives this node's Bottlerocket host through the state its shadow asks for",
    );
  addOptionTable(cmd, AGENT_OPTIONS).action(async (opts: Record<string, unknown>) => {
    // Loaded here, not at registration: the agent runs on every node, and should not pay for the
    // other commands' dependencies.
    const { loadAgentConfig } = await import("../../agent/config.js");
    const { startAgentProcess } = await import("../../agent/process.js");
    const { createLogger } = await import("../../log.js");
    const config = loadAgentConfig(process.env, flagValues(AGENT_OPTIONS, opts));
    const logger = createLogger({ name: "brupop-agent", level: config.logLevel });
    await runService(
      async (stop) => {
        let exit: string;
        try {
          const run = await startAgentProcess(config, logger, stop);
          exit = await run.finished;
        } catch (err) {
          if (!stop.aborted) throw err;
          exit = "stopped";
        }
        logger.info({ exit }, "agent exiting");
      },
      {
        onSignal: "ok",
        stopping: (signal) => logger.info({ signal }, "shutting down"),
        // An abandoned host command may still be polling: it must not keep a stopped agent alive.
        exitWhenDone: true,
      },
    );
  });
}
