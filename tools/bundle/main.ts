#!/usr/bin/env node
// dist/bundle/main.js: the `brupop` launcher of the bundled build (tools/bundle.ts). The bundles
// next to it are external to this one: each require() below loads one file at run time.
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS output: plain requires */
import { bundleFor, type BundledComponent } from "./launcher.js";

const load: Record<BundledComponent | "cli", () => void> = {
  agent: () => void require("./agent.js"),
  controller: () => void require("./controller.js"),
  apiserver: () => void require("./apiserver.js"),
  cli: () => void require("./cli.js"),
};
load[bundleFor(process.argv)]();
