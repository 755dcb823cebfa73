import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBrupopError } from "../errors.js";
import { DEFAULT_DRAIN_POLICY } from "./drain-policy.js";
import { NO_MARKS } from "./node-marks.js";
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
      drainPolicy: { ...DEFAULT_DRAIN_POLICY, skipSelector: undefined },
      marks: NO_MARKS,
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
      drainPolicy: { ...DEFAULT_DRAIN_POLICY, skipSelector: undefined },
      marks: NO_MARKS,
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
    ["DRAIN_TIMEOUT_ACTION", {}, { DRAIN_TIMEOUT_ACTION: "evict" }, inPod],
    ["DRAIN_TIMEOUT_ACTION", { drainTimeoutAction: "Delete" }, {}, inPod],
    ["DRAIN_DISREGARD_PDB", {}, { DRAIN_DISREGARD_PDB: "yes" }, inPod],
    ["DRAIN_SKIP_POD_SELECTOR", {}, { DRAIN_SKIP_POD_SELECTOR: "app in web" }, inPod],
    ["DRAIN_SKIP_POD_SELECTOR", { drainSkipPodSelector: "a=b," }, {}, inPod],
    ["DRAIN_EVICT_DO_NOT_DISRUPT_PODS", {}, { DRAIN_EVICT_DO_NOT_DISRUPT_PODS: "1" }, inPod],
    ["DRAIN_EVICT_UNMANAGED_PODS", {}, { DRAIN_EVICT_UNMANAGED_PODS: "no" }, inPod],
    ["DRAIN_EVICT_EMPTYDIR_PODS", {}, { DRAIN_EVICT_EMPTYDIR_PODS: "on" }, inPod],
    ["UPDATE_NODE_LABELS", {}, { UPDATE_NODE_LABELS: "k" }, inPod],
    ["UPDATE_NODE_ANNOTATIONS", {}, { UPDATE_NODE_ANNOTATIONS: "brupop.bottlerocket.aws/x=1" }, inPod],
    ["UPDATE_NODE_TAINTS", {}, { UPDATE_NODE_TAINTS: "k=v:NoExecute" }, inPod],
    ["UPDATE_NODE_TAINTS", { updateNodeTaints: "k=v" }, {}, inPod],
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

  it("reads the drain policy and the marks", () => {
    const c = loadApiserverConfig(
      { drainTimeoutAction: "delete", updateNodeTaints: "example.com/updating=true:NoSchedule" },
      {
        env: {
          DRAIN_DISREGARD_PDB: "true",
          DRAIN_SKIP_POD_SELECTOR: "app=cache,tier!=front",
          DRAIN_EVICT_DO_NOT_DISRUPT_PODS: "true",
          DRAIN_EVICT_UNMANAGED_PODS: "false",
          DRAIN_EVICT_EMPTYDIR_PODS: "false",
          UPDATE_NODE_LABELS: "example.com/updating=true",
          UPDATE_NODE_ANNOTATIONS: "karpenter.sh/do-not-disrupt=true",
        },
        readNamespace: inPod,
      },
    );
    assert.deepEqual(c.drainPolicy, {
      onTimeout: "delete",
      disregardPdb: true,
      skipSelector: {
        matchExpressions: [
          { key: "app", operator: "In", values: ["cache"] },
          { key: "tier", operator: "NotIn", values: ["front"] },
        ],
      },
      evictDoNotDisrupt: true,
      evictUnmanaged: false,
      evictEmptyDir: false,
    });
    assert.deepEqual(c.marks, {
      labels: { "example.com/updating": "true" },
      annotations: { "karpenter.sh/do-not-disrupt": "true" },
      taints: [{ key: "example.com/updating", value: "true", effect: "NoSchedule" }],
    });
  });
});
