// Runs the `brupop` CLI: src/cli/main.ts (the `brupop` bin) and the bundled entries of
// tools/bundle.ts both call this, so the built JS and the bundles behave the same (one error
// style and the exit codes of docs/cli.md, from ./exit.ts).
//
// `brupop agent` with nothing but the agent's flags (what the DaemonSet runs) skips commander: it
// is not loaded at all on that path (issue 30: the agent's start under a 10m CPU limit). Anything
// else — `--help`, an unknown flag, a missing value — goes to the program, which answers as always.
import { runReported, runCli as runProgram } from "./exit.js";

export async function runCli(argv: readonly string[]): Promise<void> {
  if (argv[2] === "agent") {
    const { agentFlagsFromArgv, runAgent } = await import("./commands/agent-run.js");
    const flags = agentFlagsFromArgv(argv.slice(3));
    if (flags !== undefined) return runReported(() => runAgent(flags));
  }
  const { buildProgram } = await import("./program.js");
  await runProgram(await buildProgram(argv), argv, "node");
}
