// `brupop agent` as a command line, for tests that run the agent as its own process.
import { existsSync } from "node:fs";
import { join } from "node:path";

const repoRoot = join(import.meta.dirname, "..", "..");

/** The built CLI if present, else the sources through tsx. */
export function agentCommand(): string[] {
  const built = join(repoRoot, "dist", "cli", "main.js");
  if (existsSync(built)) return [process.execPath, built, "agent"];
  return [process.execPath, "--import", "tsx", join(repoRoot, "src", "cli", "main.ts"), "agent"];
}
