// `brupop accept NODE` (issue 25): accept a node's failure on the new version (docs/policy.md). A
// thin wrapper: flags → runAccept (src/status/accept.ts), which owns the logic and the exit code.
import { Option, type Command } from "commander";
import { DEFAULT_NAMESPACE } from "../../model/constants.js";
import { namespaceArg } from "./status.js";

interface AcceptCliOptions {
  kubeconfig?: string;
  context?: string;
  namespace: string;
}

export function registerAccept(program: Command): void {
  program
    .command("accept")
    .description(
      "accept a node's failure on the new version (health gate or time limit after the reboot): it counts as up to date again and its group can finish",
    )
    .argument("<node>", "the node's name")
    .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
    .option("--context <name>", "kubeconfig context to use (default: the current context)")
    .addOption(
      new Option("-n, --namespace <ns>", "namespace brupop runs in")
        .default(DEFAULT_NAMESPACE)
        .argParser(namespaceArg),
    )
    .action(async (node: string, opts: AcceptCliOptions) => {
      const { runAccept } = await import("../../status/accept.js");
      process.exitCode = await runAccept(
        { ...opts, node },
        { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) },
      );
    });
}
