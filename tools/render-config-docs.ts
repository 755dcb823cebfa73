// Writes docs/configuration.md from the option tables; `--check` only says whether it is up to date.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CONFIGURATION_DOC, renderConfigurationDoc } from "../kit/deploy/config-docs.js";

const path = join(import.meta.dirname, "..", CONFIGURATION_DOC);
const text = await renderConfigurationDoc();
if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(path, "utf8");
  } catch {
    // missing: out of date
  }
  if (current !== text) {
    process.stderr.write(`error: ${CONFIGURATION_DOC} is out of date: run npm run config:docs\n`);
    process.exitCode = 1;
  }
} else {
  writeFileSync(path, text);
}
