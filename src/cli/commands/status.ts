// `brupop status` (and, through src/cli/kubectl-brupop.ts, `kubectl brupop`): the fleet at a glance.
// A thin wrapper: flags → runStatus (src/status/run.ts), which owns the logic and the exit code.
import { InvalidArgumentError, Option, type Command } from "commander";
import { isNamespaceName } from "../../config/parsers.js";
import { DEFAULT_NAMESPACE } from "../../model/constants.js";
import { OUTPUT_FORMATS, type OutputFormat } from "../../status/output.js";
import { EXIT } from "../exit.js";
import { runService } from "../service.js";
import { terminalOf } from "../../status/screen.js";

interface StatusCliOptions {
  kubeconfig?: string;
  context?: string;
  namespace: string;
  output: OutputFormat;
  watch?: boolean;
}

function namespaceArg(value: string): string {
  if (!isNamespaceName(value)) {
    throw new InvalidArgumentError("not a valid namespace name.");
  }
  return value;
}

/** --kubeconfig, --context and -n/--namespace: how the user commands (status, accept) find brupop. */
export function withClusterFlags(cmd: Command): Command {
  return cmd
    .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
    .option("--context <name>", "kubeconfig context to use (default: the current context)")
    .addOption(
      new Option("-n, --namespace <ns>", "namespace brupop runs in")
        .default(DEFAULT_NAMESPACE)
        .argParser(namespaceArg),
    );
}

/** Adds the status flags and action to `cmd` (shared by `brupop status` and `kubectl-brupop`). */
export function configureStatusCommand(cmd: Command): Command {
  return withClusterFlags(
    cmd.description(
      "show the managed nodes: state, version, crash count, cordoned, and why each is (not) updating",
    ),
  )
    .addOption(
      new Option("-o, --output <format>", "output format").choices([...OUTPUT_FORMATS]).default("table"),
    )
    .option("-w, --watch", "keep watching and re-render on every change (Ctrl-C to stop)")
    .action(async (opts: StatusCliOptions) => {
      const { runStatus } = await import("../../status/run.js");
      // `--watch` ends only when interrupted: 130 for Ctrl-C, 143 for SIGTERM (docs/cli.md).
      await runService(
        async (stop) => {
          const code = await runStatus(opts, {
            out: (t) => process.stdout.write(t),
            err: (t) => process.stderr.write(t),
            terminal: terminalOf(process.stdout),
            signal: stop,
            debug: process.env["BRUPOP_DEBUG"] === "1",
          });
          return code === EXIT.ok && stop.aborted ? EXIT.interrupted : code;
        },
        { onSignal: "signal" },
      );
    });
}

export function registerStatus(program: Command): void {
  configureStatusCommand(program.command("status"));
}
