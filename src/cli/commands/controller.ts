import type { Command } from "commander";

export function registerController(program: Command): void {
  program
    .command("controller")
    .description("not built yet")
    .action(() => {
      process.stderr.write("brupop controller: not built yet\n");
      process.exitCode = 2;
    });
}
