// `brupop apiserver`: a thin wrapper around src/apiserver/server.ts. Config is read and validated
// once here (APISERVER_INTERNAL_PORT, namespace from the service-account mount or --namespace, TLS
// dir); SIGTERM/SIGINT close the server gracefully. See docs/apiserver.md.
import { KubeConfig } from "@kubernetes/client-node";
import { InvalidArgumentError, type Command } from "commander";
import { loadApiserverConfig } from "../../apiserver/config.js";
import { Apiserver } from "../../apiserver/server.js";
import { DEFAULT_TLS_DIR } from "../../apiserver/tls.js";
import { createLogger } from "../../log.js";
import { parseNamespace } from "../options.js";

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "silent"] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

function parseLogLevel(v: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(v)) {
    throw new InvalidArgumentError(`${JSON.stringify(v)} is not one of ${LOG_LEVELS.join(", ")}`);
  }
  return v as LogLevel;
}

interface Flags {
  namespace?: string;
  tlsDir: string;
  host?: string;
  drainTimeoutSeconds?: string;
  logLevel: LogLevel;
}

export function registerApiserver(program: Command): void {
  program
    .command("apiserver")
    .description(
      "serve the agents' API over HTTPS (authenticated shadow writes, cordon/drain, LB exclusion) and the CRD conversion webhook",
    )
    .option(
      "--namespace <ns>",
      "brupop's namespace (default: the pod's, from the service-account mount)",
      parseNamespace("--namespace"),
    )
    .option(
      "--tls-dir <dir>",
      "directory with tls.crt and tls.key (reloaded when they change)",
      DEFAULT_TLS_DIR,
    )
    .option("--host <addr>", "address to bind (default: all addresses of the cluster's IP family)")
    .option(
      "--drain-timeout-seconds <n>",
      "deadline of one cordon-and-drain (env DRAIN_TIMEOUT_SECONDS; default 600)",
    )
    .option("--log-level <level>", LOG_LEVELS.join("|"), parseLogLevel, "info")
    .action(async (flags: Flags) => {
      const config = loadApiserverConfig(flags);
      const logger = createLogger({ name: "apiserver", level: flags.logLevel });
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromDefault();
      const server = await Apiserver.start({
        kubeConfig,
        namespace: config.namespace,
        tlsDir: config.tlsDir,
        port: config.port,
        host: config.host,
        logger,
        drain: { timeoutMs: config.drainTimeoutMs },
        processMetrics: true,
      });
      await new Promise<void>((resolve) => {
        const onSignal = (signal: string): void => {
          logger.info({ signal }, "shutting down");
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
          resolve();
        };
        process.on("SIGINT", onSignal);
        process.on("SIGTERM", onSignal);
      });
      await server.close();
    });
}
