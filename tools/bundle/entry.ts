// The entry of every bundle but the launcher: the CLI exactly as src/cli/main.ts runs it. In a
// component's bundle the other subcommands are left out (tools/bundle.ts, onlyCommand).
import { runCli } from "../../src/cli/run.js";

void runCli(process.argv);
