// brupop agent against a REAL control plane (etcd, kube-apiserver, controller-manager, scheduler,
// kwok) and the real in-process brupop apiserver (bound tokens, TokenReview, Eviction-API drains).
// Hosts are simulated (SimulatedFleet, one Unix socket each, short command times). The TEST plays
// the controller: it writes each node's brs spec step by step. One cluster for the whole file.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";

import { agentCommand, testbedAgentFlags } from "../kit/agent-command.js";
import { CORDONED_BY_BRUPOP_ANNOTATION } from "../../src/k8s/cordon-marker.js";
import { createLogger, silentLogger } from "../../src/log.js";
import type { ShadowStatus } from "../../src/model/shadow.js";
import type { ShadowState } from "../../src/model/state.js";
import { eventually, kube, sleep } from "../kit/kube.js";
import { BrupopTestbed, CYCLE, type CallPhase } from "../kit/testbed.js";

const OLD = "1.19.0";
const NEW = "1.20.0";
const WORKLOADS = "workloads";

const logger =
  process.env["BRUPOP_E2E_LOG"] === "1"
    ? createLogger({ level: "debug", name: "e2e-agent" })
    : silentLogger();

interface PodList {
  items: { metadata: { name: string; deletionTimestamp?: string } }[];
}

describe("brupop agent on a real control plane", { timeout: 300_000 }, () => {
  let tb: BrupopTestbed;

  const podsOn = async (node: string): Promise<string[]> =>
    (
      await kube<PodList>(tb.rest, "GET", `/api/v1/namespaces/${WORKLOADS}/pods`, undefined, {
        query: { fieldSelector: `spec.nodeName=${node}` },
      })
    ).items.map((p) => p.metadata.name);

  /** A bare workload pod bound to the node (kwok runs it); the drain must evict it. */
  async function workloadOn(node: string): Promise<string> {
    const name = `web-${node}`;
    await kube(tb.rest, "POST", `/api/v1/namespaces/${WORKLOADS}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, labels: { app: "web" } },
      spec: { nodeName: node, containers: [{ name: "web", image: "registry.example/web:1" }] },
    });
    return name;
  }

  /** A fresh node with its agent, initialised: Idle on OLD with NEW offered. */
  async function freshNodes(count: number, prefix: string): Promise<string[]> {
    const nodes = await tb.addNodes(count, { version: OLD, namePrefix: prefix });
    await Promise.all(
      nodes.map((n) =>
        tb.waitForStatus(n, "initial status", (s) => s.current_state === "Idle" && s.target_version === NEW),
      ),
    );
    return nodes;
  }

  const withLogs = (fn: () => Promise<void>) => async (): Promise<void> => {
    try {
      await fn();
      assert.deepEqual(tb.errors, [], "testbed reboot handling");
    } catch (err) {
      process.stderr.write(`\n${await tb.cluster.dumpLogs(30)}\n`);
      throw err;
    }
  };

  before(async () => {
    tb = await BrupopTestbed.start({
      releases: [{ version: NEW, releasedAt: 0 }],
      hostDurations: { refresh: 100, prepare: 300, activate: 100, reboot: 400 },
      agentTimings: { loopIntervalMs: 500 },
      logger,
    });
    await kube(tb.rest, "POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: WORKLOADS },
    });
  });

  after(async () => {
    await tb?.stop();
  });

  it(
    "one node: creates its shadow, then Idle → StagedAndPerformedUpdate → RebootedIntoUpdate → MonitoringUpdate → Idle on the new version, drained before its reboot and uncordoned after",
    withLogs(async () => {
      const [node] = (await tb.addNodes(1, { version: OLD, namePrefix: "cycle-" })) as [string];
      const shadow = await eventually("the agent creates its brs", 30_000, async () => {
        const s = await tb.shadow(node);
        return s.status !== undefined;
      }).then(() => tb.shadow(node));
      const nodeObj = await tb.node(node);
      assert.deepEqual(
        shadow.metadata.ownerReferences?.map(({ kind, name, uid }) => ({ kind, name, uid })),
        [{ kind: "Node", name: node, uid: nodeObj.metadata.uid }],
      );
      assert.deepEqual(shadow.status, {
        current_version: OLD,
        target_version: NEW,
        current_state: "Idle",
        crash_count: 0,
        state_transition_failure_timestamp: null,
      });
      const pod = await workloadOn(node);

      // What the node looked like when its host went down.
      let atReboot: { unschedulable: boolean; marker: string | undefined; pods: string[] } | undefined;
      tb.onReboot = async (e) => {
        if (e.hostId !== node) return;
        const n = await tb.node(node);
        atReboot = {
          unschedulable: n.spec?.unschedulable === true,
          marker: n.metadata.annotations?.[CORDONED_BY_BRUPOP_ANNOTATION],
          pods: await podsOn(node),
        };
      };
      try {
        const seen: ShadowStatus[] = [];
        for (const state of CYCLE) {
          await tb.setSpec(node, state, NEW);
          seen.push(
            await tb.waitForStatus(node, state, (s) => s.current_state === state, {
              failOn: (s) => s.current_state === "ErrorReset",
            }),
          );
          if (state === "StagedAndPerformedUpdate") {
            assert.equal(tb.fleet.host(node).updateState, "Ready", "staged and activated");
            assert.equal(tb.fleet.host(node).version, OLD, "not rebooted yet");
          }
          if (state === "RebootedIntoUpdate") {
            const n = await tb.node(node);
            assert.notEqual(n.spec?.unschedulable, true, "uncordoned after the reboot");
            assert.equal(n.metadata.annotations?.[CORDONED_BY_BRUPOP_ANNOTATION], undefined);
          }
        }
        assert.deepEqual(
          seen.map((s) => [s.current_state, s.current_version]),
          [
            ["StagedAndPerformedUpdate", OLD],
            ["RebootedIntoUpdate", NEW],
            ["MonitoringUpdate", NEW],
            ["Idle", NEW],
          ],
        );
        assert.deepEqual(seen.at(-1), {
          current_version: NEW,
          target_version: NEW,
          current_state: "Idle",
          crash_count: 0,
          state_transition_failure_timestamp: null,
        });
        assert.deepEqual(atReboot, { unschedulable: true, marker: "true", pods: [] }, "cordoned and drained");
        assert.equal((await podsOn(node)).includes(pod), false, "the workload pod was evicted");
        assert.deepEqual(
          tb.reboots.filter((r) => r.hostId === node).map((r) => [r.fromVersion, r.toVersion]),
          [[OLD, NEW]],
          "exactly one reboot",
        );
        assert.equal(tb.fleet.host(node).version, NEW);
      } finally {
        tb.onReboot = undefined;
      }
    }),
  );

  it(
    "a failed prepare ends in ErrorReset with crash_count 1; back to Idle the node can try again, and succeeds",
    withLogs(async () => {
      const [node] = (await freshNodes(1, "fail-")) as [string];
      const host = tb.fleet.host(node);
      host.failCommand("prepare", { times: 1, stderr: "simulated: download failed" });
      await tb.setSpec(node, "StagedAndPerformedUpdate", NEW);
      const failed = await tb.waitForStatus(node, "ErrorReset", (s) => s.current_state === "ErrorReset");
      assert.equal(failed.crash_count, 1);
      assert.equal(failed.current_version, OLD);
      assert.ok(failed.state_transition_failure_timestamp !== null);
      assert.ok(Math.abs(Date.parse(failed.state_transition_failure_timestamp) - Date.now()) < 60_000);
      // Why, through the apiserver's validation and the CRD's schema (issue 19).
      assert.equal(failed.failure?.reason, "HostCommandFailed");
      assert.equal(failed.failure?.state, "StagedAndPerformedUpdate");
      assert.match(failed.failure?.message ?? "", /prepare failed .*simulated: download failed/);

      // The spec still asks for the update: the agent waits for the controller, it does not retry.
      await sleep(1_500);
      assert.equal(host.updateState, "Available", "no second prepare");
      assert.deepEqual((await tb.shadow(node)).status, failed);

      await tb.setSpec(node, "Idle", NEW);
      const recovered = await tb.waitForStatus(node, "Idle", (s) => s.current_state === "Idle");
      assert.equal(recovered.crash_count, 1, "kept for the controller's back-off");
      assert.equal(recovered.failure?.reason, "HostCommandFailed", "the reason stays with the crash record");
      assert.notEqual((await tb.node(node)).spec?.unschedulable, true);

      const done = await tb.playController(node, NEW);
      assert.equal(done.current_version, NEW);
      assert.equal(done.crash_count, 0, "a completed cycle clears the crash record");
      assert.equal(done.state_transition_failure_timestamp, null);
      assert.equal(done.failure, undefined, "and the failure with it");
    }),
  );

  it(
    "a reboot that rolls back ends in ErrorReset with the node still cordoned; back to Idle brupop uncordons it",
    withLogs(async () => {
      const [node] = (await freshNodes(1, "rollback-")) as [string];
      await tb.setSpec(node, "StagedAndPerformedUpdate", NEW);
      await tb.waitForStatus(node, "staged", (s) => s.current_state === "StagedAndPerformedUpdate");
      tb.fleet.host(node).rollbackNextReboot();
      await tb.setSpec(node, "RebootedIntoUpdate", NEW);
      const failed = await tb.waitForStatus(node, "ErrorReset", (s) => s.current_state === "ErrorReset");
      assert.equal(failed.crash_count, 1);
      assert.equal(failed.current_version, OLD, "came back on the old version");
      assert.equal(failed.failure?.reason, "HostNotReady");
      assert.match(failed.failure?.message ?? "", /not ready to reboot into/);
      assert.equal(tb.reboots.filter((r) => r.hostId === node).length, 1);
      const cordoned = await tb.node(node);
      assert.equal(cordoned.spec?.unschedulable, true, "still cordoned while in ErrorReset");

      await tb.setSpec(node, "Idle", NEW);
      await tb.waitForStatus(node, "Idle", (s) => s.current_state === "Idle");
      await eventually("uncordoned", 10_000, async () => (await tb.node(node)).spec?.unschedulable !== true);
      assert.equal((await tb.node(node)).metadata.annotations?.[CORDONED_BY_BRUPOP_ANNOTATION], undefined);
    }),
  );

  it(
    "a node an operator cordoned stays cordoned after its update; brupop's own cordon is lifted",
    withLogs(async () => {
      const [byOperator, byBrupop] = (await freshNodes(2, "cordon-")) as [string, string];
      await kube(
        tb.rest,
        "PATCH",
        `/api/v1/nodes/${byOperator}`,
        { spec: { unschedulable: true } },
        { contentType: "application/merge-patch+json" },
      );
      let operatorNodeAtReboot: boolean | undefined;
      tb.onReboot = async (e) => {
        if (e.hostId === byOperator) operatorNodeAtReboot = (await tb.node(byOperator)).spec?.unschedulable;
      };
      try {
        await Promise.all([tb.playController(byOperator, NEW), tb.playController(byBrupop, NEW)]);
      } finally {
        tb.onReboot = undefined;
      }
      assert.equal(operatorNodeAtReboot, true);
      const op = await tb.node(byOperator);
      assert.equal(op.spec?.unschedulable, true, "the operator's cordon is kept");
      assert.equal(op.metadata.annotations?.[CORDONED_BY_BRUPOP_ANNOTATION], undefined);
      assert.notEqual((await tb.node(byBrupop)).spec?.unschedulable, true);
      assert.equal(tb.fleet.host(byOperator).version, NEW);
    }),
  );

  it(
    "killing the agent in the middle of each state and starting a new one never loses the node",
    withLogs(async () => {
      // Where to crash: while the spec is `state`, around `call`. A delay crashes that long after
      // the call started, while it is still running (on the host, or the drain in the apiserver).
      interface KillPoint {
        state: ShadowState;
        call: string;
        phase: CallPhase;
        delayMs?: number;
      }
      const points: KillPoint[] = [
        { state: "StagedAndPerformedUpdate", call: "host.prepare", phase: "before", delayMs: 120 },
        { state: "StagedAndPerformedUpdate", call: "host.prepare", phase: "after" },
        { state: "StagedAndPerformedUpdate", call: "host.activate", phase: "after" },
        { state: "StagedAndPerformedUpdate", call: "apiserver.updateStatus", phase: "before" },
        { state: "RebootedIntoUpdate", call: "apiserver.cordonAndDrain", phase: "before", delayMs: 60 },
        { state: "RebootedIntoUpdate", call: "apiserver.cordonAndDrain", phase: "after" },
        { state: "RebootedIntoUpdate", call: "host.reboot", phase: "before" },
        { state: "RebootedIntoUpdate", call: "apiserver.uncordon", phase: "after" },
        { state: "RebootedIntoUpdate", call: "apiserver.updateStatus", phase: "before" },
        // Not an uncordon: the node was uncordoned on reaching RebootedIntoUpdate, and the agent
        // only calls uncordon while the Node shows brupop's cordon (issue 26).
        { state: "MonitoringUpdate", call: "apiserver.updateStatus", phase: "before" },
        { state: "MonitoringUpdate", call: "apiserver.updateStatus", phase: "after" },
        { state: "Idle", call: "apiserver.updateStatus", phase: "before" },
      ];
      const nodes = await freshNodes(points.length, "kill-");
      const plan = new Map(nodes.map((n, i) => [n, points[i] as KillPoint]));
      const specOf = new Map<string, ShadowState>();
      const fired = new Set<string>();
      for (const n of nodes) await workloadOn(n);

      // Whether a call qualifies is judged when it starts: by the time it returns, the test may
      // already have seen its effect and moved the spec on.
      const armed = new Set<string>();
      tb.onCall = (node, call, phase) => {
        const p = plan.get(node);
        if (p === undefined || fired.has(node) || p.call !== call) return;
        if (phase === "before") {
          if (specOf.get(node) === p.state) armed.add(node);
          else armed.delete(node);
        }
        if (p.phase !== phase || !armed.has(node)) return;
        fired.add(node);
        if (p.delayMs !== undefined) {
          setTimeout(() => tb.restartAgent(node), p.delayMs);
          return;
        }
        tb.restartAgent(node);
        // Crashed just before the call: it never happens.
        if (phase === "before") throw new Error("killed");
      };
      try {
        const results = await Promise.all(
          nodes.map((n) =>
            tb.playController(n, NEW, { onState: (s) => specOf.set(n, s), stepTimeoutMs: 60_000 }),
          ),
        );
        assert.deepEqual([...fired].sort(), [...nodes].sort(), "every kill point was hit");
        for (const [i, n] of nodes.entries()) {
          const p = points[i] as KillPoint;
          const where = `${p.state} ${p.call} ${p.phase}`;
          assert.deepEqual(
            results[i],
            {
              current_version: NEW,
              target_version: NEW,
              current_state: "Idle",
              crash_count: 0,
              state_transition_failure_timestamp: null,
            },
            where,
          );
          assert.equal(tb.fleet.host(n).version, NEW, where);
          assert.equal(tb.reboots.filter((r) => r.hostId === n).length, 1, `${where}: exactly one reboot`);
          assert.notEqual((await tb.node(n)).spec?.unschedulable, true, `${where}: uncordoned`);
          assert.deepEqual(await podsOn(n), [], `${where}: drained`);
        }
      } finally {
        tb.onCall = undefined;
      }
    }),
  );
  it(
    "`brupop agent` as a process: configured from env and flags, acts, exits 0 on SIGTERM and 2 on bad config",
    withLogs(async () => {
      const [node] = (await tb.addNodes(1, { version: OLD, namePrefix: "proc-", startAgents: false })) as [
        string,
      ];
      const [exe, ...base] = agentCommand() as [string, ...string[]];
      const args = [...base, ...testbedAgentFlags(tb, node)];
      const run = (env: Record<string, string>) => {
        const child = spawn(exe, args, {
          env: { ...process.env, ...env },
          stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
        return { child, exit, stderr: () => stderr };
      };

      const bad = run({ MY_NODE_NAME: "", EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC: "0" });
      assert.equal(await bad.exit, 2);
      assert.match(bad.stderr(), /^error: MY_NODE_NAME/m);

      const agent = run({ MY_NODE_NAME: node, TRACING_FILTER_DIRECTIVE: "warn" });
      try {
        await tb.waitForStatus(
          node,
          "initial status",
          (s) => s.current_state === "Idle" && s.target_version === NEW,
          {
            timeoutMs: 60_000,
          },
        );
        await tb.setSpec(node, "StagedAndPerformedUpdate", NEW);
        await tb.waitForStatus(node, "staged", (s) => s.current_state === "StagedAndPerformedUpdate", {
          timeoutMs: 60_000,
        });
        assert.equal(tb.fleet.host(node).updateState, "Ready");
        agent.child.kill("SIGTERM");
        assert.equal(await agent.exit, 0, agent.stderr());
      } finally {
        if (agent.child.exitCode === null) agent.child.kill("SIGKILL");
      }
    }),
  );
});
