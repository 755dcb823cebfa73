// Runs the `brupop` CLI: src/cli/main.ts (the `brupop` bin) and the bundled entries of
// tools/bundle.ts both call this, so the built JS and the bundles behave the same.
import { BrupopError } from "../errors.js";
import { buildProgram } from "./program.js";

export async function runCli(argv: readonly string[]): Promise<void> {
  try {
    await (await buildProgram(argv)).parseAsync(argv);
  } catch (err) {
    // Configuration and usage errors end the process with one clear line, not a stack trace.
    if (err instanceof BrupopError) {
      process.stderr.write(`brupop: ${err.code}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
