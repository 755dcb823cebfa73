// Migration from upstream Brupop (Rust, v1.4) and back, on a real control plane (etcd,
// kube-apiserver, controller-manager, scheduler, kwok). One cluster, one testbed: our in-process
// apiserver (real TLS, bound tokens), real in-process agents on simulated hosts, our Controller.
//
// 1. The cluster holds what an upstream install leaves behind: upstream's CRD (with v1 in its
//    storedVersions), v1 and v2 shadows with upstream's `+00:00` nanosecond timestamps, a node
//    mid-update in each state, a failed node whose back-off is about to end and one far from it,
//    and a finished node whose shadow an upstream agent created and reported through our apiserver
//    (which must answer what upstream's agent parses).
// 2. Our install takes over (CRD, controller, agents): every node finishes, none redoes a step it
//    already did, and back-off follows upstream's rule to the millisecond.
// 3. Roll back: every object, read as v2 and as v1, is what upstream's serde types accept, and it
//    stays writable under upstream's CRD again.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { request } from "node:https";
import { after, before, describe, it } from "node:test";

import { Controller } from "../../src/controller/run/controller.js";
import { inProcessSettings } from "../../src/controller/run/settings.js";
import { parseSchedule } from "../../src/controller/decide/schedule.js";
import {
  API_GROUP,
  CRD_NAME,
  PLURAL,
  shadowNameForNode,
  UPDATER_INTERFACE_LABEL,
} from "../../src/model/constants.js";
import { buildCrd } from "../../src/model/crd.js";
import type { ShadowStatus } from "../../src/model/shadow.js";
import { upstreamShadowProblems, upstreamStatusProblems } from "../../src/model/upstream-read.js";
import type { TestCluster } from "../../kit/testenv/cluster.js";
import { E2eScenarios, e2eLogger } from "../kit/e2e.js";
import { bindKube, createWithStatus, crdEstablished, eventually, exactly, kube } from "../kit/kube.js";
import type { BrupopTestbed } from "../kit/testbed.js";
import { FleetWatcher } from "../kit/watchers.js";
import { RawKubeRest } from "../../kit/testenv/raw-rest.js";

const FROM = "1.19.0";
const TO = "1.20.0";
const NS = "brupop-migration";
const HOST_DURATIONS = { refresh: 100, prepare: 300, activate: 100, deactivate: 100, reboot: 500 };
const AGENT_TIMINGS = { loopIntervalMs: 1_000, updateCheckIntervalMs: 2_000, excludeFromLbWaitMs: 0 };
const MIN = 60_000;

const logger = e2eLogger;

const CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const path = (version: "v1" | "v2", name?: string): string =>
  `/apis/${API_GROUP}/${version}/namespaces/${NS}/${PLURAL}${name === undefined ? "" : `/${name}`}`;

/** A timestamp as upstream writes it (chrono's to_rfc3339: nanoseconds, `+00:00`). */
const chronoStamp = (ms: number): string => `${new Date(ms).toISOString().slice(0, -1)}456789+00:00`;

type Json = Record<string, unknown>;
const isJson = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function stripDescriptions(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripDescriptions);
  if (!isJson(node)) return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k]) => k !== "description")
      .map(([k, v]) => [k, stripDescriptions(v)]),
  );
}

interface CrdVersion {
  name: string;
  schema: { openAPIV3Schema: Json & { properties: { status: { properties: Json } } } };
  additionalPrinterColumns?: { name: string; type: string }[];
}
interface Crd {
  metadata: Json & { resourceVersion?: string };
  spec: { conversion: { webhook: { clientConfig: unknown } }; versions: CrdVersion[] };
}

/** Our CRD, its conversion webhook pointed at the testbed's apiserver (what cert-manager + the Service give). */
function ourCrd(tb: BrupopTestbed): Crd {
  const crd = buildCrd() as unknown as Crd;
  crd.spec.conversion.webhook.clientConfig = {
    url: `${tb.apiserver.url}/crdconvert`,
    caBundle: Buffer.from(tb.ca.certPem).toString("base64"),
  };
  return crd;
}

/**
 * Upstream's CRD as its chart installs it (schemars output): same names, enums, patterns and
 * required fields as ours, but crash_count is `format: uint32` without a maximum, the Crash Count
 * column is a string, the root requires `spec`, and no descriptions of ours.
 */
function upstreamCrd(tb: BrupopTestbed): Crd {
  const crd = stripDescriptions(ourCrd(tb)) as Crd;
  for (const v of crd.spec.versions) {
    const root = v.schema.openAPIV3Schema;
    root["required"] = ["spec"];
    root["title"] = "BottlerocketShadow";
    if (v.name === "v2") {
      root.properties.status.properties["crash_count"] = { type: "integer", format: "uint32", minimum: 0 };
      for (const c of v.additionalPrinterColumns ?? []) if (c.name === "Crash Count") c.type = "string";
    }
  }
  return crd;
}

async function putCrd(rest: RawKubeRest, crd: Crd): Promise<void> {
  const existing = await kube<{ metadata: { resourceVersion: string } }>(rest, "GET", `${CRDS}/${CRD_NAME}`);
  crd.metadata.resourceVersion = existing.metadata.resourceVersion;
  await kube(rest, "PUT", `${CRDS}/${CRD_NAME}`, crd);
  await crdEstablished(bindKube(rest), CRD_NAME, 30_000);
  // The API server re-initialises the resource's storage after a CRD change (429 meanwhile).
  await eventually("shadows served again", 30_000, async () => {
    for (const version of ["v1", "v2"] as const)
      if ((await rest.request("GET", `/apis/${API_GROUP}/${version}/${PLURAL}`)).status !== 200) return false;
    return true;
  });
}

interface Answer {
  status: number;
  text: string;
}

/** A call as upstream's agent makes it (reqwest: the three headers, JSON body), raw answer back. */
function upstreamAgentCall(
  tb: BrupopTestbed,
  node: string,
  token: string,
  method: "POST" | "PUT",
  body?: unknown,
): Promise<Answer> {
  const payload = body === undefined ? "" : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL("/bottlerocket-node-resource", tb.apiserver.url),
      {
        method,
        ca: tb.ca.certPem,
        headers: {
          BrupopNodeName: node,
          BrupopNodeUid: tb.nodeUid(node),
          BrupopK8sAuthToken: token,
          ...(body === undefined
            ? {}
            : { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)) }),
        },
      },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** Drives a simulated host through refresh → prepare → activate (what upstream's agent had done). */
async function activateHost(tb: BrupopTestbed, node: string): Promise<void> {
  const host = tb.fleet.host(node);
  for (const action of ["refresh", "prepare", "activate"] as const) {
    await eventually(`${node}: ${action} accepted`, 10_000, () => host.act(action).status === 204, 20);
    await eventually(`${node}: ${action} done`, 10_000, () => host.readStatus().kind === "ok", 20);
  }
  assert.equal(host.updateState, "Ready");
}

/** Idle on TO with the default spec (upstream resets it after a cycle). */
function allFinished(items: readonly Brs[], nodes: readonly string[]): boolean {
  return nodes.every((node) => {
    const brs = items.find((b) => b.metadata.name === shadowNameForNode(node));
    return (
      brs?.status?.current_state === "Idle" &&
      brs.status.current_version === TO &&
      brs.spec?.state === "Idle" &&
      brs.spec.version === null
    );
  });
}

const count = (calls: Map<string, number[]>, node: string): number => calls.get(node)?.length ?? 0;

interface Brs {
  apiVersion?: string;
  metadata: { name: string; uid: string; resourceVersion: string };
  spec?: { state?: string; state_transition_timestamp?: string | null; version?: string | null };
  status?: ShadowStatus;
}

describe("migration from upstream Brupop and back (real control plane)", { timeout: 300_000 }, () => {
  const e2e = new E2eScenarios({
    timings: { tickMs: 500, hostDurations: HOST_DURATIONS, agentTimings: AGENT_TIMINGS },
    to: TO,
    name: "migration e2e",
  });
  let cluster: TestCluster;
  let tb: BrupopTestbed;
  let controller: Controller | undefined;
  let controllerRest: RawKubeRest | undefined;
  let watcher: FleetWatcher | undefined;
  const t0 = performance.now();

  // Roles (node names come from the testbed: <prefix><i>).
  let v1Idle: string, v1Staging: string, v1Performed: string, midReboot: string;
  let failed: string, held: string, rebooted: string, monitoring: string, done: string;
  let fromNodes: string[], toNodes: string[];
  let failedAt = 0;
  let heldAt = 0;
  const prepares = new Map<string, number[]>();

  before(async () => {
    cluster = await e2e.start();
    tb = await e2e.testbed(NS);
  });

  after(async () => {
    await controller?.stop();
    controllerRest?.close();
    await watcher?.stop();
    await e2e.stop();
  });

  const onFailure = async (err: unknown): Promise<never> => {
    await e2e.dumpLogs();
    throw err;
  };

  it("takes over an upstream install: every node finishes, none redoes a step, back-off as upstream", async () => {
    try {
      // ---- 1. What upstream leaves behind ------------------------------------------------------
      await putCrd(tb.rest, upstreamCrd(tb));
      // An install that started on v1 has v1 in storedVersions: our CRD must still be accepted.
      await kube(
        tb.rest,
        "PATCH",
        `${CRDS}/${CRD_NAME}/status`,
        { status: { storedVersions: ["v1", "v2"] } },
        { contentType: "application/merge-patch+json" },
      );

      fromNodes = await tb.addNodes(6, { version: FROM, namePrefix: "mf-", startAgents: false });
      toNodes = await tb.addNodes(3, { version: TO, namePrefix: "mt-", startAgents: false });
      [v1Idle, v1Staging, v1Performed, midReboot, failed, held] = exactly(fromNodes, 6);
      [rebooted, monitoring, done] = toNodes as [string, string, string];
      // Hosts upstream's agent had already staged and activated (the update is next to boot).
      await activateHost(tb, v1Performed);
      await activateHost(tb, midReboot);

      const owner = (node: string) => [{ apiVersion: "v1", kind: "Node", name: node, uid: tb.nodeUid(node) }];
      const create = async (
        version: "v1" | "v2",
        node: string,
        spec: Json,
        status: Json | undefined,
      ): Promise<void> => {
        const name = shadowNameForNode(node);
        await createWithStatus(
          bindKube(tb.rest),
          path(version),
          {
            apiVersion: `${API_GROUP}/${version}`,
            kind: "BottlerocketShadow",
            metadata: { name, ownerReferences: owner(node) },
            spec,
          },
          status,
        );
      };
      const now = Date.now();
      const ts = chronoStamp(now - 30_000);
      // v1 objects (an install that predates v2): Idle with an update offered; mid-staging; performed.
      await create(
        "v1",
        v1Idle,
        { state: "Idle", state_transition_timestamp: null, version: null },
        { current_version: FROM, target_version: TO, current_state: "Idle" },
      );
      await create(
        "v1",
        v1Staging,
        { state: "StagedUpdate", state_transition_timestamp: ts, version: TO },
        { current_version: FROM, target_version: TO, current_state: "Idle" },
      );
      await create(
        "v1",
        v1Performed,
        { state: "PerformedUpdate", state_transition_timestamp: ts, version: TO },
        { current_version: FROM, target_version: TO, current_state: "PerformedUpdate" },
      );
      // v2 objects: told to reboot, not yet rebooted; rebooted; monitoring.
      const v2 = (current: string, state: string, crash = 0, failure: string | null = null): Json => ({
        current_version: current,
        target_version: TO,
        current_state: state,
        crash_count: crash,
        state_transition_failure_timestamp: failure,
      });
      await create(
        "v2",
        midReboot,
        { state: "RebootedIntoUpdate", state_transition_timestamp: ts, version: TO },
        v2(FROM, "StagedAndPerformedUpdate"),
      );
      await create(
        "v2",
        rebooted,
        { state: "RebootedIntoUpdate", state_transition_timestamp: ts, version: TO },
        v2(TO, "RebootedIntoUpdate"),
      );
      await create(
        "v2",
        monitoring,
        { state: "MonitoringUpdate", state_transition_timestamp: ts, version: TO },
        v2(TO, "MonitoringUpdate"),
      );
      // A failed node, 2 min 15 s after its first failure: upstream retries it once MORE than
      // 2^1 whole minutes have passed, i.e. 3 min after the failure: 45 s from now.
      failedAt = now - 135_000;
      await create(
        "v2",
        failed,
        { state: "StagedAndPerformedUpdate", state_transition_timestamp: ts, version: TO },
        v2(FROM, "ErrorReset", 1, chronoStamp(failedAt)),
      );
      // A node that failed three times a minute ago: held for 2^3 + 1 = 9 minutes after it.
      heldAt = now - MIN;
      await create(
        "v2",
        held,
        { state: "Idle", state_transition_timestamp: null, version: null },
        v2(FROM, "Idle", 3, chronoStamp(heldAt)),
      );

      // A finished node whose shadow upstream's agent created and reported through the apiserver:
      // our apiserver must answer exactly what upstream's agent parses.
      const token = (await readFile(tb.tokenPath(done), "utf8")).trim();
      const created = await upstreamAgentCall(tb, done, token, "POST");
      assert.equal(created.status, 200, created.text);
      const createdBody = JSON.parse(created.text) as Brs & { metadata: { ownerReferences?: unknown } };
      assert.deepEqual(upstreamShadowProblems(createdBody, "v2"), [], created.text);
      assert.equal(createdBody.metadata.name, shadowNameForNode(done));
      await kube(
        tb.rest,
        "PATCH",
        path("v2", shadowNameForNode(done)),
        { spec: { state: "Idle", state_transition_timestamp: ts, version: TO } }, // upstream's controller
        { contentType: "application/merge-patch+json" },
      );
      const doneStatus = { current_version: TO, target_version: TO, current_state: "Idle", crash_count: 0 };
      const reported = await upstreamAgentCall(tb, done, token, "PUT", doneStatus);
      assert.equal(reported.status, 200, reported.text);
      assert.deepEqual(JSON.parse(reported.text), {
        ...doneStatus,
        state_transition_failure_timestamp: null,
      });
      assert.deepEqual(upstreamStatusProblems(JSON.parse(reported.text), "v2"), [], reported.text);
      const again = await upstreamAgentCall(tb, done, token, "POST");
      assert.equal(again.status, 200, "creating an existing shadow answers it, as 200");
      assert.deepEqual(upstreamShadowProblems(JSON.parse(again.text), "v2"), [], again.text);
      assert.deepEqual((JSON.parse(again.text) as Brs).status, {
        ...doneStatus,
        state_transition_failure_timestamp: null,
      });

      // ---- 2. Our install takes over ------------------------------------------------------------
      await putCrd(tb.rest, ourCrd(tb));
      watcher = new FleetWatcher(tb.rest, NS, logger);
      await watcher.start();
      tb.onCall = (node, call, phase) => {
        if (call === "host.prepare" && phase === "before")
          prepares.set(node, [...(prepares.get(node) ?? []), Date.now()]);
      };
      controllerRest = new RawKubeRest(cluster.kubeConfig);
      controller = new Controller(
        inProcessSettings({
          namespace: NS,
          maxConcurrent: 2,
          schedule: parseSchedule("* * * * * * *", new Date()),
          tickIntervalMs: 500,
        }),
        { rest: controllerRest, logger },
        { eventDebounceMs: 50, http: null },
      );
      const c = controller;
      // The controller first (it recovers the failed node before any agent acts on its stale spec),
      // then the agents, as the new DaemonSet's pods come up.
      await c.start();
      await eventually("the failed node recovered to spec Idle", 10_000, async () => {
        const brs = await kube<Brs>(tb.rest, "GET", path("v2", shadowNameForNode(failed)));
        return brs.spec?.state === "Idle";
      });
      for (const node of [...fromNodes, ...toNodes]) tb.startAgent(node);

      // Back-off, exactly upstream's: retry once the whole minutes since the failure exceed 2^n.
      const failedUntil = new Date(failedAt + 3 * MIN + 1); // +1 ms: the failure had 456789 ns
      const heldUntil = new Date(heldAt + 9 * MIN + 1);
      await eventually("the failed node is held by its back-off", 20_000, () => {
        const why = c.explain().find((e) => e.node === failed);
        return why?.reason.kind === "backoff";
      });
      assert.ok(Date.now() < failedUntil.getTime(), "still inside the back-off when checked");
      const explained = new Map(c.explain().map((e) => [e.node, e.reason]));
      assert.deepEqual(explained.get(failed), {
        kind: "backoff",
        until: failedUntil,
        crashCount: 1,
        targetVersion: TO,
      });
      assert.deepEqual(explained.get(held), {
        kind: "backoff",
        until: heldUntil,
        crashCount: 3,
        targetVersion: TO,
      });

      const finishers = [v1Idle, v1Staging, v1Performed, midReboot, failed, rebooted, monitoring, done];
      await eventually("every node but the held one Idle on 1.20.0", 120_000, async () =>
        allFinished((await kube<{ items: Brs[] }>(tb.rest, "GET", path("v2"))).items, finishers),
      );
      process.stderr.write(`  migration rollout took ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

      // Nobody redid a step it had done under upstream.
      const reboots = (node: string) => tb.reboots.filter((r) => r.hostId === node).length;
      const expected: [string, number, number][] = [
        // node, prepares, reboots
        [v1Idle, 1, 1],
        [v1Staging, 1, 1],
        [v1Performed, 0, 1], // already staged and activated
        [midReboot, 0, 1],
        [failed, 1, 1], // its retry, after the back-off
        [rebooted, 0, 0],
        [monitoring, 0, 0],
        [done, 0, 0],
        [held, 0, 0], // still waiting out its back-off
      ];
      for (const [node, p, r] of expected) {
        assert.equal(count(prepares, node), p, `${node}: prepares`);
        assert.equal(reboots(node), r, `${node}: reboots`);
        assert.equal(tb.fleet.host(node).version, node === held ? FROM : TO, `${node}: version`);
      }
      const retriedAt = prepares.get(failed)?.[0] ?? 0;
      assert.ok(
        retriedAt >= failedUntil.getTime(),
        `the failed node was retried ${failedUntil.getTime() - retriedAt} ms before its back-off ended`,
      );
      assert.deepEqual(watcher.statusHistory.get(shadowNameForNode(rebooted)), [
        "RebootedIntoUpdate",
        "MonitoringUpdate",
        "Idle",
      ]);
      assert.deepEqual(watcher.statusHistory.get(shadowNameForNode(monitoring)), [
        "MonitoringUpdate",
        "Idle",
      ]);
      assert.deepEqual(watcher.statusHistory.get(shadowNameForNode(done)), ["Idle"]);

      // The held node: untouched, same spec, same retry time.
      const heldBrs = await kube<Brs>(tb.rest, "GET", path("v2", shadowNameForNode(held)));
      assert.deepEqual(heldBrs.spec, { state: "Idle", state_transition_timestamp: null, version: null });
      assert.equal(heldBrs.status?.crash_count, 3);
      assert.deepEqual(c.explain().find((e) => e.node === held)?.reason, {
        kind: "backoff",
        until: heldUntil,
        crashCount: 3,
        targetVersion: TO,
      });
      // The failed node's completed cycle cleared its crash record.
      const failedBrs = await kube<Brs>(tb.rest, "GET", path("v2", shadowNameForNode(failed)));
      assert.equal(failedBrs.status?.crash_count, 0);
      assert.equal(failedBrs.status?.state_transition_failure_timestamp, null);
      for (const node of [...fromNodes, ...toNodes]) {
        const n = await tb.node(node);
        assert.notEqual(n.spec?.unschedulable, true, `${node} schedulable`);
        assert.equal(n.metadata.labels?.[UPDATER_INTERFACE_LABEL], "2.0.0");
      }
      assert.deepEqual(tb.errors, []);
    } catch (err) {
      await onFailure(err);
    }
  });

  it("rolls back: every object reads as upstream's v2 and v1 types and stays writable under upstream's CRD", async () => {
    try {
      await controller?.stop();
      for (const node of [...fromNodes, ...toNodes]) tb.killAgent(node);

      const check = async (when: string): Promise<Brs[]> => {
        const v2 = (await kube<{ items: Brs[] }>(tb.rest, "GET", path("v2"))).items;
        const v1 = (await kube<{ items: Brs[] }>(tb.rest, "GET", path("v1"))).items;
        assert.equal(v2.length, 9);
        assert.equal(v1.length, 9);
        for (const [version, items] of [
          ["v2", v2],
          ["v1", v1],
        ] as const) {
          for (const brs of items) {
            assert.deepEqual(
              upstreamShadowProblems({ ...brs, apiVersion: `${API_GROUP}/${version}` }, version),
              [],
              `${when}: ${version} ${brs.metadata.name}: ${JSON.stringify(brs)}`,
            );
          }
        }
        return v2;
      };
      const ours = await check("under our CRD");
      // Timestamps we wrote are RFC 3339 that chrono parses (checked above); make sure we did write some.
      assert.ok(
        ours.some((b) => typeof b.status?.state_transition_failure_timestamp === "string") ||
          ours.some((b) => typeof b.spec?.state_transition_timestamp === "string"),
        "some timestamps to check",
      );

      // helm rollback of the CRD chart: upstream's CRD again.
      await putCrd(tb.rest, upstreamCrd(tb));
      const back = await check("under upstream's CRD");

      // Upstream's agent re-reports each status as it reads it (merge patch of the whole status), and
      // upstream's controller writes a spec: the API server validates both against upstream's schema.
      for (const brs of back) {
        if (brs.status === undefined) continue;
        await kube(
          tb.rest,
          "PATCH",
          `${path("v2", brs.metadata.name)}/status`,
          { apiVersion: `${API_GROUP}/v2`, kind: "BottlerocketShadow", status: brs.status },
          { contentType: "application/merge-patch+json" },
        );
      }
      const heldName = shadowNameForNode(held);
      await kube(
        tb.rest,
        "PATCH",
        path("v2", heldName),
        {
          spec: {
            state: "StagedAndPerformedUpdate",
            state_transition_timestamp: chronoStamp(Date.now()),
            version: TO,
          },
        },
        { contentType: "application/merge-patch+json" },
      );
      const asV1 = await kube<Brs>(tb.rest, "GET", path("v1", heldName));
      assert.equal(asV1.spec?.state, "StagedUpdate");
      await check("after upstream's writes");
    } catch (err) {
      await onFailure(err);
    }
  });
});
