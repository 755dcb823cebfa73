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
import { runSchedule } from "../../kit/chaos/run.js";
import { generateSchedule } from "../../kit/chaos/schedule.js";
import { startCluster, type TestCluster } from "../../kit/testenv/cluster.js";

const NODES = 6;
/** Chosen so that together they draw every kind of fault (asserted below). */
const SEEDS = [11, 12, 13];
const FAULT_WINDOW_MS = 12_000;

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
      it(`seed ${seed}: no invariant violated, the fleet converges`, async () => {
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
      });
    }
  },
);
