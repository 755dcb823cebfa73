// `brupop apiserver`: a thin wrapper around src/apiserver/server.ts. Its flags and variables are the
// option table of src/apiserver/config.ts; SIGTERM/SIGINT close the server gracefully (runService).
// See docs/apiserver.md and docs/configuration.md.
import type { Command } from "commander";
import { APISERVER_OPTIONS } from "../../apiserver/config.js";
import { addOptionTable, flagValues } from "../../config/options.js";
import { runService, whenStopped } from "../service.js";

export function registerApiserver(program: Command): void {
  const cmd = program
    .command("apiserver")
    .description(
      "serve the agents' API over HTTPS (authenticated shadow writes, cordon/drain, LB exclusion) and the CRD conversion webhook",
    );
  addOptionTable(cmd, APISERVER_OPTIONS);
  cmd.action(async (opts: Record<string, unknown>) => {
    // Loaded here, not at the top: every other command would pay for fastify and client-node.
    const [{ loadApiserverConfig }, { Apiserver }, { createLogger }, { loadKubeAccess }] = await Promise.all([
      import("../../apiserver/config.js"),
      import("../../apiserver/server.js"),
      import("../../log.js"),
      import("../../k8s/access.js"),
    ]);
    const config = loadApiserverConfig(flagValues(APISERVER_OPTIONS, opts));
    const logger = createLogger({ name: "apiserver", level: config.logLevel });
    // Before anything else: no usable cluster access is one line and exit 2, not a retry loop.
    const kubeConfig = await loadKubeAccess();
    await runService(
      async (stop) => {
        const server = await Apiserver.start({
          kubeConfig,
          namespace: config.namespace,
          tlsDir: config.tlsDir,
          port: config.port,
          host: config.host,
          logger,
          drain: { timeoutMs: config.drainTimeoutMs, policy: config.drainPolicy },
          marks: config.marks,
          processMetrics: true,
        });
        await whenStopped(stop);
        await server.close();
      },
      { onSignal: "ok", stopping: (signal) => logger.info({ signal }, "shutting down") },
    );
  });
}
