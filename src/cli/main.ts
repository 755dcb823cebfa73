#!/usr/bin/env node
import { BrupopError } from "../errors.js";
import { buildProgram } from "./program.js";

try {
  await (await buildProgram(process.argv)).parseAsync(process.argv);
} catch (err) {
  // Configuration and usage errors end the process with one clear line, not a stack trace.
  if (err instanceof BrupopError) {
    process.stderr.write(`brupop: ${err.code}: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
