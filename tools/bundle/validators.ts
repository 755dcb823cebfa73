// `npm run validators`: regenerates src/model/validators.generated.ts (the precompiled checks of
// every wire schema; src/model/validator-codegen.ts). `--check` exits 1 if the file is stale.
import { readFile, writeFile } from "node:fs/promises";
import { currentValidatorModule, GENERATED_FILE } from "../../src/model/validator-codegen.js";

// The modules that make validators (each registers its schemas when loaded); the same list is in
// src/model/validation.test.ts, whose "are current" test fails if they part.
const want = await currentValidatorModule(async () => {
  await import("../../src/model/shadow.js");
  await import("../../src/bottlerocket/types.js");
});
const have = await readFile(GENERATED_FILE, "utf8").catch(() => "");
if (process.argv.includes("--check")) {
  if (want !== have) {
    process.stderr.write("src/model/validators.generated.ts is stale: run `npm run validators`\n");
    process.exit(1);
  }
} else if (want !== have) {
  await writeFile(GENERATED_FILE, want);
  process.stdout.write("wrote src/model/validators.generated.ts\n");
}
