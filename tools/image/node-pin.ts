// The Node binary's pin: tools/image/node.sha256 holds, in `sha256sum` format, the sha256 of each
// node-linux-<cpu> tarball the image build downloads; build.sh runs
// `tsx tools/image/node-pin.ts <tarball>` before unpacking one (npm's own integrity check only
// proves the tarball is what the registry serves today).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";

import { BrupopError } from "../../src/errors.js";

export const PIN_FILE = join(import.meta.dirname, "node.sha256");

/** `<64 hex>  <file name>` lines (comments and blank lines skipped) as file name -> sha256. */
export function parsePins(text: string): Map<string, string> {
  const pins = new Map<string, string>();
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^([0-9a-f]{64}) [ *]?(\S+)$/.exec(line);
    if (m?.[1] === undefined || m[2] === undefined) {
      throw new BrupopError(
        "BRUPOP_E_BUILD_PIN",
        `pin file line ${String(i + 1)} is not '<sha256>  <file>': ${line}`,
      );
    }
    pins.set(m[2], m[1]);
  });
  return pins;
}

/** Throws BRUPOP_E_BUILD_PIN naming the file and both digests unless `actual` is the pinned sha256 of `file`. */
export function checkPin(pins: ReadonlyMap<string, string>, file: string, actual: string): void {
  const name = basename(file);
  const pinned = pins.get(name);
  if (pinned === undefined) {
    throw new BrupopError(
      "BRUPOP_E_BUILD_PIN",
      `${name} has no pinned sha256 (its sha256 is ${actual}); add '${actual}  ${name}' to ${PIN_FILE} after checking it`,
      { file: name, actual },
    );
  }
  if (pinned !== actual) {
    throw new BrupopError(
      "BRUPOP_E_BUILD_PIN",
      `${name}: sha256 is ${actual}, ${PIN_FILE} pins ${pinned}; delete the download and retry, or check the new pin`,
      { file: name, actual, pinned },
    );
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (file === undefined)
    throw new Error("usage: tsx tools/image/node-pin.ts <node-linux-<cpu>-<version>.tgz>");
  const actual = createHash("sha256").update(readFileSync(file)).digest("hex");
  try {
    checkPin(parsePins(readFileSync(PIN_FILE, "utf8")), file, actual);
  } catch (e) {
    process.stderr.write(`image-build: ERROR: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
