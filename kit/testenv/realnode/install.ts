// brupop installed on a real-node cluster the way docs/install.md tells a user ("Without
// cert-manager": openssl-made secrets, both charts with helm), plus the project's image built by
// `npm run image` (tools/image/build.sh, cached). Shared by `brupop demo --real-nodes` and the pod
// footprint bench; test/e2e/realnodes*.test.ts run the same documented block.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { BrupopError } from "../../../src/errors.js";
import { toolsDir } from "../paths.js";
import type { RealNodeCluster } from "./cluster.js";

const run = promisify(execFile);

export const BRUPOP_NAMESPACE = "brupop-bottlerocket-aws";

/** The checkout's root (where docs/, deploy/ and tools/ are). */
export function checkoutRoot(): string {
  return dirname(dirname(toolsDir()));
}

/** docs/install.md's "Without cert-manager" shell block, as written. */
export function installBlockFromDocs(root: string = checkoutRoot()): string {
  const doc = readFileSync(join(root, "docs", "install.md"), "utf8");
  const m = /### Without cert-manager[\s\S]*?```sh\n([\s\S]*?)```/.exec(doc);
  if (m?.[1] === undefined) {
    throw new BrupopError("BRUPOP_E_TESTENV", "docs/install.md lost its 'Without cert-manager' block");
  }
  return m[1];
}

/** Builds (or reuses from its cache) the project's image; resolves to its docker-archive path. */
export async function buildImage(root: string = checkoutRoot()): Promise<string> {
  const { stdout } = await run("bash", [join(root, "tools", "image", "build.sh")], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const image = stdout.trim().split("\n").at(-1) ?? "";
  if (image === "") throw new BrupopError("BRUPOP_E_TESTENV", "tools/image/build.sh printed no image path");
  return image;
}

/** helm `--set` value escaping (commas and backslashes are separators there). */
export function helmSetValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll(",", "\\,");
}

type Target = Pick<RealNodeCluster, "kubeconfigPath" | "binDir">;

function toolEnv(cluster: Target): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KUBECONFIG: cluster.kubeconfigPath,
    PATH: `${cluster.binDir}:${process.env["PATH"] ?? ""}`,
  };
}

/**
 * Runs docs/install.md's block against `cluster` (kubectl, helm and openssl on PATH), then, when
 * `values` are given, sets them on the operator chart (setBrupopValues).
 */
export async function installBrupop(
  cluster: Target,
  values: Readonly<Record<string, string>> = {},
  root: string = checkoutRoot(),
): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "brupop-install-"));
  try {
    await symlink(join(root, "deploy"), join(work, "deploy"));
    await run("bash", ["-euo", "pipefail", "-c", installBlockFromDocs(root)], {
      cwd: work,
      env: toolEnv(cluster),
      maxBuffer: 16 * 1024 * 1024,
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  await setBrupopValues(cluster, values, root);
}

/** `helm upgrade --reuse-values --set-string` of the operator chart (nothing when `values` is empty). */
export async function setBrupopValues(
  cluster: Target,
  values: Readonly<Record<string, string>>,
  root: string = checkoutRoot(),
): Promise<void> {
  const sets = Object.entries(values).flatMap(([k, v]) => ["--set-string", `${k}=${helmSetValue(v)}`]);
  if (sets.length === 0) return;
  const chart = join(root, "deploy", "charts", "bottlerocket-update-operator");
  await run("helm", ["upgrade", "brupop-operator", chart, "--reuse-values", ...sets], {
    env: toolEnv(cluster),
    maxBuffer: 16 * 1024 * 1024,
  });
}
