// The agent's start under its pod limits (10m CPU), alone: a narrow measurement for issue 30 that
// does not need the whole bench. Each variant is started `--runs` times (interleaved), from no
// shadow to its first status; prints each run and the medians (wall time and CPU user + sys).
//
//   npx tsx bench/agent-start.ts [--runs 3] [--no-cgroups] [--compare-bundle <dir>]
//
// --compare-bundle adds the chart's flags with another build's bundles (e.g. a copy of main's
// dist/bundle), interleaved with the others: a before/after of a change under the same load.
//
// Variants: `node -e 0` (Node's own start, to its exit), the floor (bench/children/start-floor/floor.js:
// only the network work of the first report, plain JavaScript), the chart's flags, without and with
// Node's compile cache (tools/bundle/compile-cache.ts) — see docs/benchmarks.md, "The agent's start
// under a 10m CPU limit". All under the same cgroup limits, with the same flags and environment.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { median } from "../kit/bench/rollout.js";
import { measureAgentStart, type StartVariant } from "./footprint.js";
import { CHART_NODE_FLAGS, warmCompileCache } from "../tools/bundle/compile-cache.js";
import { BUNDLE_DIR } from "../tools/bundle.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    "no-cgroups": { type: "boolean", default: false },
    "compare-bundle": { type: "string" },
  },
});
const runs = Number(values.runs);
const cache = warmCompileCache(BUNDLE_DIR, await mkdtemp(join(tmpdir(), "brupop-compile-cache-")));
// The cache is written under the chart's flags (CHART_NODE_FLAGS): V8 takes it only under those.
const floor = join(dirname(fileURLToPath(import.meta.url)), "children", "start-floor", "floor.js");
const variants: StartVariant[] = [
  { name: "node -e 0", flags: CHART_NODE_FLAGS.agent, exitArgs: ["-e", "0"] },
  { name: "floor", flags: CHART_NODE_FLAGS.agent, script: floor },
  { name: "chart flags", flags: CHART_NODE_FLAGS.agent },
  { name: "chart flags + compile cache", flags: CHART_NODE_FLAGS.agent, env: { NODE_COMPILE_CACHE: cache } },
];
const other = values["compare-bundle"];
if (other !== undefined) {
  variants.push({
    name: `chart flags, ${other}`,
    flags: CHART_NODE_FLAGS.agent,
    script: join(other, "main.js"),
  });
}
const figures = await measureAgentStart({ variants, runs, cgroups: values["no-cgroups"] !== true });
for (const v of variants) {
  const mine = figures.filter((f) => f.variant === v.name);
  process.stdout.write(
    `${v.name}: start median ${median(mine.map((f) => f.startS))} s, CPU median ${median(mine.map((f) => f.startCpuS))} s (${mine.length} runs)\n`,
  );
}
