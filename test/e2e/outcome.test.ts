// Issue 25, end to end on a REAL control plane with real agents (health gate on their DaemonSet
// pods), simulated hosts and the real Controller with a real UpdatePolicy: a node that fails its
// health gate after rebooting into the update RUNS the new version but is NOT up to date. Observed
// from outside the controller: the shadows (did anything else start?), the UpdatePolicy's status,
// `brupop status -o json` run as a user runs it, and the controller's explanation.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";

import { NO_HEALTH_CHECKS } from "../../src/agent/health.js";
import { Controller } from "../../src/controller/run/controller.js";
import { inProcessSettings } from "../../src/controller/run/settings.js";
import { parseSchedule } from "../../src/controller/decide/schedule.js";
import { createLogger, silentLogger, type Logger } from "../../src/log.js";
import { CORDONED_BY_BRUPOP_ANNOTATION } from "../../src/k8s/cordon-marker.js";
import { ACCEPT_FAILURE_ANNOTATION } from "../../src/model/constants.js";
import { POLICY_COLLECTION_PATH, type PolicyStatus, type RawPolicy } from "../../src/model/policy.js";
import type { FleetStatus } from "../../src/status/model.js";
import { startCluster, type TestCluster } from "../../kit/testenv/cluster.js";
import { eventually, kube, sleep } from "../kit/kube.js";
import { BrupopTestbed } from "../kit/testbed.js";
import { shadowsPath, type RawBrs } from "../kit/watchers.js";
import { RawKubeRest } from "../../kit/testenv/raw-rest.js";

const REPO = resolve(import.meta.dirname, "../..");
const FROM = "1.19.0";
const TO = "1.20.0";
const POLICY = "default";
const MONITOR_LIMIT_S = 8;
/** How long the next group must stay put after the canary failed (the skeptic: 60 s). */
const HOLD_MS = 60_000;

const logger: Logger =
  process.env["BRUPOP_E2E_LOG"] === "1" ? createLogger({ level: "debug", name: "e2e" }) : silentLogger();

interface Pod {
  metadata: { name: string; namespace: string };
  status?: { conditions?: { type: string; status: string }[] };
}

const active = (b: RawBrs) =>
  b.spec?.state !== "Idle" || (b.status !== undefined && b.status.current_state !== "Idle");
const onTo = (b: RawBrs | undefined) =>
  b?.status?.current_state === "Idle" && b.status.current_version === TO && b.spec?.state === "Idle";

function brupopStatusJson(kubeconfig: string, ns: string): Promise<FleetStatus> {
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      [
        "--import",
        "tsx",
        join(REPO, "src/cli/main.ts"),
        "status",
        "--kubeconfig",
        kubeconfig,
        "-n",
        ns,
        "-o",
        "json",
      ],
      { cwd: REPO, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err !== null) fail(new Error(`brupop status failed: ${err.message}\n${stderr}`));
        else done(JSON.parse(stdout) as FleetStatus);
      },
    );
  });
}

describe("a node failed on the new version is a failure, everywhere (issue 25)", { timeout: 420_000 }, () => {
  let cluster: TestCluster;
  let rest: RawKubeRest;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    cluster = await startCluster();
    rest = new RawKubeRest(cluster.kubeConfig);
  });

  after(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    rest.close();
    if ((cluster as TestCluster | undefined) !== undefined) await cluster.stop();
  });

  const scenario = (fn: () => Promise<void>) => async (): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`\n${await cluster.dumpLogs(30)}\n`);
      throw err;
    } finally {
      for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    }
  };

  /** A testbed whose agents gate on their node's DaemonSet pods, and a DaemonSet on its nodes. */
  async function gatedTestbed(ns: string): Promise<{ tb: BrupopTestbed; workloads: string; label: string }> {
    const tb = await BrupopTestbed.start({
      cluster,
      namespace: ns,
      releases: [{ version: TO }],
      hostDurations: { refresh: 50, prepare: 200, activate: 50, deactivate: 50, reboot: 300 },
      agentTimings: {
        loopIntervalMs: 500,
        updateCheckIntervalMs: 1_000,
        excludeFromLbWaitMs: 0,
        healthSoakMs: 1_000,
        stateTimeLimitsMs: { MonitoringUpdate: MONITOR_LIMIT_S * 1000 },
      },
      health: { ...NO_HEALTH_CHECKS, daemonSetPods: true },
      // kwok has no kubelet to make pods Ready again after a NotReady node: keep the Node Ready and
      // let the test decide the pod's readiness.
      nodeDownDuringReboot: false,
      logger,
    });
    cleanups.push(() => tb.stop());
    const workloads = `${ns}-wl`;
    const label = `e2e-outcome/${ns}`;
    await kube(rest, "POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: workloads },
    });
    cleanups.push(() =>
      kube(rest, "DELETE", `/api/v1/namespaces/${workloads}`, undefined, { ok: [200, 202, 404] }),
    );
    await kube(rest, "POST", `/apis/apps/v1/namespaces/${workloads}/daemonsets`, {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "node-critical" },
      spec: {
        selector: { matchLabels: { app: "node-critical" } },
        template: {
          metadata: { labels: { app: "node-critical" } },
          spec: {
            nodeSelector: { [label]: "true" },
            containers: [{ name: "c", image: "registry.example/nc:1" }],
          },
        },
      },
    });
    return { tb, workloads, label };
  }

  async function nodes(tb: BrupopTestbed, prefix: string, n: number, labels: Record<string, string>) {
    const names = await tb.addNodes(n, { version: FROM, namePrefix: prefix, labels });
    await tb.waitForAll(
      names,
      `Idle, offered ${TO}`,
      (s) => s.current_state === "Idle" && s.target_version === TO,
      30_000,
    );
    return names;
  }

  async function readyDsPod(workloads: string, node: string): Promise<string> {
    let name: string | undefined;
    await eventually(`${node}: its DaemonSet pod Ready`, 60_000, async () => {
      const list = await kube<{ items: Pod[] }>(
        rest,
        "GET",
        `/api/v1/namespaces/${workloads}/pods`,
        undefined,
        {
          query: { fieldSelector: `spec.nodeName=${node}` },
        },
      );
      name = list.items.find((p) =>
        p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      )?.metadata.name;
      return name !== undefined;
    });
    return name ?? "";
  }

  /** The node's DaemonSet pod goes not Ready when its host reboots, and stays so. */
  function sickAfterReboot(tb: BrupopTestbed, workloads: string, node: string, pod: string): void {
    tb.onReboot = async (e) => {
      if (e.hostId === node) await tb.setPodReady(workloads, pod, false);
    };
    cleanups.push(() => {
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
    cleanups.push(() =>
      kube(rest, "DELETE", `${POLICY_COLLECTION_PATH}/${POLICY}`, undefined, { ok: [200, 404] }),
    );
  }
  const policyStatus = async (): Promise<PolicyStatus | undefined> =>
    (await kube<RawPolicy>(rest, "GET", `${POLICY_COLLECTION_PATH}/${POLICY}`)).status;
  const condition = (s: PolicyStatus | undefined, type: string) =>
    s?.conditions?.find((c) => c.type === type);

  function controller(tb: BrupopTestbed): Controller {
    const own = new RawKubeRest(cluster.kubeConfig);
    const c = new Controller(
      inProcessSettings({
        namespace: tb.namespace,
        maxConcurrent: 1,
        schedule: parseSchedule("* * * * * * *", new Date()),
        tickIntervalMs: 300,
      }),
      { rest: own, logger },
      { eventDebounceMs: 50, http: null, policyName: POLICY },
    );
    cleanups.push(async () => {
      await c.stop();
      own.close();
    });
    return c;
  }

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
    const status = await brupopStatusJson(cluster.kubeconfigPath, tb.namespace);
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
    scenario(async () => {
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
    scenario(async () => {
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
