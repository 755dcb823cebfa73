import type { Command } from "commander";

export function registerAgent(program: Command): void {
  program
    .command("agent")
    .description("not built yet")
    .action(() => {
      process.stderr.write("brupop agent: not built yet\n");
      process.exitCode = 2;
    });
}
