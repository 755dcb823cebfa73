// `brupop agent`: a thin wrapper. Reads the configuration (upstream's environment + flags), starts
// the agent (src/agent/process.ts) and maps its end to the exit status: 0 after SIGTERM/SIGINT or
// after the reboot it asked for (the next boot's agent carries on). See docs/agent.md.
import type { Command } from "commander";
import type { AgentFlags } from "../../agent/config.js";
import { parseNamespace } from "../options.js";

interface CliOptions {
  namespace?: string;
  apiserverUrl?: string;
  tokenPath?: string;
  caPath?: string;
  socket?: string;
  kubeconfig?: string;
  loopIntervalMs?: string;
  updateCheckIntervalMs?: string;
  rebootWaitMs?: string;
  logLevel?: string;
}

export function registerAgent(program: Command): void {
  program
    .command("agent")
    .description(
      "run the per-node agent: drives this node's Bottlerocket host through the state its shadow asks for " +
        "(env: MY_NODE_NAME, EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC, APISERVER_SERVICE_PORT, TRACING_FILTER_DIRECTIVE)",
    )
    .option(
      "--namespace <ns>",
      "brupop's namespace (default: the pod's, from the service-account mount)",
      parseNamespace("--namespace"),
    )
    .option(
      "--apiserver-url <url>",
      "brupop apiserver address (default https://brupop-apiserver.<ns>.svc.cluster.local:<APISERVER_SERVICE_PORT>)",
    )
    .option("--token-path <file>", "projected service-account token (re-read on every call)")
    .option("--ca-path <file>", "CA that signed the apiserver's certificate")
    .option("--socket <path>", "Bottlerocket host API socket (default /run/api.sock)")
    .option(
      "--kubeconfig <path>",
      "kubeconfig file (default: in-cluster config, or $KUBECONFIG / ~/.kube/config)",
    )
    .option("--loop-interval-ms <ms>", "period of the agent loop (default 5000)")
    .option("--update-check-interval-ms <ms>", "minimum time between host update checks (default 120000)")
    .option(
      "--reboot-wait-ms <ms>",
      "how long to wait for the node to go down after asking for a reboot (default 180000)",
    )
    .option(
      "--log-level <level>",
      "trace, debug, info, warn, error (default: TRACING_FILTER_DIRECTIVE or info)",
    )
    .action(async (opts: CliOptions) => {
      // Loaded here, not at registration: the agent runs on every node, and should not pay for the
      // other commands' dependencies.
      const { loadAgentConfig } = await import("../../agent/config.js");
      const { startAgentProcess } = await import("../../agent/process.js");
      const { createLogger } = await import("../../log.js");
      const flags: AgentFlags = {
        namespace: opts.namespace,
        apiserverUrl: opts.apiserverUrl,
        tokenPath: opts.tokenPath,
        caPath: opts.caPath,
        socketPath: opts.socket,
        kubeconfig: opts.kubeconfig,
        loopIntervalMs: opts.loopIntervalMs,
        updateCheckIntervalMs: opts.updateCheckIntervalMs,
        rebootWaitMs: opts.rebootWaitMs,
        logLevel: opts.logLevel,
      };
      const config = loadAgentConfig(process.env, flags);
      const logger = createLogger({ name: "brupop-agent", level: config.logLevel });
      const stop = new AbortController();
      const onSignal = (signal: NodeJS.Signals): void => {
        logger.info({ signal }, "shutting down");
        stop.abort();
      };
      process.once("SIGTERM", onSignal);
      process.once("SIGINT", onSignal);
      let exit: string;
      try {
        const run = await startAgentProcess(config, logger, stop.signal);
        exit = await run.finished;
      } catch (err) {
        if (!stop.signal.aborted) throw err;
        exit = "stopped";
      }
      logger.info({ exit }, "agent exiting");
      // An abandoned host command may still be polling: it must not keep a stopped agent alive.
      process.exit(0);
    });
}
