// What the real-node e2e files share (test/e2e/realnodes.test.ts, realnode-single.test.ts): the
// skip switch, the image build, the simulated host's arguments and docs/install.md's "Without
// cert-manager" block run as a user would paste it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { symlink } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

import type { RealNodeCluster } from "../../src/testenv/realnode/cluster.js";

export const run = promisify(execFile);
export const ROOT = join(import.meta.dirname, "..", "..");

/** The skip reason when BRUPOP_SKIP_REALNODES=1 (never skipped silently), else false. */
export const REALNODES_SKIP =
  process.env["BRUPOP_SKIP_REALNODES"] === "1" ? "BRUPOP_SKIP_REALNODES=1" : false;

/** Builds (or reuses) brupop's image with tools/image/build.sh; returns its name (the last line). */
export async function buildImage(): Promise<string> {
  const { stdout } = await run("bash", [join(ROOT, "tools", "image", "build.sh")], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout.trim().split("\n").at(-1) ?? "";
}

/** `brupop simulate-host` arguments: on `from`, offering `to`, with short host command times. */
export function simulatedHostArgs(from: string, to: string, extra: readonly string[] = []): string[] {
  return [
    "--current-version",
    from,
    "--release",
    to,
    "--seed",
    "0",
    "--refresh-time",
    "100ms",
    "--prepare-time",
    "500ms",
    "--activate-time",
    "200ms",
    "--reboot-time",
    "3s",
    ...extra,
  ];
}

/** The "Without cert-manager" shell block of docs/install.md, as a user would paste it. */
export function installBlock(): string {
  const doc = readFileSync(join(ROOT, "docs", "install.md"), "utf8");
  const m = /### Without cert-manager[\s\S]*?```sh\n([\s\S]*?)```/.exec(doc);
  assert.ok(m?.[1] !== undefined, "docs/install.md lost its 'Without cert-manager' block");
  return m[1];
}

/** Runs the install block in `work` (with deploy/ linked in) against `cluster` (kubectl, helm on PATH). */
export async function runInstallBlock(cluster: RealNodeCluster, work: string): Promise<void> {
  await symlink(join(ROOT, "deploy"), join(work, "deploy"));
  await run("bash", ["-euo", "pipefail", "-c", installBlock()], {
    cwd: work,
    env: {
      ...process.env,
      KUBECONFIG: cluster.kubeconfigPath,
      PATH: `${cluster.binDir}:${process.env["PATH"] ?? ""}`,
    },
    maxBuffer: 16 * 1024 * 1024,
  });
}
