// Runs the `brupop` CLI: src/cli/main.ts (the `brupop` bin) and the bundled entries of
// tools/bundle.ts both call this, so the built JS and the bundles behave the same (one error
// style and the exit codes of docs/cli.md, from ./exit.ts).
import { runCli as runProgram } from "./exit.js";
import { buildProgram } from "./program.js";

export async function runCli(argv: readonly string[]): Promise<void> {
  await runProgram(await buildProgram(argv), argv, "node");
}
