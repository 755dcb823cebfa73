import type { Command } from "commander";

export function registerApiserver(program: Command): void {
  program
    .command("apiserver")
    .description("not built yet")
    .action(() => {
      process.stderr.write("brupop apiserver: not built yet\n");
      process.exitCode = 2;
    });
}
