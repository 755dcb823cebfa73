// brupop installed on a real-node cluster the way docs/install.md tells a user ("Without
// cert-manager": openssl-made secrets, both charts with helm, from the cluster's OCI registry when
// it has one: image and charts pushed there first), plus the project's image built by
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

type Target = Pick<RealNodeCluster, "kubeconfigPath" | "binDir"> & Partial<Pick<RealNodeCluster, "registry">>;

/** The charts' folder names under deploy/charts (both packaged at version 0.1.0). */
const CHARTS = ["bottlerocket-shadow", "bottlerocket-update-operator"] as const;

/** The operator chart's default `image` (what `buildImage`'s archive is tagged). */
export function defaultChartImage(root: string = checkoutRoot()): string {
  const values = readFileSync(
    join(root, "deploy", "charts", "bottlerocket-update-operator", "values.yaml"),
    "utf8",
  );
  const m = /^image: "([^"]+)"$/m.exec(values);
  if (m?.[1] === undefined)
    throw new BrupopError("BRUPOP_E_TESTENV", "the operator chart lost its image value");
  return m[1];
}

/** docs/install.md's block with its `charts=` and `image=` lines set as a user edits them. */
export function editInstallBlock(block: string, charts: string, image: string): string {
  const set = (text: string, name: string, value: string): string => {
    const re = new RegExp(`^${name}=.*$`, "m");
    if (!re.test(text))
      throw new BrupopError("BRUPOP_E_TESTENV", `docs/install.md's block lost its ${name}= line`);
    return text.replace(re, () => `${name}='${value}'`);
  };
  return set(set(block, "charts", charts), "image", image);
}

/**
 * With a registry: pushes the image (`npm run image -- --push`, every architecture) and both
 * charts (`helm package` + `helm push`) to it, as docs/install.md tells a user. Resolves to the
 * block's `charts=` and `image=` values (the checkout's folder and the imported image otherwise).
 */
async function publish(
  cluster: Target,
  work: string,
  root: string,
): Promise<{ charts: string; image: string }> {
  const registry = cluster.registry;
  if (registry === undefined) return { charts: "deploy/charts", image: defaultChartImage(root) };
  const image = `${registry.host}/${defaultChartImage(root).replace(/^.*\//, "")}`;
  await run("bash", [join(root, "tools", "image", "build.sh"), "--push", image], {
    env: { ...process.env, REGISTRY_CA_DIR: registry.caDir },
    maxBuffer: 64 * 1024 * 1024,
  });
  const env = toolEnv(cluster);
  await run("helm", ["package", ...CHARTS.map((c) => join(root, "deploy", "charts", c)), "-d", work], {
    env,
  });
  for (const c of CHARTS) {
    await run(
      "helm",
      ["push", join(work, `${c}-0.1.0.tgz`), `oci://${registry.host}/charts`, "--ca-file", registry.caFile],
      {
        env,
      },
    );
  }
  return { charts: `oci://${registry.host}/charts`, image };
}

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
    const { charts, image } = await publish(cluster, work, root);
    const env = toolEnv(cluster);
    // helm trusts the test registry's CA as a user's machine trusts theirs (docs/install.md).
    if (cluster.registry !== undefined) env["SSL_CERT_FILE"] = cluster.registry.caFile;
    await run(
      "bash",
      ["-euo", "pipefail", "-c", editInstallBlock(installBlockFromDocs(root), charts, image)],
      {
        cwd: work,
        env,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
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
