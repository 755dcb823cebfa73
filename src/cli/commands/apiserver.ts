// `brupop apiserver`: a thin wrapper around src/apiserver/server.ts. Config is read and validated
// once here (APISERVER_INTERNAL_PORT, namespace from the service-account mount or --namespace, TLS
// dir); SIGTERM/SIGINT close the server gracefully. See docs/apiserver.md.
import type { Command } from "commander";
import type { LevelWithSilent } from "pino";
import { DEFAULT_TLS_DIR } from "../../apiserver/tls.js";
import { parseLogLevel } from "../../log.js";
import { parseLogLevelFlag, parseNamespace } from "../options.js";

interface Flags {
  namespace?: string;
  tlsDir: string;
  host?: string;
  drainTimeoutSeconds?: string;
  logLevel?: LevelWithSilent;
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
    .option(
      "--log-level <level>",
      "trace, debug, info, warn, error, off (default: TRACING_FILTER_DIRECTIVE or info)",
      parseLogLevelFlag(),
    )
    .action(async (flags: Flags) => {
      // Loaded here, not at the top: every other command would pay for fastify. In a pod the
      // service account is used directly (src/k8s/access.ts): client-node is not loaded at all.
      const [{ loadApiserverConfig }, { Apiserver }, { createLogger }, { loadKubeAccess }, { KubeRest }] =
        await Promise.all([
          import("../../apiserver/config.js"),
          import("../../apiserver/server.js"),
          import("../../log.js"),
          import("../../k8s/access.js"),
          import("../../k8s/rest.js"),
        ]);
      const config = loadApiserverConfig(flags);
      const level =
        flags.logLevel ?? parseLogLevel(process.env.TRACING_FILTER_DIRECTIVE, "TRACING_FILTER_DIRECTIVE");
      const logger = createLogger({ name: "apiserver", level });
      const rest = new KubeRest(await loadKubeAccess());
      const server = await Apiserver.start({
        rest,
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
      rest.close();
    });
}
