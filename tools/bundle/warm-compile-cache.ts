// dist/bundle/warm-compile-cache.js: writes the bundles' compile cache next to them (see
// compile-cache.ts). In the image, after the bundles are in place:
// `node /app/dist/cli/warm-compile-cache.js [<bundle dir> [component...]]` (default: all three).
import { BUNDLED_COMPONENTS, type BundledComponent } from "./launcher.js";
import { warmCompileCache } from "./compile-cache.js";

const [dir, ...names] = process.argv.slice(2);
const unknown = names.filter((n) => !(BUNDLED_COMPONENTS as readonly string[]).includes(n));
if (unknown.length > 0) {
  process.stderr.write(
    `warm-compile-cache: unknown component(s) ${unknown.join(", ")} (known: ${BUNDLED_COMPONENTS.join(", ")})\n`,
  );
  process.exit(2);
}
const components = names.length > 0 ? (names as BundledComponent[]) : BUNDLED_COMPONENTS;
process.stdout.write(
  `${warmCompileCache(dir ?? import.meta.dirname, undefined, process.execPath, components)}\n`,
);
