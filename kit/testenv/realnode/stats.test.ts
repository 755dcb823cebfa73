import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { podUsage, workingSet } from "./stats.js";

describe("pod cgroup usage", () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("working set = usage - inactive file, never negative", () => {
    const table: [number, string, number][] = [
      [100, "cache 50\ntotal_inactive_file 30\n", 70],
      [100, "total_inactive_file 130\n", 0],
      [100, "cache 5\n", 100],
    ];
    for (const [usage, stat, want] of table) assert.equal(workingSet(usage, stat), want);
  });

  it("finds pods in every QoS class and reads memory and CPU", async () => {
    const base = await mkdtemp(join(tmpdir(), "brupop-cg-"));
    dirs.push(base);
    const pods = {
      "kubepods/pod1111": [1000, 100, 2e9],
      "kubepods/burstable/pod2222_aa": [5000, 1000, 5e8],
      "kubepods/besteffort/pod3333": [10, 0, 0],
    } as const;
    for (const [rel, [usage, inactive, cpu]] of Object.entries(pods)) {
      const mem = join(base, "memory", "root", "n0", rel);
      const acct = join(base, "cpuacct", "root", "n0", rel);
      await mkdir(mem, { recursive: true });
      await mkdir(acct, { recursive: true });
      await writeFile(join(mem, "memory.usage_in_bytes"), `${String(usage)}\n`);
      await writeFile(join(mem, "memory.stat"), `cache 1\ntotal_inactive_file ${String(inactive)}\n`);
      await writeFile(join(acct, "cpuacct.usage"), `${String(cpu)}\n`);
    }
    const got = (await podUsage("n0", "/root/n0", base)).sort((a, b) => a.podUid.localeCompare(b.podUid));
    assert.deepEqual(
      got.map((p) => [p.podUid, p.workingSetBytes, p.usageBytes, p.cpuSeconds]),
      [
        ["1111", 900, 1000, 2],
        ["2222-aa", 4000, 5000, 0.5],
        ["3333", 10, 10, 0],
      ],
    );
  });
});
