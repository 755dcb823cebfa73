// The health gate after the reboot (issue 19), on a REAL control plane with real agents and simulated
// hosts: a DaemonSet (run by the real DaemonSet controller, its pods "run" by kwok) puts a pod on
// every test node. A node whose DaemonSet pod is not Ready after its reboot never counts as done: it
// fails with Unhealthy naming the pod once MonitoringUpdate's time limit passes. A node whose pod is
// Ready passes the gate. The TEST plays the controller.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { e2eLogger } from "../kit/e2e.js";
import { healthGated, nodeCriticalDaemonSet, readyPodOn } from "../kit/health-gate.js";
import { BrupopTestbed } from "../kit/testbed.js";

const OLD = "1.19.0";
const NEW = "1.20.0";
const NS = "health-workloads";
const NODE_LABEL = "brupop-e2e/health";
const MONITOR_LIMIT_S = 8;

describe("health gate after the reboot on a real control plane", { timeout: 240_000 }, () => {
  let tb: BrupopTestbed;

  before(async () => {
    tb = await BrupopTestbed.start({
      releases: [{ version: NEW, releasedAt: 0 }],
      hostDurations: { refresh: 100, prepare: 300, activate: 100, reboot: 400 },
      ...healthGated(MONITOR_LIMIT_S, { loopIntervalMs: 500 }),
      logger: e2eLogger,
    });
    await nodeCriticalDaemonSet(tb.rest, NS, NODE_LABEL);
  });

  after(async () => {
    await tb?.stop();
  });

  it("a node whose DaemonSet pod is not Ready after the reboot fails with the reason; a healthy one passes", async () => {
    const [sick, healthy] = (await tb.addNodes(2, {
      version: OLD,
      namePrefix: "health-",
      labels: { [NODE_LABEL]: "true" },
    })) as [string, string];
    await tb.waitForAll([sick, healthy], "initial status", (s) => s.target_version === NEW);
    const sickPod = await readyPodOn(tb.rest, NS, sick);
    await readyPodOn(tb.rest, NS, healthy);

    // Not Ready from the moment the host goes down (DaemonSet pods are not drained).
    tb.onReboot = async (e) => {
      if (e.hostId === sick) await tb.setPodReady(NS, sickPod, false);
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
        new RegExp(`not Ready: DaemonSet pod ${NS}/${sickPod}.*time limit of ${MONITOR_LIMIT_S}s`),
      );
      assert.deepEqual(tb.errors, []);
    } finally {
      tb.onReboot = undefined;
    }
  });
});
