// `npm run bundle`: one minified CommonJS file per component, so each process loads only the code
// it runs (docs/benchmarks.md, "Where the memory goes"; issue 21).
//
//   dist/bundle/main.js        the `brupop` launcher: picks the bundle from the subcommand
//   dist/bundle/agent.js       `brupop agent`       (no fastify, client-node, prom-client, typebox compiler)
//   dist/bundle/controller.js  `brupop controller`
//   dist/bundle/apiserver.js   `brupop apiserver`
//   dist/bundle/cli.js         every other subcommand, `--help` and errors (the whole program; not
//                              the kit: `demo` and `simulate-host` run from a checkout, src/cli/kit.ts)
//   dist/bundle/kube.js        @kubernetes/client-node, loaded by the three components only when a
//                              kubeconfig is involved (never in a pod: src/k8s/access.ts)
//   dist/bundle/warm-compile-cache.js  writes the bundles' compile cache next to them (image build;
//                              tools/bundle/compile-cache.ts), which main.js then uses
//   dist/bundle/package.json   {"type": "commonjs"}
//
// The image copies dist/bundle to /app/dist/cli, so `node /app/dist/cli/main.js agent` (the
// chart's command) runs the agent bundle. CommonJS, not ESM: Node's ESM loader costs ~1.5 MiB
// more, and an ESM `import "node:http"` loads Node's bundled undici (~12 MiB) with it.
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type BuildOptions, type Metafile, type Plugin } from "esbuild";
import { BUNDLED_COMPONENTS, type BundledComponent } from "./bundle/launcher.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const BUNDLE_DIR = join(root, "dist", "bundle");

const COMMAND_MODULE = /^\.\/commands\/([a-z-]+)\.js$/;

/**
 * In a component's bundle, program.ts's loaders of the other subcommands resolve to a module
 * that throws: the launcher never routes those words there, and their dependencies stay out.
 */
function onlyCommand(component: BundledComponent): Plugin {
  return {
    name: "only-command",
    setup(b) {
      b.onResolve({ filter: COMMAND_MODULE }, (args) => {
        const command = COMMAND_MODULE.exec(args.path)?.[1];
        if (!args.importer.endsWith(join("src", "cli", "program.ts")) || command === component)
          return undefined;
        return { path: command ?? args.path, namespace: "not-in-bundle" };
      });
      b.onLoad({ filter: /.*/, namespace: "not-in-bundle" }, (args) => ({
        contents: `throw new Error("brupop: \`${args.path}\` is not in the ${component} bundle (run dist/bundle/main.js)");`,
        loader: "js",
      }));
    },
  };
}

/**
 * Top-level requires of dependencies that only a path we never take uses, made lazy: commander
 * spawns child processes only for executable subcommands (we have none), pino starts a worker
 * thread only for transports (we log to stderr). ~3 MiB of RSS and ~15 ms of start-up CPU.
 * Also (issue 30): pino reads `worker_threads.isMainThread` only for an asynchronous destination
 * (ours is synchronous: src/log.ts), sonic-boom calls `assert` only on a bad file descriptor —
 * Node's `worker_threads` and `assert` modules cost ~4 and ~5 ms of CPU to load, ~1 s of the
 * agent's start under a 10m CPU limit. Every rule whose file matches applies.
 */
export const LAZY_REQUIRES: readonly { file: RegExp; from: string; to: string }[] = [
  {
    file: /[\\/]commander[\\/]lib[\\/]command\.js$/,
    from: "const childProcess = require('node:child_process');",
    to: "let lazyChildProcess; const childProcess = { spawn: (...a) => (lazyChildProcess ??= require('node:child_process')).spawn(...a) };",
  },
  {
    file: /[\\/]pino[\\/]lib[\\/]transport\.js$/,
    from: "const ThreadStream = require('thread-stream')",
    to: "let LazyThreadStream; const ThreadStream = function (...a) { LazyThreadStream ??= require('thread-stream'); return new LazyThreadStream(...a) }",
  },
  {
    file: /[\\/]pino[\\/]lib[\\/]tools\.js$/,
    from: "const { isMainThread } = require('worker_threads')",
    to: "const lazyWorkerThreads = { get isMainThread () { return require('worker_threads').isMainThread } }",
  },
  {
    file: /[\\/]pino[\\/]lib[\\/]tools\.js$/,
    from: "if (!opts.sync && isMainThread) {",
    to: "if (!opts.sync && lazyWorkerThreads.isMainThread) {",
  },
  // TypeBox's error reporting (issue 30): used only when a wire object fails its precompiled check
  // (src/model/validation.ts), and its date-time format only when a timestamp is checked; ~20 ms of
  // CPU at every agent's start otherwise. esbuild bundles a require() of these ESM modules as a
  // lazily initialised module.
  {
    file: /[\\/]src[\\/]model[\\/]validation\.ts$/,
    from: 'import { Errors } from "typebox/schema";',
    to: 'let lazyErrors; const Errors = (...a) => (lazyErrors ??= require("typebox/schema").Errors)(...a);',
  },
  {
    file: /[\\/]src[\\/]model[\\/]validators\.generated\.ts$/,
    from: 'import { IsDateTime } from "typebox/format";',
    to: 'let lazyIsDateTime; const IsDateTime = (v) => (lazyIsDateTime ??= require("typebox/format").IsDateTime)(v);',
  },
  {
    file: /[\\/]sonic-boom[\\/]index\.js$/,
    from: "const assert = require('assert')",
    to: "let lazyAssert; const assert = (...a) => (lazyAssert ??= require('assert'))(...a)",
  },
];

export const lazyRequires: Plugin = {
  name: "lazy-requires",
  setup(b) {
    const filter =
      /[\\/](((commander|pino)[\\/]lib[\\/][a-z]+|sonic-boom[\\/]index)\.js|src[\\/]model[\\/](validation|validators\.generated)\.ts)$/;
    b.onLoad({ filter }, async (args) => {
      const rules = LAZY_REQUIRES.filter((r) => r.file.test(args.path));
      if (rules.length === 0) return undefined;
      let text = await readFile(args.path, "utf8");
      for (const rule of rules) {
        // A dependency update that moves the line must be noticed, not silently bundled eagerly.
        if (!text.includes(rule.from))
          throw new Error(`lazy-requires: "${rule.from}" not found in ${args.path}`);
        text = text.replace(rule.from, rule.to);
      }
      return { contents: text, loader: args.path.endsWith(".ts") ? "ts" : "js" };
    });
  },
};

/** @kubernetes/client-node → the separate kube.js bundle, required only when it is imported. */
const kubeOutside: Plugin = {
  name: "kube-outside",
  setup(b) {
    b.onResolve({ filter: /^@kubernetes\/client-node$/ }, () => ({ path: "./kube.js", external: true }));
  },
};

export function common(entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: "node24",
    format: "cjs",
    minify: true,
    // Stack traces keep readable function and class names (and `constructor.name` checks work).
    keepNames: true,
    sourcemap: "linked",
    legalComments: "linked",
    // Dynamic import() of bundled code becomes a plain require: no ESM loader in the process.
    supported: { "dynamic-import": false },
    // import.meta has no CommonJS equivalent of its own; these are the uses in src/.
    define: {
      "import.meta.dirname": "__dirname",
      "import.meta.filename": "__filename",
      "import.meta.url": "__import_meta_url",
    },
    banner: { js: '"use strict";var __import_meta_url=require("node:url").pathToFileURL(__filename).href;' },
    // tr46 (under client-node) asks for the userland package as "punycode/"; esbuild would
    // otherwise pick Node's deprecated built-in, which prints a warning.
    alias: { punycode: "punycode/" },
    metafile: true,
    logLevel: "warning",
  };
}

export interface BundleReport {
  file: string;
  bytes: number;
  /** Every input, largest first (bytes in the output). */
  inputs: { input: string; bytes: number }[];
}

function report(out: string, meta: Metafile | undefined): BundleReport {
  const output = Object.entries(meta?.outputs ?? {}).find(([f]) => f.endsWith(`/${out}`) || f === out);
  const inputs = Object.entries(output?.[1].inputs ?? {})
    .map(([input, v]) => ({ input, bytes: v.bytesInOutput }))
    .sort((a, b) => b.bytes - a.bytes);
  return { file: out, bytes: output?.[1].bytes ?? 0, inputs };
}

/** Builds every bundle into `outDir` (default dist/bundle; emptied first). */
export async function bundle(outDir: string = BUNDLE_DIR): Promise<BundleReport[]> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const entry = join(root, "tools", "bundle", "entry.ts");
  const one = (opts: BuildOptions, out: string): Promise<BundleReport> =>
    build({ ...common(entry, join(outDir, out)), ...opts }).then((r) => report(out, r.metafile));
  const reports = await Promise.all([
    ...BUNDLED_COMPONENTS.map((c) =>
      one({ plugins: [onlyCommand(c), kubeOutside, lazyRequires] }, `${c}.js`),
    ),
    one({ plugins: [lazyRequires] }, "cli.js"),
    one({ entryPoints: [join(root, "tools", "bundle", "kube.ts")] }, "kube.js"),
    one(
      {
        entryPoints: [join(root, "tools", "bundle", "main.ts")],
        // The bundles it picks from are separate files next to it.
        external: ["./agent.js", "./controller.js", "./apiserver.js", "./cli.js"],
        sourcemap: false,
      },
      "main.js",
    ),
    one(
      { entryPoints: [join(root, "tools", "bundle", "warm-compile-cache.ts")], sourcemap: false },
      "warm-compile-cache.js",
    ),
  ]);
  await writeFile(join(outDir, "package.json"), `${JSON.stringify({ type: "commonjs" })}\n`);
  return reports;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const reports = await bundle();
  for (const r of reports) {
    const top = r.inputs
      .slice(0, 4)
      .map((i) => `${i.input.replace(/^node_modules\//, "")} ${(i.bytes / 1024).toFixed(0)} KiB`)
      .join(", ");
    process.stdout.write(
      `${relative(root, join(BUNDLE_DIR, r.file))}  ${(r.bytes / 1024).toFixed(0)} KiB  (${top})\n`,
    );
  }
}
