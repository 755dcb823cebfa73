import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";

import { isBrupopError } from "../../../src/errors.js";
import { toolsDir, versionKey } from "../paths.js";
import { realNodeKey, requireRealNodeBinaries } from "./paths.js";

describe("real-node paths", () => {
  it("computes the same key as tools/testenv/realnode-key.sh", () => {
    const fromShell = execFileSync("bash", [join(toolsDir(), "realnode-key.sh")], {
      encoding: "utf8",
    }).trim();
    assert.equal(realNodeKey(), fromShell);
    assert.match(fromShell, /^realnode-k8s-v1\.\d+\.\d+_coredns-v1\.\d+\.\d+_[0-9a-f]{12}$/);
  });

  it("never shares the control plane's key (a node-side change must not rebuild it)", () => {
    assert.notEqual(realNodeKey(), versionKey());
    assert.doesNotMatch(versionKey(), /kubenode|coredns/);
  });

  it("fails loudly, naming the build command, when the binaries are absent", () => {
    assert.throws(
      () => requireRealNodeBinaries("/nonexistent-brupop-realnode"),
      (e) =>
        isBrupopError(e, "BRUPOP_E_TESTENV") &&
        /kubelet/.test(e.message) &&
        /testenv:build-realnode/.test(e.message),
    );
  });
});
