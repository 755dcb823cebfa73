import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { isBrupopError } from "../errors.js";
import { InClusterAccess, loadKubeAccess } from "./access.js";

describe("InClusterAccess", () => {
  const dir = mkdtempSync(join(tmpdir(), "brupop-sa-"));
  writeFileSync(join(dir, "ca.crt"), "CA-PEM");
  writeFileSync(join(dir, "token"), "token-1\n");
  after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" };

  it("addresses the API service and adds the CA and bearer token", async () => {
    const access = new InClusterAccess(env, dir);
    assert.deepEqual(access.getCurrentCluster(), { server: "https://10.0.0.1:443" });
    const opts: https.RequestOptions = { headers: { Accept: "application/json" } };
    await access.applyToHTTPSOptions(opts);
    assert.equal(String(opts.ca), "CA-PEM");
    assert.deepEqual(opts.headers, { Accept: "application/json", Authorization: "Bearer token-1" });
  });

  it("brackets an IPv6 service address", () => {
    const access = new InClusterAccess({ ...env, KUBERNETES_SERVICE_HOST: "fd00::1" }, dir);
    assert.equal(access.getCurrentCluster().server, "https://[fd00::1]:443");
  });

  it("refuses to start outside a pod, naming the variable", () => {
    assert.throws(
      () => new InClusterAccess({}, dir),
      (err: unknown) =>
        isBrupopError(err, "BRUPOP_E_CONFIG") && err.message.startsWith("KUBERNETES_SERVICE_HOST"),
    );
  });

  it("refuses a missing service-account CA, naming the file", () => {
    assert.throws(
      () => new InClusterAccess(env, join(dir, "nope")),
      /ca\.crt: cannot read the service-account CA/,
    );
  });

  it("is what loadKubeAccess picks inside a pod", async () => {
    // A pod env with no kubeconfig flag: the service account, without loading client-node.
    await assert.rejects(loadKubeAccess(undefined, env), /ca\.crt/);
  });
});
