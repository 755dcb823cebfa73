import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBrupopError } from "../errors.js";
import {
  loadAgentConfig,
  readRequiredFile,
  serviceEnvName,
  type AgentEnv,
  type AgentFlags,
} from "./config.js";

const inPod = { readNamespace: () => "brupop-bottlerocket-aws" };
const outsidePod = { readNamespace: () => undefined };

function configError(fn: () => unknown, variable: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isBrupopError(err, "BRUPOP_E_CONFIG"), `expected BRUPOP_E_CONFIG, got ${String(err)}`);
    assert.equal(err.details.variable, variable);
    assert.ok(err.message.startsWith(`${variable}:`), err.message);
    return true;
  });
}

describe("loadAgentConfig", () => {
  it("defaults: upstream's paths and the in-cluster apiserver address", () => {
    const c = loadAgentConfig({ MY_NODE_NAME: "ip-10-0-0-1.ec2.internal" }, {}, inPod);
    assert.deepEqual(c, {
      nodeName: "ip-10-0-0-1.ec2.internal",
      namespace: "brupop-bottlerocket-aws",
      apiserverUrl: "https://brupop-apiserver.brupop-bottlerocket-aws.svc.cluster.local:443",
      apiserverConnectTo: undefined,
      tokenPath: "/var/run/secrets/tokens/bottlerocket-agent-service-account-token",
      caPath: "/etc/brupop-tls-keys/ca.crt",
      socketPath: "/run/api.sock",
      kubeconfig: undefined,
      excludeFromLbWaitMs: 0,
      stateTimeLimitsMs: {
        StagedAndPerformedUpdate: 720_000,
        RebootedIntoUpdate: 600_000,
        MonitoringUpdate: 300_000,
      },
      healthSoakMs: 30_000,
      health: { daemonSetPods: true, podSelector: undefined, probeUrl: undefined, probeTimeoutMs: 5_000 },
      quarantineFailedNodes: true,
      loopIntervalMs: 5_000,
      updateCheckIntervalMs: 120_000,
      rebootWaitMs: 180_000,
      logLevel: "info",
    });
  });

  it("state time limits: upstream's allowances by default; 0 turns one off; the LB wait adds to the reboot's", () => {
    const c = loadAgentConfig(
      {
        MY_NODE_NAME: "node-a",
        UPDATE_STAGE_TIME_LIMIT_IN_SEC: "0",
        UPDATE_REBOOT_TIME_LIMIT_IN_SEC: "900",
        UPDATE_MONITOR_TIME_LIMIT_IN_SEC: "60",
        EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC: "30",
      },
      {},
      inPod,
    );
    assert.deepEqual(c.stateTimeLimitsMs, {
      StagedAndPerformedUpdate: 0,
      RebootedIntoUpdate: 930_000,
      MonitoringUpdate: 60_000,
    });
    assert.throws(
      () => loadAgentConfig({ MY_NODE_NAME: "node-a", UPDATE_MONITOR_TIME_LIMIT_IN_SEC: "-1" }, {}, inPod),
      /UPDATE_MONITOR_TIME_LIMIT_IN_SEC/,
    );
  });

  it("health gate checks: DaemonSet pods on by default; a selector, a probe URL and its timeout", () => {
    const c = loadAgentConfig(
      {
        MY_NODE_NAME: "node-a",
        UPDATE_HEALTH_CHECK_DAEMONSET_PODS: "false",
        UPDATE_HEALTH_POD_SELECTOR: "app in (db, cache),tier!=test",
        UPDATE_HEALTH_PROBE_URL: "http://10.0.0.1:8080/healthz",
        UPDATE_HEALTH_PROBE_TIMEOUT_IN_SEC: "2",
      },
      {},
      inPod,
    );
    assert.deepEqual(c.health, {
      daemonSetPods: false,
      podSelector: "app in (db, cache),tier!=test",
      probeUrl: "http://10.0.0.1:8080/healthz",
      probeTimeoutMs: 2_000,
    });
    const bad = (env: AgentEnv, variable: string) =>
      configError(() => loadAgentConfig({ MY_NODE_NAME: "node-a", ...env }, {}, inPod), variable);
    bad({ UPDATE_HEALTH_CHECK_DAEMONSET_PODS: "yes" }, "UPDATE_HEALTH_CHECK_DAEMONSET_PODS");
    bad({ UPDATE_HEALTH_POD_SELECTOR: "app=db;rm" }, "UPDATE_HEALTH_POD_SELECTOR");
    bad({ UPDATE_HEALTH_PROBE_URL: "ftp://x/" }, "UPDATE_HEALTH_PROBE_URL");
    bad({ UPDATE_HEALTH_PROBE_TIMEOUT_IN_SEC: "0" }, "UPDATE_HEALTH_PROBE_TIMEOUT_IN_SEC");
  });

  it("quarantines failed nodes unless QUARANTINE_FAILED_NODES=false (upstream's behaviour)", () => {
    const load = (env: AgentEnv) => loadAgentConfig({ MY_NODE_NAME: "node-a", ...env }, {}, inPod);
    assert.equal(load({}).quarantineFailedNodes, true);
    assert.equal(load({ QUARANTINE_FAILED_NODES: "false" }).quarantineFailedNodes, false);
    assert.equal(load({ QUARANTINE_FAILED_NODES: "true" }).quarantineFailedNodes, true);
    configError(() => load({ QUARANTINE_FAILED_NODES: "off" }), "QUARANTINE_FAILED_NODES");
  });

  it("reads the environment and flags", () => {
    const env: AgentEnv = {
      MY_NODE_NAME: "node-a",
      EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC: "30",
      APISERVER_SERVICE_PORT: "8443",
      TRACING_FILTER_DIRECTIVE: "agent=debug,info",
    };
    const c = loadAgentConfig(env, { namespace: "brupop" }, outsidePod);
    assert.equal(c.namespace, "brupop");
    assert.equal(c.apiserverUrl, "https://brupop-apiserver.brupop.svc.cluster.local:8443");
    assert.equal(c.excludeFromLbWaitMs, 30_000);
    assert.equal(c.logLevel, "info");

    const flags: AgentFlags = {
      apiserverUrl: "https://127.0.0.1:9443/",
      socketPath: "/tmp/x.sock",
      loopIntervalMs: "250",
      updateCheckIntervalMs: "1000",
      rebootWaitMs: "0",
      logLevel: "debug",
    };
    const d = loadAgentConfig({ MY_NODE_NAME: "node-a" }, flags, inPod);
    assert.equal(d.apiserverUrl, "https://127.0.0.1:9443");
    assert.equal(d.socketPath, "/tmp/x.sock");
    assert.equal(d.loopIntervalMs, 250);
    assert.equal(d.updateCheckIntervalMs, 1000);
    assert.equal(d.rebootWaitMs, 0);
    assert.equal(d.logLevel, "debug");
  });

  it("serviceEnvName follows Kubernetes' service environment names", () => {
    assert.equal(serviceEnvName("brupop-apiserver", "HOST"), "BRUPOP_APISERVER_SERVICE_HOST");
    assert.equal(serviceEnvName("brupop-apiserver", "PORT"), "BRUPOP_APISERVER_SERVICE_PORT");
  });

  describe("apiserver address without cluster DNS", () => {
    const svc = {
      MY_NODE_NAME: "n",
      BRUPOP_APISERVER_SERVICE_HOST: "10.96.0.42",
      BRUPOP_APISERVER_SERVICE_PORT: "443",
    };
    const table: [string, AgentEnv, AgentFlags, { host: string; port: number } | undefined, string][] = [
      [
        "service env injected: connect to the cluster IP, TLS name stays the DNS name",
        svc,
        {},
        { host: "10.96.0.42", port: 443 },
        "https://brupop-apiserver.brupop-bottlerocket-aws.svc.cluster.local:443",
      ],
      [
        "IPv6 cluster IP",
        { ...svc, BRUPOP_APISERVER_SERVICE_HOST: "fd00::2a", BRUPOP_APISERVER_SERVICE_PORT: "8443" },
        {},
        { host: "fd00::2a", port: 8443 },
        "https://brupop-apiserver.brupop-bottlerocket-aws.svc.cluster.local:443",
      ],
      [
        "no service env: DNS as before",
        { MY_NODE_NAME: "n" },
        {},
        undefined,
        "https://brupop-apiserver.brupop-bottlerocket-aws.svc.cluster.local:443",
      ],
      [
        "an explicit --apiserver-url wins",
        svc,
        { apiserverUrl: "https://127.0.0.1:9443" },
        undefined,
        "https://127.0.0.1:9443",
      ],
    ];
    for (const [title, env, flags, connectTo, url] of table) {
      it(title, () => {
        const c = loadAgentConfig(env, flags, inPod);
        assert.deepEqual(c.apiserverConnectTo, connectTo);
        assert.equal(c.apiserverUrl, url);
      });
    }
  });

  it("the --namespace flag wins over the service-account mount", () => {
    assert.equal(loadAgentConfig({ MY_NODE_NAME: "n" }, { namespace: "other" }, inPod).namespace, "other");
  });

  const bad: [string, AgentEnv, AgentFlags, typeof inPod | typeof outsidePod][] = [
    ["MY_NODE_NAME", {}, {}, inPod],
    ["MY_NODE_NAME", { MY_NODE_NAME: "  " }, {}, inPod],
    ["MY_NODE_NAME", { MY_NODE_NAME: "Not_A_Node" }, {}, inPod],
    ["--namespace", { MY_NODE_NAME: "n" }, {}, outsidePod],
    ["--namespace", { MY_NODE_NAME: "n" }, { namespace: "Bad Namespace" }, inPod],
    [
      "EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC",
      { MY_NODE_NAME: "n", EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC: "-1" },
      {},
      inPod,
    ],
    [
      "EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC",
      { MY_NODE_NAME: "n", EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC: "1.5" },
      {},
      inPod,
    ],
    [
      "EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC",
      { MY_NODE_NAME: "n", EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC: "soon" },
      {},
      inPod,
    ],
    ["APISERVER_SERVICE_PORT", { MY_NODE_NAME: "n", APISERVER_SERVICE_PORT: "0" }, {}, inPod],
    ["APISERVER_SERVICE_PORT", { MY_NODE_NAME: "n", APISERVER_SERVICE_PORT: "65536" }, {}, inPod],
    ["APISERVER_SERVICE_PORT", { MY_NODE_NAME: "n", APISERVER_SERVICE_PORT: "https" }, {}, inPod],
    ["TRACING_FILTER_DIRECTIVE", { MY_NODE_NAME: "n", TRACING_FILTER_DIRECTIVE: "loud" }, {}, inPod],
    [
      "BRUPOP_APISERVER_SERVICE_HOST",
      {
        MY_NODE_NAME: "n",
        BRUPOP_APISERVER_SERVICE_HOST: "apiserver.local",
        BRUPOP_APISERVER_SERVICE_PORT: "443",
      },
      {},
      inPod,
    ],
    [
      "BRUPOP_APISERVER_SERVICE_PORT",
      { MY_NODE_NAME: "n", BRUPOP_APISERVER_SERVICE_HOST: "10.0.0.1" },
      {},
      inPod,
    ],
    [
      "BRUPOP_APISERVER_SERVICE_PORT",
      { MY_NODE_NAME: "n", BRUPOP_APISERVER_SERVICE_HOST: "10.0.0.1", BRUPOP_APISERVER_SERVICE_PORT: "0" },
      {},
      inPod,
    ],
    ["--log-level", { MY_NODE_NAME: "n" }, { logLevel: "loud" }, inPod],
    ["--apiserver-url", { MY_NODE_NAME: "n" }, { apiserverUrl: "not a url" }, inPod],
    ["--apiserver-url", { MY_NODE_NAME: "n" }, { apiserverUrl: "ftp://x" }, inPod],
    ["--loop-interval-ms", { MY_NODE_NAME: "n" }, { loopIntervalMs: "0" }, inPod],
    ["--update-check-interval-ms", { MY_NODE_NAME: "n" }, { updateCheckIntervalMs: "x" }, inPod],
    ["--reboot-wait-ms", { MY_NODE_NAME: "n" }, { rebootWaitMs: "-5" }, inPod],
  ];
  for (const [variable, env, flags, deps] of bad) {
    it(`rejects ${variable} = ${JSON.stringify({ ...env, ...flags })}`, () => {
      configError(() => loadAgentConfig(env, flags, deps), variable);
    });
  }
});

describe("readRequiredFile", () => {
  it("names the variable and the path when a mount is missing", () => {
    assert.throws(
      () => readRequiredFile("--ca-path", "/nonexistent/brupop/ca.crt"),
      (err: unknown) =>
        isBrupopError(err, "BRUPOP_E_CONFIG") &&
        err.details.variable === "--ca-path" &&
        err.message.includes("/nonexistent/brupop/ca.crt") &&
        err.message.includes("ENOENT"),
    );
  });
});
