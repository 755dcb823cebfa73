// The health gate after the reboot (issue 19), on a REAL control plane with real agents and simulated
// hosts: a DaemonSet (run by the real DaemonSet controller, its pods "run" by kwok) puts a pod on
// every test node. A node whose DaemonSet pod is not Ready after its reboot never counts as done: it
// fails with Unhealthy naming the pod once MonitoringUpdate's time limit passes. A node whose pod is
// Ready passes the gate. The TEST plays the controller.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { NO_HEALTH_CHECKS } from "../../src/agent/health.js";
import { createLogger, silentLogger } from "../../src/log.js";
import { eventually, kube } from "../kit/kube.js";
import { BrupopTestbed } from "../kit/testbed.js";

const OLD = "1.19.0";
const NEW = "1.20.0";
const NS = "health-workloads";
const NODE_LABEL = "brupop-e2e/health";
const MONITOR_LIMIT_S = 8;

const logger =
  process.env["BRUPOP_E2E_LOG"] === "1"
    ? createLogger({ level: "debug", name: "e2e-health" })
    : silentLogger();

interface Pod {
  metadata: { name: string; namespace: string };
  status?: { conditions?: { type: string; status: string }[] };
}

describe("health gate after the reboot on a real control plane", { timeout: 240_000 }, () => {
  let tb: BrupopTestbed;

  before(async () => {
    tb = await BrupopTestbed.start({
      releases: [{ version: NEW, releasedAt: 0 }],
      hostDurations: { refresh: 100, prepare: 300, activate: 100, reboot: 400 },
      agentTimings: {
        loopIntervalMs: 500,
        healthSoakMs: 1_000,
        stateTimeLimitsMs: { MonitoringUpdate: MONITOR_LIMIT_S * 1000 },
      },
      health: { ...NO_HEALTH_CHECKS, daemonSetPods: true },
      // The Node stays Ready through the reboot: kube-controller-manager would otherwise mark the
      // pods on a NotReady node not Ready, and kwok (no kubelet) never makes them Ready again. The
      // pod's readiness is what this test is about, and the test sets it.
      nodeDownDuringReboot: false,
      logger,
    });
    await kube(tb.rest, "POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: NS },
    });
    await kube(tb.rest, "POST", `/apis/apps/v1/namespaces/${NS}/daemonsets`, {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "node-critical" },
      spec: {
        selector: { matchLabels: { app: "node-critical" } },
        template: {
          metadata: { labels: { app: "node-critical" } },
          spec: {
            nodeSelector: { [NODE_LABEL]: "true" },
            containers: [{ name: "c", image: "registry.example/node-critical:1" }],
          },
        },
      },
    });
  });

  after(async () => {
    await tb?.stop();
  });

  async function dsPodOn(node: string): Promise<Pod> {
    let found: Pod | undefined;
    await eventually(`${node}: its DaemonSet pod Ready`, 60_000, async () => {
      const list = await kube<{ items: Pod[] }>(tb.rest, "GET", `/api/v1/namespaces/${NS}/pods`, undefined, {
        query: { fieldSelector: `spec.nodeName=${node}` },
      });
      found = list.items.find((p) =>
        p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      );
      return found !== undefined;
    });
    if (found === undefined) throw new Error("unreachable");
    return found;
  }

  it("a node whose DaemonSet pod is not Ready after the reboot fails with the reason; a healthy one passes", async () => {
    const [sick, healthy] = (await tb.addNodes(2, {
      version: OLD,
      namePrefix: "health-",
      labels: { [NODE_LABEL]: "true" },
    })) as [string, string];
    await tb.waitForAll([sick, healthy], "initial status", (s) => s.target_version === NEW);
    const sickPod = await dsPodOn(sick);
    await dsPodOn(healthy);

    // Not Ready from the moment the host goes down (DaemonSet pods are not drained).
    tb.onReboot = async (e) => {
      if (e.hostId === sick) await tb.setPodReady(NS, sickPod.metadata.name, false);
    };
    try {
      const passed = await tb.playController(healthy, NEW);
      assert.equal(passed.current_state, "Idle");
      assert.equal(passed.current_version, NEW);
      assert.equal(passed.failure, undefined);

      for (const state of ["StagedAndPerformedUpdate", "RebootedIntoUpdate"] as const) {
        await tb.setSpec(sick, state, NEW);
        await tb.waitForStatus(sick, state, (s) => s.current_state === state, {
          failOn: (s) => s.current_state === "ErrorReset",
        });
      }
      const asked = Date.now();
      await tb.setSpec(sick, "MonitoringUpdate", NEW);
      const failed = await tb.waitForStatus(
        sick,
        "ErrorReset",
        (s) => s.current_state !== "RebootedIntoUpdate",
        {
          timeoutMs: (MONITOR_LIMIT_S + 20) * 1000,
        },
      );
      assert.equal(failed.current_state, "ErrorReset", "never reported MonitoringUpdate");
      assert.ok(Date.now() - asked >= MONITOR_LIMIT_S * 1000, "failed only once the limit passed");
      assert.equal(failed.current_version, NEW);
      assert.equal(failed.failure?.reason, "Unhealthy");
      assert.equal(failed.failure?.state, "MonitoringUpdate");
      assert.match(
        failed.failure?.message ?? "",
        new RegExp(
          `not Ready: DaemonSet pod ${NS}/${sickPod.metadata.name}.*time limit of ${MONITOR_LIMIT_S}s`,
        ),
      );
      assert.deepEqual(tb.errors, []);
    } finally {
      tb.onReboot = undefined;
    }
  });
});
