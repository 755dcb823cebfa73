// The real CLI as a user runs it, from the e2e files: `node --import tsx src/cli/main.ts ...` from the
// repository's root, in a child process.
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import type { FleetStatus } from "../../src/status/model.js";

export const REPO = resolve(import.meta.dirname, "../..");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The arguments of `node` that run `entry` (a path from the repository's root) through tsx. */
export const tsxArgs = (entry: string, args: readonly string[]): string[] => [
  "--import",
  "tsx",
  join(REPO, entry),
  ...args,
];

/** The arguments of `brupop status --kubeconfig K -n NS -o json ...more`. */
export const statusJsonArgs = (kubeconfig: string, ns: string, ...more: string[]): string[] => [
  "status",
  "--kubeconfig",
  kubeconfig,
  "-n",
  ns,
  "-o",
  "json",
  ...more,
];

/** `node` arguments that run `brupop status -o json ...more` (for a spawned `--watch`). */
export const statusJsonNodeArgs = (kubeconfig: string, ns: string, ...more: string[]): string[] =>
  tsxArgs("src/cli/main.ts", statusJsonArgs(kubeconfig, ns, ...more));

/** Runs `node --import tsx <entry> ...args` from the repo root. */
export function runCli(
  entry: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      tsxArgs(entry, args),
      { cwd: REPO, env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : null;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** `brupop status -o json` of namespace `ns`; rejects when it fails. */
export async function brupopStatusJson(kubeconfig: string, ns: string): Promise<FleetStatus> {
  const res = await runCli("src/cli/main.ts", statusJsonArgs(kubeconfig, ns));
  if (res.code !== 0) throw new Error(`brupop status failed: exit ${String(res.code)}\n${res.stderr}`);
  return JSON.parse(res.stdout) as FleetStatus;
}
