// `npm run generate`: regenerates every file derived from code, in dependency order:
//   src/model/validators.generated.ts   (npm run validators: the precompiled checks of the schemas)
//   deploy/crds/*.yaml                  (the two CRDs, as `brupop crd` and `brupop crd --policy` print them)
//   the charts' CRD templates and bottlerocket-update-operator.yaml   (npm run manifest:render; needs helm)
//   docs/configuration.md               (npm run config:docs)
// `npm run generate:check` (part of `npm test`) writes nothing and exits 1 naming what is stale.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { renderCrdYaml } from "../src/model/crd.js";
import { renderPolicyCrdYaml } from "../src/model/policy-crd.js";

const root = dirname(import.meta.dirname);
const check = process.argv.includes("--check");

/** The generators with a script of their own, each taking --check. */
const SCRIPTS = ["tools/bundle/validators.ts", "tools/render-manifest.ts", "tools/render-config-docs.ts"];

/** The checked-in CRDs (the tests compare the same renderings). */
const CRDS: [string, () => string][] = [
  ["deploy/crds/bottlerocketshadow-crd.yaml", () => renderCrdYaml()],
  ["deploy/crds/updatepolicy-crd.yaml", () => renderPolicyCrdYaml()],
];

function read(path: string): string | undefined {
  try {
    return readFileSync(join(root, path), "utf8");
  } catch {
    return undefined;
  }
}

const stale: string[] = [];
const run = (script: string): void => {
  const args = ["--import", "tsx", script, ...(check ? ["--check"] : [])];
  const res = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
  if (res.status !== 0) stale.push(script);
};

run(SCRIPTS[0] as string);
for (const [path, render] of CRDS) {
  const want = render();
  if (read(path) === want) continue;
  if (check) stale.push(path);
  else {
    writeFileSync(join(root, path), want);
    process.stdout.write(`wrote ${path}\n`);
  }
}
for (const script of SCRIPTS.slice(1)) run(script);

if (stale.length > 0) {
  process.stderr.write(
    check ? `stale: ${stale.join(", ")}; run \`npm run generate\`\n` : `failed: ${stale.join(", ")}\n`,
  );
  process.exitCode = 1;
}
