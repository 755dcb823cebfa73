#!/usr/bin/env node
import { runCli } from "./exit.js";
import { buildProgram } from "./program.js";

await runCli(await buildProgram(process.argv), process.argv, "node");
