// Regenerates the install artifacts derived from code and charts:
//   deploy/charts/bottlerocket-shadow/templates/custom-resource-definition.yaml  (from src/model/crd.ts)
//   bottlerocket-update-operator.yaml                                            (helm template of both charts)
//
//   npx tsx tools/render-manifest.ts           write them
//   npx tsx tools/render-manifest.ts --check   exit 1 if either is stale (nothing written)
//
// helm comes from the testenv cache (`npm run testenv:build`); override with --helm PATH or
// BRUPOP_HELM.
import { accessSync, constants } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";

import { Helm } from "../kit/deploy/helm.js";
import { BrupopError } from "../src/errors.js";
import {
  crdTemplateArtifact,
  policyCrdTemplateArtifact,
  renderStaticManifest,
  STATIC_MANIFEST_PATH,
} from "../kit/deploy/manifest.js";
import { binDir } from "../kit/testenv/paths.js";

const root = dirname(import.meta.dirname);

function helmBinary(flag: string | undefined): string {
  const path = flag ?? process.env["BRUPOP_HELM"] ?? join(binDir(), "helm");
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new BrupopError(
      "BRUPOP_E_TESTENV",
      `helm not found at ${path}: run \`npm run testenv:build\` or pass --helm PATH`,
    );
  }
  return path;
}

async function current(path: string): Promise<string | undefined> {
  return readFile(join(root, path), "utf8").catch(() => undefined);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { check: { type: "boolean", default: false }, helm: { type: "string" } },
  });
  const check = values.check === true;
  const stale: string[] = [];
  const emit = async (path: string, content: string): Promise<void> => {
    if ((await current(path)) === content) return;
    stale.push(path);
    if (!check) await writeFile(join(root, path), content);
  };

  const [crdPath, crdTemplate] = crdTemplateArtifact();
  await emit(crdPath, crdTemplate);
  const [policyPath, policyTemplate] = policyCrdTemplateArtifact();
  await emit(policyPath, policyTemplate);
  if (check && stale.length > 0) {
    process.stderr.write(
      `stale: ${stale.join(", ")} (the manifest is rendered from it, so run without --check)\n`,
    );
    return 1;
  }

  const helm = await Helm.create(helmBinary(values.helm));
  try {
    await emit(STATIC_MANIFEST_PATH, await renderStaticManifest(helm, root));
  } finally {
    await helm.close();
  }

  if (check) {
    for (const path of stale) process.stderr.write(`stale: ${path}\n`);
    if (stale.length > 0) process.stderr.write("run `npx tsx tools/render-manifest.ts` to regenerate\n");
    return stale.length > 0 ? 1 : 0;
  }
  process.stdout.write(stale.length > 0 ? `wrote ${stale.join(", ")}\n` : "install artifacts are current\n");
  return 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  if (!(err instanceof BrupopError)) throw err;
  process.stderr.write(`render-manifest: ${err.message}\n`);
  process.exitCode = 2;
}
