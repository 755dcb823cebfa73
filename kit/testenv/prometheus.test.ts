import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { toolsDir } from "./paths.js";
import { prometheusBinary, prometheusKey } from "./prometheus.js";

describe("prometheus testenv paths", () => {
  it("the key matches tools/testenv/prometheus-key.sh", () => {
    const shell = execFileSync("bash", [join(toolsDir(), "prometheus-key.sh")], { encoding: "utf8" }).trim();
    assert.equal(prometheusKey(), shell);
  });
  it("a missing binary fails naming the build command", () => {
    assert.throws(
      () => prometheusBinary({ BRUPOP_TESTENV_CACHE: "/nonexistent" }),
      /prometheus missing .*npm run testenv:build-prometheus/,
    );
  });
});
