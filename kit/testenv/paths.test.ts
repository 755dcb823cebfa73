import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { isBrupopError } from "../../src/errors.js";
import { BINARIES, binDir, cacheRoot, KEY_FILES, requireBinaries, toolsDir, versionKey } from "./paths.js";

describe("testenv paths", () => {
  const scratch = mkdtempSync(join(tmpdir(), "brupop-paths-"));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it("computes the same key as tools/testenv/key.sh", () => {
    const fromShell = execFileSync("bash", [join(toolsDir(), "key.sh")], { encoding: "utf8" }).trim();
    assert.equal(versionKey(), fromShell);
    assert.match(fromShell, /^k8s-v1\.\d+\.\d+_etcd-v3\.\d+\.\d+_kwok-v\S+_helm-v3\S+_[0-9a-f]{12}$/);
  });

  it("changes the key when a go.sum changes", () => {
    const copy = join(scratch, "tools");
    cpSync(toolsDir(), copy, { recursive: true, filter: (src) => !src.includes("/node_modules") });
    const before = versionKey(copy);
    writeFileSync(join(copy, KEY_FILES[2]), "changed\n", { flag: "a" });
    assert.notEqual(versionKey(copy), before);
  });

  it("honours BRUPOP_TESTENV_CACHE and BRUPOP_TESTENV_BIN_DIR", () => {
    assert.equal(cacheRoot({ BRUPOP_TESTENV_CACHE: "/x" }), "/x");
    assert.equal(binDir({ BRUPOP_TESTENV_CACHE: "/x" }), join("/x", versionKey(), "bin"));
    assert.equal(binDir({ BRUPOP_TESTENV_BIN_DIR: "/y/bin" }), "/y/bin");
  });

  it("fails loudly, naming what is missing, when binaries are absent", () => {
    const dir = join(scratch, "bin");
    mkdirSync(dir, { recursive: true });
    for (const b of BINARIES.filter((b) => b !== "kwok")) {
      writeFileSync(join(dir, b), "#!/bin/sh\n");
      chmodSync(join(dir, b), 0o755);
    }
    assert.throws(
      () => requireBinaries(dir),
      (e) => isBrupopError(e, "BRUPOP_E_TESTENV") && /kwok/.test(e.message) && !/etcd/.test(e.message),
    );
    writeFileSync(join(dir, "kwok"), "#!/bin/sh\n");
    chmodSync(join(dir, "kwok"), 0o755);
    assert.equal(requireBinaries(dir), dir);
  });
});
