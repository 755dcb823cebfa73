// dist/bundle/warm-compile-cache.js: writes the bundles' compile cache next to them (see
// compile-cache.ts). In the image, after the bundles are in place: `node /app/dist/cli/warm-compile-cache.js`.
import { warmCompileCache } from "./compile-cache.js";

process.stdout.write(`${warmCompileCache(process.argv[2] ?? import.meta.dirname)}\n`);
