// Module-load cost: the RSS and V8 heap a fresh `node` gains by loading one module, after a forced
// GC, each in its own process. `tsx bench/module-rss.ts [spec...]` (default: the runtime
// dependencies, a few Node built-ins and the bundles' own modules). Loaded both ways a process can:
// ESM `import()` and CommonJS `require()` (the bundles are CommonJS; see docs/benchmarks.md).
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");

const DEFAULT_SPECS = [
  "node:http",
  "node:https",
  "node:tls",
  "pino",
  "commander",
  "semver",
  "yaml",
  "croner",
  "prom-client",
  "fastify",
  "typebox",
  "typebox/compile",
  "@kubernetes/client-node",
];

// Prints "<rss KiB> <heapUsed bytes>" before and after loading argv[1], after a forced GC each time.
const PROBE = `
const { readFileSync } = require("node:fs");
const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]);
const settle = () => new Promise((r) => setTimeout(r, 50)).then(() => { gc(); gc(); });
(async () => {
  await settle();
  const r0 = rss(), h0 = process.memoryUsage().heapUsed;
  if (process.argv[2] === "esm") await import(process.argv[1]); else require(process.argv[1]);
  await settle();
  console.log(JSON.stringify({ rss: rss() - r0, heap: process.memoryUsage().heapUsed - h0, base: r0 }));
})();
`;

export interface ModuleCost {
  spec: string;
  mode: "esm" | "cjs";
  rssKiB: number;
  heapKiB: number;
  baseKiB: number;
}

export function moduleCost(spec: string, mode: "esm" | "cjs"): ModuleCost {
  const r = spawnSync(process.execPath, ["--expose-gc", "-e", PROBE, spec, mode], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`${spec} (${mode}): ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { rss: number; heap: number; base: number };
  return { spec, mode, rssKiB: out.rss, heapKiB: Math.round(out.heap / 1024), baseKiB: out.base };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const specs = process.argv.length > 2 ? process.argv.slice(2) : DEFAULT_SPECS;
  process.stdout.write(
    "| module | RSS + (import) | RSS + (require) | heap + (require) |\n|---|---|---|---|\n",
  );
  for (const spec of specs) {
    const esm = moduleCost(spec, "esm");
    let cjs: ModuleCost | undefined;
    try {
      cjs = moduleCost(spec, "cjs");
    } catch {
      cjs = undefined;
    }
    const mib = (k: number): string => `${(k / 1024).toFixed(1)} MiB`;
    process.stdout.write(
      `| ${spec} | ${mib(esm.rssKiB)} | ${cjs === undefined ? "n/a" : mib(cjs.rssKiB)} | ${cjs === undefined ? mib(esm.heapKiB) : mib(cjs.heapKiB)} |\n`,
    );
  }
}
