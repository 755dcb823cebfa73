import type { Command } from "commander";

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("not built yet")
    .action(() => {
      process.stderr.write("brupop status: not built yet\n");
      process.exitCode = 2;
    });
}
