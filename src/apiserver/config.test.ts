import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBrupopError } from "../errors.js";
import { loadApiserverConfig } from "./config.js";

const inPod = () => "brupop-bottlerocket-aws";
const outside = () => undefined;

describe("loadApiserverConfig", () => {
  it("defaults: port 8443, namespace from the service-account mount, cert-manager's TLS dir", () => {
    assert.deepEqual(loadApiserverConfig({}, { env: {}, readNamespace: inPod }), {
      port: 8443,
      host: "0.0.0.0",
      namespace: "brupop-bottlerocket-aws",
      tlsDir: "/etc/brupop-tls-keys",
      drainTimeoutMs: 600_000,
      logLevel: "info",
    });
  });

  it("reads APISERVER_INTERNAL_PORT, flags win over the mount, IPv6 clusters bind ::", () => {
    const c = loadApiserverConfig(
      { namespace: "ops", tlsDir: "/tmp/tls", drainTimeoutSeconds: "30" },
      { env: { APISERVER_INTERNAL_PORT: "9443", KUBERNETES_SERVICE_HOST: "fd00::1" }, readNamespace: inPod },
    );
    assert.deepEqual(c, {
      port: 9443,
      host: "::",
      namespace: "ops",
      tlsDir: "/tmp/tls",
      drainTimeoutMs: 30_000,
      logLevel: "info",
    });
  });

  const bad: [
    string,
    Parameters<typeof loadApiserverConfig>[0],
    NodeJS.ProcessEnv,
    () => string | undefined,
  ][] = [
    ["APISERVER_INTERNAL_PORT", {}, { APISERVER_INTERNAL_PORT: "http" }, inPod],
    ["APISERVER_INTERNAL_PORT", {}, { APISERVER_INTERNAL_PORT: "70000" }, inPod],
    ["--namespace", {}, {}, outside],
    ["--namespace", { namespace: "Not_Valid" }, {}, inPod],
    ["DRAIN_TIMEOUT_SECONDS", {}, { DRAIN_TIMEOUT_SECONDS: "0" }, inPod],
    ["DRAIN_TIMEOUT_SECONDS", { drainTimeoutSeconds: "1.5" }, {}, inPod],
    ["TRACING_FILTER_DIRECTIVE", {}, { TRACING_FILTER_DIRECTIVE: "loud" }, inPod],
    ["--log-level", { logLevel: "loud" }, {}, inPod],
  ];
  for (const [variable, flags, env, readNamespace] of bad) {
    it(`rejects a bad ${variable} with BRUPOP_E_CONFIG naming it`, () => {
      assert.throws(
        () => loadApiserverConfig(flags, { env, readNamespace }),
        (err) =>
          isBrupopError(err, "BRUPOP_E_CONFIG") &&
          err.details.variable === variable &&
          err.message.includes(variable),
      );
    });
  }
});
