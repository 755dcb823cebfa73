// `brupop accept NODE` (issue 25): accept a node's failure on the new version (docs/policy.md). A
// thin wrapper: flags → runAccept (src/status/accept.ts), which owns the logic and the exit code.
import type { Command } from "commander";
import { withClusterFlags } from "./status.js";

interface AcceptCliOptions {
  kubeconfig?: string;
  context?: string;
  namespace: string;
}

export function registerAccept(program: Command): void {
  withClusterFlags(
    program
      .command("accept")
      .description(
        "accept a node's failure on the new version (health gate or time limit after the reboot): it counts as up to date again and its group can finish",
      )
      .argument("<node>", "the node's name"),
  ).action(async (node: string, opts: AcceptCliOptions) => {
    const { runAccept } = await import("../../status/accept.js");
    process.exitCode = await runAccept(
      { ...opts, node },
      { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) },
    );
  });
}
