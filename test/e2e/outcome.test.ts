// Issue 25, end to end on a REAL control plane with real agents (health gate on their DaemonSet
// pods), simulated hosts and the real Controller with a real UpdatePolicy: a node that fails its
// health gate after rebooting into the update RUNS the new version but is NOT up to date. Observed
// from outside the controller: the shadows (did anything else start?), the UpdatePolicy's status,
// `brupop status -o json` run as a user runs it, and the controller's explanation.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { Controller } from "../../src/controller/run/controller.js";
import { CORDONED_BY_BRUPOP_ANNOTATION } from "../../src/k8s/cordon-marker.js";
import { ACCEPT_FAILURE_ANNOTATION } from "../../src/model/constants.js";
import { POLICY_COLLECTION_PATH, type PolicyStatus, type RawPolicy } from "../../src/model/policy.js";
import { brupopStatusJson } from "../kit/cli.js";
import { E2eScenarios } from "../kit/e2e.js";
import { healthGated, nodeCriticalDaemonSet, readyPodOn } from "../kit/health-gate.js";
import { eventually, kube, sleep } from "../kit/kube.js";
import type { BrupopTestbed } from "../kit/testbed.js";
import { shadowsPath, type RawBrs } from "../kit/watchers.js";
import type { RawKubeRest } from "../../kit/testenv/raw-rest.js";

const FROM = "1.19.0";
const TO = "1.20.0";
const POLICY = "default";
const MONITOR_LIMIT_S = 8;
/** How long the next group must stay put after the canary failed (the skeptic: 60 s). */
const HOLD_MS = 60_000;

const active = (b: RawBrs) =>
  b.spec?.state !== "Idle" || (b.status !== undefined && b.status.current_state !== "Idle");
const onTo = (b: RawBrs | undefined) =>
  b?.status?.current_state === "Idle" && b.status.current_version === TO && b.spec?.state === "Idle";

describe("a node failed on the new version is a failure, everywhere (issue 25)", { timeout: 420_000 }, () => {
  const e2e = new E2eScenarios({
    timings: {
      tickMs: 300,
      hostDurations: { refresh: 50, prepare: 200, activate: 50, deactivate: 50, reboot: 300 },
      agentTimings: { loopIntervalMs: 500, updateCheckIntervalMs: 1_000, excludeFromLbWaitMs: 0 },
    },
    to: TO,
  });
  let rest: RawKubeRest;

  before(async () => {
    await e2e.start();
    rest = e2e.rest;
  });
  after(() => e2e.stop());

  /** A testbed whose agents gate on their node's DaemonSet pods, and a DaemonSet on its nodes. */
  async function gatedTestbed(ns: string): Promise<{ tb: BrupopTestbed; workloads: string; label: string }> {
    const tb = await e2e.testbed(
      ns,
      healthGated(MONITOR_LIMIT_S, {
        loopIntervalMs: 500,
        updateCheckIntervalMs: 1_000,
        excludeFromLbWaitMs: 0,
      }),
    );
    const workloads = `${ns}-wl`;
    const label = `e2e-outcome/${ns}`;
    await nodeCriticalDaemonSet(rest, workloads, label);
    e2e.cleanup(() =>
      kube(rest, "DELETE", `/api/v1/namespaces/${workloads}`, undefined, { ok: [200, 202, 404] }),
    );
    return { tb, workloads, label };
  }

  const nodes = (tb: BrupopTestbed, prefix: string, n: number, labels: Record<string, string>) =>
    e2e.offered(tb, prefix, n, { version: FROM, labels });

  const readyDsPod = (workloads: string, node: string): Promise<string> => readyPodOn(rest, workloads, node);

  /** The node's DaemonSet pod goes not Ready when its host reboots, and stays so. */
  function sickAfterReboot(tb: BrupopTestbed, workloads: string, node: string, pod: string): void {
    tb.onReboot = async (e) => {
      if (e.hostId === node) await tb.setPodReady(workloads, pod, false);
    };
    e2e.cleanup(() => {
      tb.onReboot = undefined;
      return Promise.resolve();
    });
  }

  async function createPolicy(spec: Record<string, unknown>): Promise<void> {
    await kube(rest, "POST", POLICY_COLLECTION_PATH, {
      apiVersion: "brupop.bottlerocket.aws/v1alpha1",
      kind: "UpdatePolicy",
      metadata: { name: POLICY },
      spec,
    });
    e2e.cleanup(() =>
      kube(rest, "DELETE", `${POLICY_COLLECTION_PATH}/${POLICY}`, undefined, { ok: [200, 404] }),
    );
  }
  const policyStatus = async (): Promise<PolicyStatus | undefined> =>
    (await kube<RawPolicy>(rest, "GET", `${POLICY_COLLECTION_PATH}/${POLICY}`)).status;
  const condition = (s: PolicyStatus | undefined, type: string) =>
    s?.conditions?.find((c) => c.type === type);

  const controller = (tb: BrupopTestbed): Controller => e2e.controller(tb, { policyName: POLICY });

  const shadows = async (tb: BrupopTestbed) =>
    (await kube<{ items: RawBrs[] }>(rest, "GET", shadowsPath(tb.namespace))).items;
  const shadowOf = async (tb: BrupopTestbed, node: string) =>
    (await shadows(tb)).find((b) => b.metadata?.name === `brs-${node}`);

  /** The node failed its health gate after the reboot and the controller reset it to Idle. */
  async function failedOnNew(tb: BrupopTestbed, node: string): Promise<RawBrs> {
    let seen: RawBrs | undefined;
    await eventually(`${node}: Unhealthy on ${TO}, reset to Idle`, 90_000, async () => {
      seen = await shadowOf(tb, node);
      const st = seen?.status;
      return (
        st?.failure?.reason === "Unhealthy" &&
        st.current_version === TO &&
        st.current_state === "Idle" &&
        seen?.spec?.state === "Idle"
      );
    });
    if (seen === undefined) throw new Error("unreachable");
    return seen;
  }

  interface NodeMarks {
    metadata?: { annotations?: Record<string, string> };
    spec?: { unschedulable?: boolean };
  }
  /** The Node as kube-apiserver has it: cordoned (unschedulable), and whether brupop's marker says brupop did it. */
  async function cordonOf(node: string): Promise<{ unschedulable: boolean; byBrupop: boolean }> {
    const n = await kube<NodeMarks>(rest, "GET", `/api/v1/nodes/${node}`);
    return {
      unschedulable: n.spec?.unschedulable === true,
      byBrupop: n.metadata?.annotations?.[CORDONED_BY_BRUPOP_ANNOTATION] === "true",
    };
  }

  async function policySaysCanaryFailed(canary: string): Promise<void> {
    const st = await policyStatus();
    assert.equal(st?.nodes?.failed, 1);
    assert.equal(st?.nodes?.upToDate, 0);
    const group = st?.groups?.find((g) => g.name === "canary");
    assert.equal(group?.upToDate, 0);
    assert.equal(group?.failed, 1);
    assert.equal(group?.finishedAt, undefined, "a failed canary never finishes");
    assert.equal(st?.currentGroup, "canary");
    const progressing = condition(st, "Progressing");
    assert.equal(progressing?.reason, "GroupFailed");
    assert.match(
      progressing?.message ?? "",
      new RegExp(`${canary} \\(Unhealthy on ${TO.replace(/\./g, "\\.")}\\)`),
    );
  }

  function explainSaysCanaryFailed(c: Controller, canary: string, waiting: string): void {
    const why = c.explain().find((e) => e.node === canary);
    assert.equal(why?.reason.kind, "failed-on-new-version");
    assert.doesNotMatch(why?.message ?? "", /^up to date/);
    const held = c.explain().find((e) => e.node === waiting);
    assert.match(held?.message ?? "", /waits for group canary to finish: .*failed/);
  }

  async function statusCliSaysFailed(tb: BrupopTestbed, canary: string): Promise<void> {
    const status = await brupopStatusJson(e2e.cluster.kubeconfigPath, tb.namespace);
    const row = status.nodes.find((r) => r.node === canary);
    assert.equal(row?.phase, "failed");
    assert.equal(row?.reason.kind, "failed-on-new-version");
    assert.equal(row?.attention, true);
    assert.equal(row?.failure?.reason, "Unhealthy");
    assert.equal(status.summary.failed, 1);
    assert.equal(status.summary.upToDate, 0);
  }

  it(
    "a canary that fails its health gate keeps the next group waiting; status, explain and brupop status say so; accepting it lets the rollout go on",
    e2e.run(async () => {
      const { tb, workloads, label } = await gatedTestbed("oc-canary");
      const [canary] = (await nodes(tb, "occ-", 1, { [label]: "true", "e2e/tier": "canary" })) as [string];
      const rest2 = await nodes(tb, "ocr-", 2, { [label]: "true" });
      sickAfterReboot(tb, workloads, canary, await readyDsPod(workloads, canary));
      await createPolicy({
        maxConcurrent: 1,
        groups: [{ name: "canary", matchLabels: { "e2e/tier": "canary" } }],
      });
      const c = controller(tb);
      await c.start();

      await failedOnNew(tb, canary);
      // Quarantine (the default): the agent cordoned the canary before reporting the failure, with
      // brupop's marker, and the reset to Idle did not uncordon it.
      assert.deepEqual(
        await cordonOf(canary),
        { unschedulable: true, byBrupop: true },
        "canary not quarantined",
      );
      // The skeptic's window: nothing of the next group starts, watched from the shadows.
      const until = Date.now() + HOLD_MS;
      while (Date.now() < until) {
        const moved = (await shadows(tb)).filter(
          (b) => rest2.includes(b.metadata?.name?.slice(4) ?? "") && active(b),
        );
        assert.deepEqual(
          moved.map((b) => b.metadata?.name),
          [],
          "a later group started after the canary failed",
        );
        await sleep(1_000);
      }
      for (const n of rest2) assert.equal(tb.fleet.host(n).version, FROM, `${n} was updated`);
      assert.equal((await cordonOf(canary)).unschedulable, true, "the quarantine was lifted by itself");

      await policySaysCanaryFailed(canary);
      explainSaysCanaryFailed(c, canary, rest2[0] ?? "");
      await statusCliSaysFailed(tb, canary);

      // A person accepts exactly this failure: the canary counts as up to date, the rest goes on.
      const failedAt = (await shadowOf(tb, canary))?.status?.failure?.timestamp ?? "";
      await kube(
        rest,
        "PATCH",
        `${shadowsPath(tb.namespace)}/brs-${canary}`,
        { metadata: { annotations: { [ACCEPT_FAILURE_ANNOTATION]: failedAt } } },
        { contentType: "application/merge-patch+json" },
      );
      await eventually("the canary is uncordoned once its failure is accepted", 30_000, async () => {
        const c = await cordonOf(canary);
        return !c.unschedulable && !c.byBrupop;
      });
      await eventually("the rest group updates once the failure is accepted", 90_000, async () => {
        const items = await shadows(tb);
        return rest2.every((n) => onTo(items.find((b) => b.metadata?.name === `brs-${n}`)));
      });
      await eventually("the policy counts every node up to date", 10_000, async () => {
        const s = await policyStatus();
        return s?.nodes?.upToDate === 3 && s.nodes.failed === 0;
      });
    }),
  );

  it(
    "a failure budget of 1 is tripped by a health-gate failure after the reboot; nothing else starts",
    e2e.run(async () => {
      const { tb, workloads, label } = await gatedTestbed("oc-budget");
      // The controller starts nodes by name: the sick one goes first.
      const [sick, other] = (await nodes(tb, "ocb-", 2, { [label]: "true" })) as [string, string];
      sickAfterReboot(tb, workloads, sick, await readyDsPod(workloads, sick));
      await createPolicy({ maxConcurrent: 1, failureBudget: { maxFailures: 1, window: "1h" } });
      const c = controller(tb);
      await c.start();

      await failedOnNew(tb, sick);
      await eventually(
        "halted",
        20_000,
        async () => condition(await policyStatus(), "Halted")?.status === "True",
      );
      const st = await policyStatus();
      assert.deepEqual(st?.failureBudget?.haltedNodes, [sick]);
      assert.equal(st?.nodes?.failed, 1);
      await sleep(5_000);
      const o = await shadowOf(tb, other);
      assert.equal(o !== undefined && active(o), false, `${other} started after the halt`);
      assert.equal(tb.fleet.host(other).version, FROM);
    }),
  );
});
