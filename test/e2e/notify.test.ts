// Issue 19 end to end, on the real control plane (etcd, kube-apiserver, controller-manager,
// scheduler, kwok) with a BrupopTestbed (in-process brupop apiserver, simulated hosts, real agents)
// and the real in-process Controller:
//   - webhook notifications, received by a local HTTP server: started, failed (with the agent's
//     account), finished, fleet finished;
//   - the pod blocker: a labelled pod on a node holds its start back until it goes.
// The alert blocker (PROMETHEUS_URL) runs against a real Prometheus in test/e2e/prometheus.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ManualClock, type Clock } from "../../src/clock.js";
import type { Controller, ControllerConfig } from "../../src/controller/run/controller.js";
import type { Notification } from "../../src/controller/act/notify.js";
import { shadowNameForNode } from "../../src/model/constants.js";
import { eventually, kube } from "../kit/kube.js";
import type { BrupopTestbed } from "../kit/testbed.js";
import { shadowsPath, type RawBrs } from "../kit/watchers.js";
import { receiver } from "../kit/webhook.js";
import type { RawKubeRest } from "../../kit/testenv/raw-rest.js";
import { E2eScenarios } from "../kit/e2e.js";

const FROM = "1.19.0";
const TO = "1.20.0";
const TICK_MS = 500;
const HOST_DURATIONS = { refresh: 100, prepare: 300, activate: 100, deactivate: 100, reboot: 500 };
const AGENT_TIMINGS = { loopIntervalMs: 1_000, updateCheckIntervalMs: 2_000, excludeFromLbWaitMs: 0 };

async function listBrs(rest: RawKubeRest, ns: string): Promise<RawBrs[]> {
  return (await kube<{ items: RawBrs[] }>(rest, "GET", shadowsPath(ns))).items;
}

const allIdleOn = (items: RawBrs[], version: string) =>
  items.every(
    (b) =>
      b.spec?.state === "Idle" && b.status?.current_state === "Idle" && b.status.current_version === version,
  );

describe(
  "notifications and blockers (real control plane, real agents, simulated hosts)",
  { timeout: 300_000 },
  () => {
    const e2e = new E2eScenarios({
      timings: { tickMs: TICK_MS, hostDurations: HOST_DURATIONS, agentTimings: AGENT_TIMINGS },
      to: TO,
    });

    const fleet = (tb: BrupopTestbed, prefix: string, n: number): Promise<string[]> =>
      e2e.offered(tb, prefix, n, { version: FROM });

    const controller = (tb: BrupopTestbed, config: Partial<ControllerConfig>, clock?: Clock): Controller =>
      e2e.controller(tb, { maxConcurrent: 2, ...config }, clock && { clock });

    before(() => e2e.start());
    after(() => e2e.stop());

    it(
      "a webhook hears each node start, fail (with the agent's account) and finish, then the fleet finish",
      e2e.run(async () => {
        const tb = await e2e.testbed("ntf-webhook");
        const hook = await receiver();
        e2e.cleanup(() => hook.close());
        const [bad, ...good] = (await fleet(tb, "nt-", 3)) as [string, ...string[]];
        tb.fleet.host(bad).failCommand("prepare", { times: 1, stderr: "e2e: injected prepare failure" });
        // The controller's clock stands still: the failed node's back-off ends when the test says.
        const clock = new ManualClock(Date.now());
        const c = controller(
          tb,
          { maxConcurrent: 3, notify: { url: hook.url, format: "json", timeoutMs: 2_000 } },
          clock,
        );
        await c.start();

        const of = (kind: string, node?: string) =>
          hook.got.filter((n) => n.kind === kind && (node === undefined || n.node === node));
        await eventually(
          "started ×3, failed ×1, finished ×2",
          60_000,
          () =>
            of("node-started").length === 3 &&
            of("node-failed").length === 1 &&
            of("node-finished").length === 2,
        );
        checkFailed(of("node-failed", bad)[0], bad);
        for (const node of good) checkUpdated(of("node-started", node)[0], of("node-finished", node)[0]);
        assert.equal(of("fleet-finished").length, 0, "the failed node still has its update ahead");

        // Past the back-off the failed node retries and finishes: the fleet is done, said once.
        const failedAt = Date.parse((await tb.shadow(bad)).status?.state_transition_failure_timestamp ?? "");
        clock.set(failedAt + 180_000);
        c.poke();
        await eventually("the fleet finished", 60_000, async () => {
          return of("fleet-finished").length === 1 && allIdleOn(await listBrs(tb.rest, tb.namespace), TO);
        });
        assert.equal(of("node-started", bad).length, 2);
        assert.equal(of("node-finished", bad)[0]?.version, TO);
        assert.equal(of("fleet-finished")[0]?.nodes, 3);
        const ticks = c.ticks;
        await eventually("two more ticks", 10_000, () => c.ticks >= ticks + 2);
        assert.equal(of("fleet-finished").length, 1, "said once");
        assert.match(
          await c.metrics.text(),
          /brupop_controller_notifications_total\{kind="fleet-finished",outcome="sent"\} 1/,
        );
      }),
    );

    it(
      "blockers: a labelled pod holds its node back until it goes; other nodes update",
      e2e.run(async () => {
        const tb = await e2e.testbed("ntf-blockers");
        const [held, free] = (await fleet(tb, "bl-", 2)) as [string, string];

        // A pod bound to `held`, labelled as a blocker (kwok runs it).
        await kube(tb.rest, "POST", `/api/v1/namespaces/${tb.namespace}/pods`, {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "batch-job", labels: { "e2e.brupop/block": "true" } },
          spec: { nodeName: held, containers: [{ name: "job", image: "e2e/job:1" }] },
        });
        const c = controller(tb, { maxConcurrent: 2, blockers: { podSelector: "e2e.brupop/block=true" } });
        await c.start();

        // `free` updates; `held` waits for its pod and says why.
        await eventually(`${free} updated`, 60_000, async () => {
          const b = (await listBrs(tb.rest, tb.namespace)).find(
            (x) => x.metadata?.name === shadowNameForNode(free),
          );
          return b !== undefined && allIdleOn([b], TO);
        });
        assert.equal(
          c.explain().find((e) => e.node === held)?.message,
          `blocked by pod ${tb.namespace}/batch-job on the node; starts updating to ${TO} once that clears`,
        );
        assert.equal((await tb.shadow(held)).spec?.state, "Idle");

        // The pod goes: the node starts.
        await kube(
          tb.rest,
          "DELETE",
          `/api/v1/namespaces/${tb.namespace}/pods/batch-job?gracePeriodSeconds=0`,
        );
        await eventually(`${held} updated once its pod is gone`, 60_000, async () =>
          allIdleOn(await listBrs(tb.rest, tb.namespace), TO),
        );
      }),
    );
  },
);

/** The agent's account of its failure reached the webhook. */
function checkFailed(failed: Notification | undefined, node: string): void {
  assert.ok(failed !== undefined, `${node}: no node-failed`);
  assert.equal(failed.shadow, shadowNameForNode(node));
  assert.equal(failed.crashCount, 1);
  assert.equal(failed.failure?.reason, "HostCommandFailed");
  assert.match(failed.failure?.message ?? "", /e2e: injected prepare failure/);
  assert.match(failed.message, /update failed .*injected prepare failure/);
}

function checkUpdated(started: Notification | undefined, finished: Notification | undefined): void {
  assert.deepEqual([started?.version, started?.fromVersion, finished?.version], [TO, FROM, TO]);
}
