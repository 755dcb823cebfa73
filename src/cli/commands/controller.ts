// `brupop controller`: a thin wrapper. Its flags and variables are the option table of
// src/controller/run/config.ts; it builds a Controller from the settings and runs it until
// SIGTERM/SIGINT (runService), then stops cleanly (releasing the leader lease).
import type { Command } from "commander";
import { addOptionTable, flagValues } from "../../config/options.js";
import { readServiceAccountNamespace } from "../../config/parsers.js";
import { CONTROLLER_OPTIONS } from "../../controller/run/config.js";
import { runService, whenStopped } from "../service.js";

export function registerController(program: Command): void {
  const cmd = program
    .command("controller")
    .description(
      "run the fleet controller: decides which nodes may update next and writes their shadow spec",
    );
  addOptionTable(cmd, CONTROLLER_OPTIONS).action(async (opts: Record<string, unknown>) => {
    // Loaded here, not at the top, so other commands (the agent above all) do not pay for them.
    const [{ Controller }, { controllerSettings }, { loadKubeAccess }, { KubeRest }, { createLogger }] =
      await Promise.all([
        import("../../controller/run/controller.js"),
        import("../../controller/run/settings.js"),
        import("../../k8s/access.js"),
        import("../../k8s/rest.js"),
        import("../../log.js"),
      ]);
    const warnings: string[] = [];
    const settings = controllerSettings(
      process.env,
      flagValues(CONTROLLER_OPTIONS, opts),
      new Date(),
      readServiceAccountNamespace,
      (w) => warnings.push(w),
    );
    const logger = createLogger({ level: settings.logLevel, name: "brupop-controller" });
    for (const w of warnings) logger.warn(w);

    const rest = new KubeRest(await loadKubeAccess(settings.kubeconfig));
    const controller = new Controller(
      {
        namespace: settings.namespace,
        maxConcurrent: settings.maxConcurrent,
        schedule: settings.schedule,
        controllerNodeName: settings.controllerNodeName,
        tickIntervalMs: settings.tickIntervalMs,
        http: { port: settings.metricsPort },
        leaderElection: settings.leaderElect
          ? {
              leaseName: settings.leaseName,
              ...(settings.podName !== undefined && { identity: settings.podName }),
              leaseDurationMs: settings.leaseDurationMs,
              renewDeadlineMs: settings.renewDeadlineMs,
              retryPeriodMs: settings.retryPeriodMs,
            }
          : null,
        defaultMetrics: true,
        ...settings.extras,
      },
      { rest, logger },
    );
    await runService(
      async (stop) => {
        await controller.start();
        await whenStopped(stop);
        await controller.stop({ releaseLease: true });
        rest.close();
      },
      { onSignal: "ok", stopping: (signal) => logger.info({ signal }, "shutting down") },
    );
  });
}
