// `npm ci` runs this (package.json "prepare"): npm links the bins of dependencies into
// node_modules/.bin but never the project's own, so `npx brupop` would find nothing. This links
// the launchers there, next to tsc and eslint (package.json's `bin` names dist/, for an installed
// package and the image; in a checkout the launchers run the sources). Idempotent; never fails
// the install.
import { mkdirSync, readlinkSync, symlinkSync, unlinkSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const LAUNCHERS = { brupop: "bin/brupop.js", "kubectl-brupop": "bin/kubectl-brupop.js" };
const binDir = join(root, "node_modules", ".bin");
try {
  mkdirSync(binDir, { recursive: true });
  for (const [name, target] of Object.entries(LAUNCHERS)) {
    const link = join(binDir, name);
    const want = relative(binDir, join(root, target));
    let have;
    try {
      have = readlinkSync(link);
    } catch {
      have = undefined;
    }
    if (have === want) continue;
    if (have !== undefined) unlinkSync(link);
    symlinkSync(want, link);
  }
} catch (err) {
  process.stderr.write(`bin/link.js: could not link the brupop bins into node_modules/.bin: ${err}\n`);
}
