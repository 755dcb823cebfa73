// The chaos suite's fixed CI set (issue 28, docs/reliability.md): a few seeded fault schedules against
// brupop on the REAL control plane (kwok nodes, simulated hosts, in-process agents, apiserver and two
// controller replicas with leader election), every invariant checked over the independent observer's
// history. A failure prints the seed, the invariant and the history window; `npm run chaos -- --seed S
// --schedules 1 --nodes 6` replays it. The big runs are `npm run chaos` (docs/reliability.md).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { describeViolation, summaryLine } from "../../kit/chaos/report.js";
import type { HistoryEvent } from "../../kit/chaos/history.js";
import { checkConcurrency, checkReboots } from "../../kit/chaos/invariants.js";
import { runSchedule } from "../../kit/chaos/run.js";
import {
  CLASSIC_FAULT_KINDS,
  CONTROL_PLANE_FAULT_KINDS,
  generateSchedule,
  type FaultKind,
  type Schedule,
} from "../../kit/chaos/schedule.js";
import { startCluster, type TestCluster } from "../../kit/testenv/cluster.js";
import { eventually, kube } from "../../kit/testenv/kube-call.js";
import { kubeDrainApi } from "../../src/apiserver/drain-api.js";
import { drainNode } from "../../src/apiserver/drain.js";
import { RawKubeRest } from "../../kit/testenv/raw-rest.js";

const NODES = 6;
const FAULT_WINDOW_MS = 12_000;
/**
 * The settle fails after this long without any change to the fleet (kit/chaos/settle.ts), not after
 * a fixed wait: a fixed 60 s was too short at load 13 (seed 11 still rolling out, seed 1010's last
 * two nodes mid-drain), while a stuck fleet changes nothing.
 */
const SETTLE_MS = 120_000;
/**
 * Together they draw 10 kinds of fault (asserted below). Seed 11 restarts kube-apiserver mid-drain
 * (before cluster.setNodeReady retried its write, the simulated kubelet's reboot report failed);
 * seed 22 restarts etcd and cuts the controllers' connections twice. Seed 1010 (classic kinds,
 * 20 s window) is the run where a kill of brupop's apiserver mid-eviction left two nodes cordoned
 * for 100 s (docs/reliability.md); its interleaving is a race, so the drain test above pins the
 * mechanism and this replays the schedule. Drawn with the vocabulary of its day (`--kinds classic`).
 */
const CASES: {
  seed: number;
  nodes?: number;
  kinds?: readonly FaultKind[];
  faultWindowMs?: number;
  /** Runs and prints its verdict, but does not fail the suite (an open finding). */
  todo?: string;
}[] = [
  { seed: 11, kinds: CONTROL_PLANE_FAULT_KINDS },
  { seed: 12, kinds: CONTROL_PLANE_FAULT_KINDS },
  { seed: 13, kinds: CONTROL_PLANE_FAULT_KINDS },
  { seed: 22, kinds: CONTROL_PLANE_FAULT_KINDS },
  // At load 13 its last two nodes (retried after their crash back-off) were still mid-drain when a
  // fixed 60 s settle ran out; at load 1 the same phase comes 25 s into the settle. Slow, not stuck.
  { seed: 1010, kinds: CLASSIC_FAULT_KINDS, faultWindowMs: 20_000 },
  // A cut kube-apiserver connection answered an agent's uncordon after the reboot with 500, and the
  // agent quarantined the updated node (now 502, retried).
  {
    seed: 3000,
    nodes: 10,
    faultWindowMs: 20_000,
    kinds: ["restart-kube-apiserver", "restart-etcd", "cut-connections", "kill-apiserver", "kill-controller"],
  },
  // The agents' watches of their shadow and Node reset twice (the second mid-rollout), a NotReady
  // node in a drain between.
  { seed: 4035 },
  // The 200-schedule run: the node lifecycle controller marked a pod not Ready after the kit's
  // one-shot re-ready of a rebooted node; nothing reported it Ready again (now kit/testenv/
  // kubelet-play.ts), its PDB stayed at 0 disruptions and every drain after it failed.
  { seed: 5149, nodes: 10, faultWindowMs: 20_000 },
  // The 200-schedule run: after two kube-apiserver restarts the scheduler, behind the cordon by
  // 0.1 s, bound a replacement pod to n421 after the drain's list; the node rebooted with it
  // (invariant 3). The drain now lists again until nothing is left to evict.
  { seed: 5181, nodes: 10, faultWindowMs: 20_000 },
];
const scheduleOf = (c: (typeof CASES)[number]): Schedule =>
  generateSchedule(c.seed, {
    nodes: c.nodes ?? NODES,
    faultWindowMs: c.faultWindowMs ?? FAULT_WINDOW_MS,
    ...(c.kinds !== undefined && { kinds: c.kinds }),
  });
/**
 * The checkers must be able to fail on this real history: told the limit was 1 (seed 11 runs 3
 * nodes at once) invariant 1 breaks; without the cordons the observer saw, invariant 3 does.
 */
function checkersSeeTheRun(history: readonly HistoryEvent[]): void {
  const meta = history.find((e) => e.kind === "meta");
  assert.ok(meta?.kind === "meta" && meta.schedule.maxConcurrent > 1);
  const lowered = history.map((e) =>
    e.kind === "meta" ? { ...e, schedule: { ...e.schedule, maxConcurrent: 1 } } : e,
  );
  assert.ok(checkConcurrency(lowered).length > 0, "a limit of 1 is exceeded in this history");
  const uncordoned = history.filter((e) => !(e.kind === "node" && e.unschedulable));
  assert.ok(
    checkReboots(uncordoned).some((v) => /not cordoned/.test(v.message)),
    "reboots without the observed cordons break invariant 3",
  );
}

describe(
  "chaos: fixed fault schedules, invariants from an independent observer",
  { timeout: 600_000 },
  () => {
    let cluster: TestCluster;
    let dir: string;
    const kept: string[] = [];

    before(async () => {
      cluster = await startCluster();
      dir = await mkdtemp(join(tmpdir(), "brupop-chaos-"));
    });

    after(async () => {
      if ((cluster as TestCluster | undefined) !== undefined) await cluster.stop();
      // A failing seed's history stays for the post-mortem (its path was printed).
      if (kept.length === 0) await rm(dir, { recursive: true, force: true });
    });

    it("the seeds cover the whole fault vocabulary", () => {
      const kinds = new Set(CASES.flatMap((c) => scheduleOf(c).faults.map((f) => f.fault.kind)));
      assert.ok(kinds.size >= 10, `kinds drawn: ${[...kinds].join(", ")}`);
    });

    // Seed 1010's stuck drain (docs/reliability.md): brupop's apiserver killed while kube-apiserver
    // handled one of its evictions left the pod in the PDB's status.disruptedPods (granted) but never
    // deleted, holding the budget at 0 for Kubernetes' 2 min expiry. The state is written here
    // directly; without the drain completing the grant, the drain answers 429 until its deadline.
    it("a granted eviction cut off before its pod's delete: the drain completes it", async () => {
      const rest = new RawKubeRest(cluster.kubeConfig);
      const ns = "chaos-grant";
      try {
        const [drained = "", other = ""] = await cluster.addNodes(2, { namePrefix: "chaos-grant-" });
        await kube(rest, "POST", "/api/v1/namespaces", { metadata: { name: ns } });
        const pods = [
          ["web-0", drained],
          ["web-1", other],
          ["web-2", other],
        ] as const;
        for (const [name, node] of pods) {
          await eventually(`pod ${name} created`, 30_000, async () => {
            await kube(rest, "POST", `/api/v1/namespaces/${ns}/pods`, {
              metadata: { name, labels: { app: "grant" } },
              spec: { nodeName: node, containers: [{ name: "web", image: "chaos/web:1" }] },
            });
            return true;
          });
        }
        const pdbPath = `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/grant`;
        await kube(rest, "POST", `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`, {
          metadata: { name: "grant" },
          spec: { minAvailable: 2, selector: { matchLabels: { app: "grant" } } },
        });
        type Pdb = { status?: { disruptionsAllowed?: number; disruptedPods?: Record<string, string> } };
        await eventually("the PDB allows 1 disruption", 60_000, async () => {
          const pdb = await kube<Pdb>(rest, "GET", pdbPath);
          return pdb.status?.disruptionsAllowed === 1;
        });
        // Timestamps have 1 s resolution, and the drain does not take a grant in the pod's creation
        // second as its own (it could be an earlier pod's of that name): let a second pass.
        await new Promise((resolve) => setTimeout(resolve, 1_100));
        // What kube-apiserver's eviction handler writes before it deletes the pod.
        await kube(
          rest,
          "PATCH",
          `${pdbPath}/status`,
          { status: { disruptionsAllowed: 0, disruptedPods: { "web-0": new Date().toISOString() } } },
          { contentType: "application/merge-patch+json" },
        );
        await eventually("the disruption controller keeps the grant", 30_000, async () => {
          const pdb = await kube<Pdb>(rest, "GET", pdbPath);
          return pdb.status?.disruptedPods?.["web-0"] !== undefined && pdb.status.disruptionsAllowed === 0;
        });
        const t0 = performance.now();
        const result = await drainNode(kubeDrainApi(rest), drained, {
          retryIntervalMs: 500,
          pollIntervalMs: 200,
          timeoutMs: 30_000,
        });
        assert.deepEqual(
          result.evicted.map((p) => p.name),
          ["web-0"],
        );
        assert.ok(performance.now() - t0 < 30_000);
        const left = await kube<{ items: { metadata: { name: string } }[] }>(
          rest,
          "GET",
          `/api/v1/namespaces/${ns}/pods`,
        );
        assert.deepEqual(left.items.map((p) => p.metadata.name).sort(), ["web-1", "web-2"]);
      } finally {
        await rest.request("DELETE", `/api/v1/namespaces/${ns}`);
        rest.close();
      }
    });

    for (const c of CASES) {
      const seed = c.seed;
      it(
        `seed ${seed}: no invariant violated, the fleet converges`,
        c.todo === undefined ? {} : { todo: c.todo },
        async () => {
          const schedule = scheduleOf(c);
          const r = await runSchedule({
            cluster,
            schedule,
            namespace: `chaos-ci-${seed}`,
            dir: join(dir, `seed-${seed}`),
            settleMs: SETTLE_MS,
          });
          if (r.violations.length > 0 || !r.settled || r.testbedErrors.length > 0) {
            kept.push(r.dir);
            process.stderr.write(`  seed ${seed}: history kept in ${r.dir}\n`);
          }
          process.stderr.write(`  ${summaryLine(r)}\n`);
          const report = r.violations
            .map((v) => describeViolation({ seed, nodes: schedule.nodes }, v, r.history))
            .join("\n");
          assert.deepEqual(r.violations, [], report);
          assert.ok(r.settled, "the fleet settled after the heal");
          assert.ok(r.faultsInjected > 0, "faults were injected");
          assert.deepEqual(r.outcome.stuck, []);
          assert.deepEqual(r.testbedErrors, []);
          if (seed === 11) checkersSeeTheRun(r.history);
        },
      );
    }
  },
);
