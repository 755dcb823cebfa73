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
import { generateSchedule } from "../../kit/chaos/schedule.js";
import { startCluster, type TestCluster } from "../../kit/testenv/cluster.js";

const NODES = 6;
/**
 * Together they draw 7 kinds of fault (asserted below). Seed 12 kills brupop's apiserver while
 * nodes reboot: before the testbed kept the apiserver URL taken at start, every agent started after
 * the kill threw and two nodes stayed cordoned mid-update (invariant 4).
 */
const SEEDS = [11, 12, 13];
const FAULT_WINDOW_MS = 12_000;
/**
 * Seeds that run but may fail, for an open finding (docs/reliability.md, "Results"): a kill of
 * brupop's apiserver mid-drain sometimes leaves two nodes cordoned with no eviction for minutes.
 */
const KNOWN_OPEN = new Map([
  [12, "open: stuck drain after kill-apiserver mid-eviction (docs/reliability.md)"],
]);

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
  { timeout: 300_000 },
  () => {
    let cluster: TestCluster;
    let dir: string;

    before(async () => {
      cluster = await startCluster();
      dir = await mkdtemp(join(tmpdir(), "brupop-chaos-"));
    });

    after(async () => {
      if ((cluster as TestCluster | undefined) !== undefined) await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it("the seeds cover the whole fault vocabulary", () => {
      const kinds = new Set(
        SEEDS.flatMap((s) =>
          generateSchedule(s, { nodes: NODES, faultWindowMs: FAULT_WINDOW_MS }).faults.map(
            (f) => f.fault.kind,
          ),
        ),
      );
      assert.ok(kinds.size >= 6, `kinds drawn: ${[...kinds].join(", ")}`);
    });

    for (const seed of SEEDS) {
      const todo = KNOWN_OPEN.get(seed);
      const opts = todo === undefined ? {} : { todo };
      it(`seed ${seed}: no invariant violated, the fleet converges`, opts, async () => {
        const schedule = generateSchedule(seed, { nodes: NODES, faultWindowMs: FAULT_WINDOW_MS });
        const r = await runSchedule({
          cluster,
          schedule,
          namespace: `chaos-ci-${seed}`,
          dir: join(dir, `seed-${seed}`),
          settleMs: 60_000,
        });
        process.stderr.write(`  ${summaryLine(r)}\n`);
        const report = r.violations
          .map((v) => describeViolation({ seed, nodes: NODES }, v, r.history))
          .join("\n");
        assert.deepEqual(r.violations, [], report);
        assert.ok(r.settled, "the fleet settled after the heal");
        assert.ok(r.faultsInjected > 0, "faults were injected");
        assert.deepEqual(r.outcome.stuck, []);
        assert.deepEqual(r.testbedErrors, []);
        if (seed === SEEDS[0]) checkersSeeTheRun(r.history);
      });
    }
  },
);
