// Node's compile cache for the bundles (issue 30): V8's code cache of each component's bundle,
// written once (at image build) so that a start reads the compiled code instead of compiling
// ~0.4–1.3 MiB of JavaScript again — what a pod under `limits.cpu: 10m` pays for in wall time.
//
// The cache is keyed by the bundle's absolute path, its contents, Node's version and V8's flags, so
// it is written where the bundles run (e.g. /app/dist/cli), by the node binary that runs them (one
// cache per image architecture), with each component's flags as the chart starts it. A cache that
// does not match is ignored (the start compiles as without one); nothing else depends on it.
//
// The launcher (tools/bundle/main.ts) uses `<bundle dir>/.compile-cache` when it exists.
//   dist/bundle/warm-compile-cache.js [<bundle dir> (default: its own) [component...]]
//   (bundled from warm-compile-cache.ts). V8 also keys the cache by uid: the image warms the agent
//   as root and the apiserver and controller as 1000, as the chart runs them (tools/image/build.sh).
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { BUNDLED_COMPONENTS, type BundledComponent } from "./launcher.js";

/** The cache directory the launcher looks for, next to the bundles. */
export const COMPILE_CACHE_DIR = ".compile-cache";

/** Node's flags per component as the chart starts it (they must match for V8 to take the cache). */
export const CHART_NODE_FLAGS: Readonly<Record<BundledComponent, readonly string[]>> = {
  agent: ["--max-semi-space-size=1"],
  controller: [],
  apiserver: [],
};

/**
 * Writes the compile cache of every component's bundle (or of `components`) in `bundleDir` into `cacheDir` (default
 * `<bundleDir>/.compile-cache`): each bundle is loaded once (`<component> --help`) with the chart's
 * flags and NODE_COMPILE_CACHE set. Returns the directory.
 */
export function warmCompileCache(
  bundleDir: string,
  cacheDir: string = join(bundleDir, COMPILE_CACHE_DIR),
  node: string = process.execPath,
  components: readonly BundledComponent[] = BUNDLED_COMPONENTS,
): string {
  for (const c of components) {
    execFileSync(node, [...CHART_NODE_FLAGS[c], join(bundleDir, "main.js"), c, "--help"], {
      env: { ...process.env, NODE_COMPILE_CACHE: cacheDir },
      stdio: "ignore",
    });
  }
  return cacheDir;
}
