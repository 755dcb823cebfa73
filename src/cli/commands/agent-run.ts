// What `brupop agent` runs, with its raw flag values: from commander's action (./agent.ts), or
// straight from the command line when it has nothing but the agent's own flags (src/cli/run.ts,
// `agentFlagsFromArgv`: commander is then never loaded — ~14 ms of CPU at each agent's start, over
// a second under its 10m CPU limit; issue 30). Help and usage errors stay commander's.
import { AGENT_OPTIONS, loadAgentConfig, type AgentFlags } from "../../agent/config.js";
import { parseFlagArgs } from "../../config/options.js";
import { runService } from "../service.js";

/** The flags of `brupop agent <args>` when commander would read them alike, else undefined. */
export function agentFlagsFromArgv(args: readonly string[]): AgentFlags | undefined {
  return parseFlagArgs(AGENT_OPTIONS, args);
}

/** Starts the agent and maps its end to the exit status (docs/agent.md). */
export async function runAgent(flags: AgentFlags): Promise<void> {
  // Loaded here, not at registration: the agent runs on every node, and should not pay for the
  // other commands' dependencies.
  const { startAgentProcess } = await import("../../agent/process.js");
  const { createLogger } = await import("../../log.js");
  const config = loadAgentConfig(process.env, flags);
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
}
