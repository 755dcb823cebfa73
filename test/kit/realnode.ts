// What the real-node e2e files share (test/e2e/realnodes.test.ts, realnode-single.test.ts): the
// skip switch, the image build, the simulated host's arguments and docs/install.md's "Without
// cert-manager" block run as a user would paste it.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

import type { RealNodeCluster } from "../../kit/testenv/realnode/cluster.js";
import { installBrupop } from "../../kit/testenv/realnode/install.js";

export const run = promisify(execFile);
export const ROOT = join(import.meta.dirname, "..", "..");

/** The skip reason when BRUPOP_SKIP_REALNODES=1 (never skipped silently), else false. */
export const REALNODES_SKIP =
  process.env["BRUPOP_SKIP_REALNODES"] === "1" ? "BRUPOP_SKIP_REALNODES=1" : false;

/** Builds (or reuses) brupop's image with tools/image/build.sh; returns its archive path. */
export { buildImage } from "../../kit/testenv/realnode/install.js";

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

/** Runs docs/install.md's "Without cert-manager" block against `cluster`, as a user would paste it. */
export function runInstallBlock(cluster: RealNodeCluster): Promise<void> {
  return installBrupop(cluster);
}

/** The kubelets' pulls of images from the cluster's registry (kit/testenv/registry.ts). */
export { imagePulls, type ImagePull } from "../../kit/testenv/registry.js";
