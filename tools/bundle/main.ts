#!/usr/bin/env node
// dist/bundle/main.js: the `brupop` launcher of the bundled build (tools/bundle.ts). The bundles
// next to it are external to this one: each require() below loads one file at run time.
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS output: plain requires */
import { existsSync } from "node:fs";
import { enableCompileCache } from "node:module";
import { join } from "node:path";
import { bundleFor, type BundledComponent } from "./launcher.js";

// The bundles' compile cache, when the image ships one (tools/bundle/compile-cache.ts; issue 30):
// V8 reads the compiled code instead of compiling the bundle again. NODE_COMPILE_CACHE wins.
const cache = join(__dirname, ".compile-cache");
if (process.env["NODE_COMPILE_CACHE"] === undefined && existsSync(cache)) enableCompileCache(cache);

const load: Record<BundledComponent | "cli", () => void> = {
  agent: () => void require("./agent.js"),
  controller: () => void require("./controller.js"),
  apiserver: () => void require("./apiserver.js"),
  cli: () => void require("./cli.js"),
};
load[bundleFor(process.argv)]();
