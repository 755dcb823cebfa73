// The UpdatePolicy (issue 18) end to end: a real control plane, real in-process agents and
// simulated hosts (BrupopTestbed), driven by the real Controller watching a real UpdatePolicy.
// One cluster for the file; each scenario has its own namespace, nodes and policy (the policy is
// cluster-scoped, so each controller is pointed at its own policy name).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { ControllerConfig } from "../../src/controller/run/controller.js";
import { Informer } from "../../src/k8s/informer.js";
import {
  CLEAR_HALT_ANNOTATION,
  NODE_PAUSED_ANNOTATION,
  POLICY_COLLECTION_PATH,
  ZONE_LABEL,
  type PolicyStatus,
  type RawPolicy,
  VERSION_LOCK_ANNOTATION,
} from "../../src/model/policy.js";
import { nodeNameForShadow } from "../../src/model/constants.js";
import { eventually, kube, sleep } from "../kit/kube.js";
import type { BrupopTestbed } from "../kit/testbed.js";
import { shadowsPath, type RawBrs } from "../kit/watchers.js";
import { receiver } from "../kit/webhook.js";
import type { RawKubeRest } from "../../kit/testenv/raw-rest.js";
import { E2eScenarios, e2eLogger } from "../kit/e2e.js";

const FROM = "1.19.0";
const TO = "1.20.0";
const TICK_MS = 300;
const HOST_DURATIONS = { refresh: 50, prepare: 200, activate: 50, deactivate: 50, reboot: 300 };
const AGENT_TIMINGS = { loopIntervalMs: 500, updateCheckIntervalMs: 1_000, excludeFromLbWaitMs: 0 };

const active = (b: RawBrs) =>
  b.spec?.state !== "Idle" || (b.status !== undefined && b.status.current_state !== "Idle");

/** Every shadow's activity, and the most nodes ever active at once per zone and in all. */
class ActivityWatcher {
  readonly #informer: Informer<RawBrs>;
  readonly #active = new Map<string, boolean>();
  readonly maxPerZone = new Map<string, number>();
  maxTotal = 0;
  readonly started = new Set<string>();
  /** When each shadow first left Idle (wall clock, ms). */
  readonly startedAt = new Map<string, number>();

  constructor(rest: RawKubeRest, ns: string, zoneOf: (node: string) => string) {
    this.#informer = new Informer<RawBrs>({ rest, path: shadowsPath(ns), logger: e2eLogger });
    this.#informer.on((type, obj) => {
      const name = obj.metadata?.name ?? "";
      const on = type !== "delete" && active(obj);
      this.#active.set(name, on);
      if (on && !this.started.has(name)) this.startedAt.set(name, Date.now());
      if (on) this.started.add(name);
      const perZone = new Map<string, number>();
      let total = 0;
      for (const [n, a] of this.#active) {
        if (!a) continue;
        total++;
        const z = zoneOf(nodeNameForShadow(n) ?? n);
        perZone.set(z, (perZone.get(z) ?? 0) + 1);
      }
      this.maxTotal = Math.max(this.maxTotal, total);
      for (const [z, k] of perZone) this.maxPerZone.set(z, Math.max(this.maxPerZone.get(z) ?? 0, k));
    });
  }

  start(): Promise<void> {
    this.#informer.start();
    return this.#informer.waitForSync();
  }

  stop(): Promise<void> {
    return this.#informer.stop();
  }
}

describe("UpdatePolicy (real control plane, real agents, simulated hosts)", { timeout: 300_000 }, () => {
  const e2e = new E2eScenarios({
    timings: { tickMs: TICK_MS, hostDurations: HOST_DURATIONS, agentTimings: AGENT_TIMINGS },
    to: TO,
    timed: true,
    name: "policy e2e",
  });
  let rest: RawKubeRest;

  const nodes = (tb: BrupopTestbed, prefix: string, n: number, labels?: Record<string, string>) =>
    e2e.offered(tb, prefix, n, { version: FROM, ...(labels && { labels }) });

  async function createPolicy(name: string, spec: Record<string, unknown>): Promise<void> {
    await kube(rest, "POST", POLICY_COLLECTION_PATH, {
      apiVersion: "brupop.bottlerocket.aws/v1alpha1",
      kind: "UpdatePolicy",
      metadata: { name },
      spec,
    });
    e2e.cleanup(() =>
      kube(rest, "DELETE", `${POLICY_COLLECTION_PATH}/${name}`, undefined, { ok: [200, 404] }),
    );
  }

  const getPolicy = (name: string) => kube<RawPolicy>(rest, "GET", `${POLICY_COLLECTION_PATH}/${name}`);
  const patchPolicy = (name: string, patch: unknown) =>
    kube(rest, "PATCH", `${POLICY_COLLECTION_PATH}/${name}`, patch, {
      contentType: "application/merge-patch+json",
    });
  const condition = (status: PolicyStatus | undefined, type: string) =>
    status?.conditions?.find((c) => c.type === type);

  const controller = (tb: BrupopTestbed, policyName: string, config: Partial<ControllerConfig> = {}) =>
    e2e.controller(tb, { policyName, ...config });

  async function brs(tb: BrupopTestbed): Promise<RawBrs[]> {
    return (await kube<{ items: RawBrs[] }>(tb.rest, "GET", shadowsPath(tb.namespace))).items;
  }
  const onTo = (b: RawBrs | undefined) =>
    b?.status?.current_state === "Idle" && b.status.current_version === TO && b.spec?.state === "Idle";

  before(async () => {
    await e2e.start();
    rest = e2e.rest;
  });
  after(() => e2e.stop());

  it(
    "pause mid-rollout: the node updating finishes, no other starts, status and explain say so; a paused Node is held alone",
    e2e.run(async () => {
      const tb = await e2e.testbed("pol-pause");
      const names = await nodes(tb, "pa-", 4);
      await createPolicy("e2e-pause", { paused: false });
      const w = new ActivityWatcher(tb.rest, tb.namespace, () => "z");
      e2e.cleanup(() => w.stop());
      await w.start();
      const c = controller(tb, "e2e-pause");
      await c.start();

      await eventually("a first node starts", 20_000, () => w.started.size >= 1);
      await patchPolicy("e2e-pause", { spec: { paused: true } });
      await eventually("paused: the policy says so", 10_000, async () => {
        const p = await getPolicy("e2e-pause");
        return condition(p.status, "Paused")?.status === "True";
      });
      await sleep(1_000); // starts decided before the pause have reached the watcher
      const startedAtPause = new Set(w.started);
      await eventually("the nodes started before the pause finish", 30_000, async () => {
        const all = await brs(tb);
        return [...startedAtPause].every((n) => onTo(all.find((b) => b.metadata?.name === n)));
      });
      // Twenty ticks with nothing in progress: nothing may start.
      await sleep(20 * TICK_MS);
      const all = await brs(tb);
      const moved = all.filter((b) => !startedAtPause.has(b.metadata?.name ?? "") && active(b));
      assert.deepEqual(
        moved.map((b) => b.metadata?.name),
        [],
        "no node started while paused",
      );
      assert.ok(startedAtPause.size < names.length, "the pause came mid-rollout");
      const held = c.explain().filter((e) => e.reason.kind === "policy-hold");
      assert.ok(held.length > 0);
      for (const e of held) assert.equal(e.message, "paused by UpdatePolicy e2e-pause");
      const p = await getPolicy("e2e-pause");
      assert.equal(p.status?.nodes?.held, names.length - startedAtPause.size);
      assert.match(
        condition(p.status, "Paused")?.message ?? "",
        /^paused by UpdatePolicy e2e-pause: no node starts/,
      );

      // Unpause, but hold one node with its Node annotation: every other node finishes, it stays.
      const waiting = names.filter((n) => !startedAtPause.has(`brs-${n}`));
      const heldNode = waiting[waiting.length - 1] ?? "";
      await kube(
        tb.rest,
        "PATCH",
        `/api/v1/nodes/${heldNode}`,
        { metadata: { annotations: { [NODE_PAUSED_ANNOTATION]: "true" } } },
        {
          contentType: "application/merge-patch+json",
        },
      );
      // While the whole fleet is paused, explain names the fleet's pause; give the Node watch a moment.
      await sleep(2_000);
      await patchPolicy("e2e-pause", { spec: { paused: false } });
      await eventually("explain names the Node annotation", 10_000, () =>
        c.explain().some((e) => e.node === heldNode && /paused by Node annotation/.test(e.message)),
      );
      await eventually("every other node on 1.20.0", 60_000, async () => {
        const items = await brs(tb);
        return names
          .filter((n) => n !== heldNode)
          .every((n) => onTo(items.find((b) => b.metadata?.name === `brs-${n}`)));
      });
      await sleep(10 * TICK_MS);
      assert.equal(tb.fleet.host(heldNode).version, FROM, "the annotated node was held");
      assert.equal(w.maxTotal, 1, "MAX_CONCURRENT_UPDATE 1 held throughout");
    }),
  );

  it(
    "failure budget: two injected host failures halt the fleet (condition, Event), a restart stays halted, the clear annotation resumes",
    e2e.run(async () => {
      const tb = await e2e.testbed("pol-budget");
      const names = await nodes(tb, "fb-", 4);
      // The controller starts nodes by name: the first two fail their prepare every time.
      const [bad1, bad2, good1, good2] = names as [string, string, string, string];
      for (const n of [bad1, bad2])
        tb.fleet.host(n).failCommand("prepare", { stderr: "e2e: injected failure" });
      await createPolicy("e2e-budget", { maxConcurrent: 2, failureBudget: { maxFailures: 2, window: "1h" } });
      const w = new ActivityWatcher(tb.rest, tb.namespace, () => "z");
      e2e.cleanup(() => w.stop());
      await w.start();
      const hook = await receiver();
      e2e.cleanup(() => Promise.resolve(hook.close()));
      const c1 = controller(tb, "e2e-budget", {
        maxConcurrent: 1,
        notify: { url: hook.url, format: "json", timeoutMs: 2_000 },
      });
      await c1.start();

      await eventually(
        "halted",
        60_000,
        async () => condition((await getPolicy("e2e-budget")).status, "Halted")?.status === "True",
      );
      await sleep(1_000); // starts decided before the halt have reached the watcher
      const startedAtHalt = new Set(w.started);
      const p = await getPolicy("e2e-budget");
      const halted = condition(p.status, "Halted");
      assert.equal(halted?.reason, "FailureBudgetExhausted");
      assert.match(halted?.message ?? "", new RegExp(`${bad1}, ${bad2}`));
      assert.deepEqual(p.status?.failureBudget?.haltedNodes, [bad1, bad2]);
      assert.equal(
        p.status?.effectiveMaxConcurrent,
        "2",
        "the policy's maxConcurrent overrides the environment's 1",
      );
      await eventually("a Warning Event on the policy", 10_000, async () => {
        const ev = await kube<{
          items: { reason: string; type: string; involvedObject: { kind: string; name: string } }[];
        }>(rest, "GET", "/api/v1/namespaces/default/events");
        return ev.items.some(
          (e) =>
            e.involvedObject.kind === "UpdatePolicy" &&
            e.involvedObject.name === "e2e-budget" &&
            e.reason === "FailureBudgetExhausted" &&
            e.type === "Warning",
        );
      });
      await eventually("the webhook hears the fleet halted", 10_000, () =>
        hook.got.some(
          (n) => n.kind === "fleet-halted" && n.reason === "FailureBudgetExhausted" && n.nodes === 2,
        ),
      );
      await sleep(10 * TICK_MS);
      assert.deepEqual([...w.started].sort(), [...startedAtHalt].sort(), "no node started after the halt");

      // A new controller (restart / failover) reads the halt from the policy's status.
      await c1.stop();
      const c2 = controller(tb, "e2e-budget");
      await c2.start();
      await sleep(15 * TICK_MS);
      assert.deepEqual([...w.started].sort(), [...startedAtHalt].sort(), "still halted after a restart");
      const waitingNode = [good1, good2].find((n) => !startedAtHalt.has(`brs-${n}`));
      if (waitingNode !== undefined)
        assert.match(
          c2.explain().find((e) => e.node === waitingNode)?.message ?? "",
          /^halted by UpdatePolicy e2e-budget: failure budget exhausted/,
        );

      // A person clears it: the healthy nodes update (the failed ones wait out their back-off).
      await patchPolicy("e2e-budget", { metadata: { annotations: { [CLEAR_HALT_ANNOTATION]: "1" } } });
      await eventually("the healthy nodes on 1.20.0", 60_000, async () => {
        const items = await brs(tb);
        return [good1, good2].every((n) => onTo(items.find((b) => b.metadata?.name === `brs-${n}`)));
      });
      const cleared = await getPolicy("e2e-budget");
      assert.equal(condition(cleared.status, "Halted")?.status, "False");
      assert.equal(cleared.status?.failureBudget?.clearedBy, "1");
    }),
  );

  it(
    "per-zone limit: six nodes in three zones, maxConcurrent 100% and 1 per zone: never two in one zone, zones in parallel",
    e2e.run(async () => {
      const tb = await e2e.testbed("pol-zone");
      const zoneOfNode = new Map<string, string>();
      const all: string[] = [];
      for (const z of ["a", "b", "c"]) {
        const zone = `e2e-zone-${z}`;
        for (const n of await nodes(tb, `z${z}-`, 2, { [ZONE_LABEL]: zone })) {
          zoneOfNode.set(n, zone);
          all.push(n);
        }
      }
      await createPolicy("e2e-zone", { maxConcurrent: "100%", maxConcurrentPerZone: 1, targetVersion: TO });
      const w = new ActivityWatcher(tb.rest, tb.namespace, (n) => zoneOfNode.get(n) ?? "?");
      e2e.cleanup(() => w.stop());
      await w.start();
      const c = controller(tb, "e2e-zone");
      await c.start();
      await eventually("all six on 1.20.0", 90_000, async () => {
        const items = await brs(tb);
        return all.every((n) => onTo(items.find((b) => b.metadata?.name === `brs-${n}`)));
      });
      for (const [zone, max] of w.maxPerZone) assert.equal(max, 1, `at most one node of ${zone} at once`);
      assert.ok(w.maxTotal >= 2, `zones updated in parallel (max ${w.maxTotal} at once)`);
      assert.ok(w.maxTotal <= 3);
      const p = await getPolicy("e2e-zone");
      assert.equal(p.status?.effectiveMaxConcurrent, "6");
      // The pin's contract with the agent: every shadow carries the version lock.
      const annotated = await kube<{
        items: { metadata: { name: string; annotations?: Record<string, string> } }[];
      }>(tb.rest, "GET", shadowsPath(tb.namespace));
      for (const b of annotated.items)
        assert.equal(
          b.metadata.annotations?.[VERSION_LOCK_ANNOTATION],
          TO,
          `${b.metadata.name} version lock`,
        );
      await eventually(
        "status counts the fleet up to date",
        10_000,
        async () => (await getPolicy("e2e-zone")).status?.nodes?.upToDate === 6,
      );
      // Lifting the pin: each shadow's lock says "latest" (its agent unlocks the host); never removed,
      // since a shadow without the annotation leaves the host's lock to the operator.
      await patchPolicy("e2e-zone", { spec: { targetVersion: null } });
      await eventually("every version lock says latest after the unpin", 20_000, async () =>
        (
          await kube<{ items: { metadata: { annotations?: Record<string, string> } }[] }>(
            tb.rest,
            "GET",
            shadowsPath(tb.namespace),
          )
        ).items.every((b) => b.metadata.annotations?.[VERSION_LOCK_ANNOTATION] === "latest"),
      );
    }),
  );

  it(
    "groups: the canary group updates first, the rest only after it finished and soaked",
    e2e.run(async () => {
      const tb = await e2e.testbed("pol-group");
      const canary = await nodes(tb, "gc-", 1, { "e2e/tier": "canary" });
      const rest = await nodes(tb, "gr-", 2);
      const soakMs = 2_000;
      await createPolicy("e2e-group", {
        maxConcurrent: 5,
        groups: [{ name: "canary", matchLabels: { "e2e/tier": "canary" }, soak: "2s" }],
      });
      const w = new ActivityWatcher(tb.rest, tb.namespace, () => "z");
      e2e.cleanup(() => w.stop());
      await w.start();
      const c = controller(tb, "e2e-group");
      await c.start();
      await eventually("all three on 1.20.0", 60_000, async () => {
        const items = await brs(tb);
        return [...canary, ...rest].every((n) => onTo(items.find((b) => b.metadata?.name === `brs-${n}`)));
      });
      const p = await getPolicy("e2e-group");
      const finishedAt = Date.parse(p.status?.groups?.find((g) => g.name === "canary")?.finishedAt ?? "");
      assert.ok(Number.isFinite(finishedAt), "the canary group's finish is in the status");
      for (const n of rest) {
        const at = w.startedAt.get(`brs-${n}`) ?? 0;
        assert.ok(at >= finishedAt + soakMs, `${n} started ${at - finishedAt} ms after the canary finished`);
      }
      assert.equal(w.maxTotal, 2, "the rest group updated in parallel (maxConcurrent 5)");
    }),
  );
});
