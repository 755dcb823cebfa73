import type { Command } from "commander";

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("not built yet")
    .action(() => {
      process.stderr.write("brupop demo: not built yet\n");
      process.exitCode = 2;
    });
}
