// `brupop controller`: a thin wrapper that reads the configuration (environment + flags), builds a
// Controller and runs it until SIGTERM/SIGINT, then stops cleanly (releasing the leader lease).
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { ControllerFlags } from "../../controller/settings.js";
import { BrupopError } from "../../errors.js";
import { SERVICE_ACCOUNT_NAMESPACE_FILE } from "../../k8s/access.js";
import { parseNamespace, parsePort } from "../options.js";

/** What commander hands the action (flag names camel-cased). */
interface CliOptions {
  namespace?: string;
  kubeconfig?: string;
  metricsPort?: number;
  leaderElect?: boolean;
  leaseName?: string;
  leaseDuration?: number;
  renewDeadline?: number;
  retryPeriod?: number;
  tickInterval?: number;
  logLevel?: string;
}

function parseNumber(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n)) {
      throw new BrupopError("BRUPOP_E_CONFIG", `${flag}: "${value}" is not a number`, { variable: flag });
    }
    return n;
  };
}

function readNamespaceFile(): string | undefined {
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, "utf8");
  } catch {
    return undefined;
  }
}

export function registerController(program: Command): void {
  program
    .command("controller")
    .description(
      "run the fleet controller: decides which nodes may update next and writes their shadow spec " +
        "(env: MAX_CONCURRENT_UPDATE, SCHEDULER_CRON_EXPRESSION, UPDATE_WINDOW_START/STOP, MY_NODE_NAME, " +
        "POD_NAME, TRACING_FILTER_DIRECTIVE)",
    )
    .option(
      "--namespace <ns>",
      "namespace of the shadows (default: the pod's service-account namespace)",
      parseNamespace("--namespace"),
    )
    .option(
      "--kubeconfig <path>",
      "kubeconfig file (default: in-cluster config, or $KUBECONFIG / ~/.kube/config)",
    )
    .option(
      "--metrics-port <port>",
      "port for /metrics and /healthz (default 8080)",
      parsePort("--metrics-port"),
    )
    .option(
      "--no-leader-elect",
      "do not use a leader Lease (only safe with exactly one replica; default: use one)",
    )
    .option("--lease-name <name>", "name of the leader Lease (default brupop-controller-leader)")
    .option(
      "--lease-duration <seconds>",
      "leader lease duration (default 15)",
      parseNumber("--lease-duration"),
    )
    .option(
      "--renew-deadline <seconds>",
      "leader stops acting if it could not renew for this long (default 10)",
      parseNumber("--renew-deadline"),
    )
    .option(
      "--retry-period <seconds>",
      "how often the lease is renewed / tried (default 2)",
      parseNumber("--retry-period"),
    )
    .option(
      "--tick-interval <ms>",
      "decision loop period in milliseconds (default 2000)",
      parseNumber("--tick-interval"),
    )
    .option(
      "--log-level <level>",
      "trace, debug, info, warn, error (default: TRACING_FILTER_DIRECTIVE or info)",
    )
    .action(async (opts: CliOptions) => {
      // Loaded here, not at the top, so other commands (the agent above all) do not pay for them.
      const [{ Controller }, { controllerSettings }, { loadKubeAccess }, { KubeRest }, { createLogger }] =
        await Promise.all([
          import("../../controller/controller.js"),
          import("../../controller/settings.js"),
          import("../../k8s/access.js"),
          import("../../k8s/rest.js"),
          import("../../log.js"),
        ]);
      const warnings: string[] = [];
      const flags: ControllerFlags = {
        namespace: opts.namespace,
        metricsPort: opts.metricsPort,
        leaderElect: opts.leaderElect,
        leaseName: opts.leaseName,
        leaseDurationSeconds: opts.leaseDuration,
        renewDeadlineSeconds: opts.renewDeadline,
        retryPeriodSeconds: opts.retryPeriod,
        tickIntervalMs: opts.tickInterval,
        logLevel: opts.logLevel,
      };
      const settings = controllerSettings(process.env, flags, new Date(), readNamespaceFile, (w) =>
        warnings.push(w),
      );
      const logger = createLogger({ level: settings.logLevel, name: "brupop-controller" });
      for (const w of warnings) logger.warn(w);

      const rest = new KubeRest(await loadKubeAccess(opts.kubeconfig));
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
        },
        { rest, logger },
      );
      await controller.start();
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once("SIGTERM", resolve);
        process.once("SIGINT", resolve);
      });
      logger.info({ signal }, "shutting down");
      await controller.stop({ releaseLease: true });
      rest.close();
    });
}
