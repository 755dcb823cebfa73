import type { Command } from "commander";

export function registerSimulateHost(program: Command): void {
  program
    .command("simulate-host")
    .description("not built yet")
    .action(() => {
      process.stderr.write("brupop simulate-host: not built yet\n");
      process.exitCode = 2;
    });
}
