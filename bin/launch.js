// Shared by bin/brupop.js and bin/kubectl-brupop.js. In a checkout (after `npm ci`) the TypeScript
// sources run through tsx, so `npx brupop …` works without a build and never runs a stale one;
// where the sources are absent (an installed package, the image) the compiled dist/ runs.
import { existsSync } from "node:fs";
import { fileURLToPath, URL } from "node:url";

/** @param {string} entry path under src/ or dist/ without extension, e.g. "cli/main" */
export async function launch(entry) {
  const source = new URL(`../src/${entry}.ts`, import.meta.url);
  if (existsSync(fileURLToPath(source))) {
    try {
      const { register } = await import("tsx/esm/api");
      register();
      await import(source.href);
      return;
    } catch (err) {
      // tsx missing (production install): fall through to dist/
      if (/** @type {{ code?: string }} */ (err).code !== "ERR_MODULE_NOT_FOUND") throw err;
    }
  }
  await import(new URL(`../dist/${entry}.js`, import.meta.url).href);
}
