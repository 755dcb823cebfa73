import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CpuWindow, parseCpuTicks, parseRssBytes, parseSystemTicks, ProcessSampler } from "./proc.js";

describe("proc readings", () => {
  it("parses /proc texts", () => {
    assert.equal(parseCpuTicks("123 (node (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0"), 300);
    assert.equal(parseRssBytes("Name:\tnode\nVmRSS:\t  2048 kB\n"), 2 * 1024 * 1024);
    assert.equal(parseRssBytes("Name:\tzombie\n"), 0);
    assert.deepEqual(parseSystemTicks("cpu  10 0 5 80 5 0 0 0 0 0\ncpu0 1 2 3"), { busy: 15, total: 100 });
  });

  it("samples this process: RSS over a window and the CPU it burnt", async () => {
    const sampler = new ProcessSampler(process.pid, 10);
    sampler.start();
    sampler.begin("w");
    const cpu = new CpuWindow([{ pid: process.pid, name: "me" }]);
    cpu.begin();
    // Busy until this process has burnt 150 ms of CPU (by its own account), not for a wall-clock
    // time: on a loaded machine 120 ms of wall clock can be 30 ms of CPU.
    const start = process.cpuUsage();
    const giveUp = performance.now() + 20_000;
    let x = 0;
    const burnt = () => {
      const d = process.cpuUsage(start);
      return (d.user + d.system) / 1e6;
    };
    while (burnt() < 0.15 && performance.now() < giveUp)
      for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + 1);
    await sleep(30);
    const w = sampler.end("w");
    const c = cpu.end();
    sampler.stop();
    assert.ok(x > 0);
    assert.ok(w.rssPeakBytes > 10 * 1024 * 1024 && w.rssPeakBytes >= w.rssMeanBytes);
    assert.ok(w.samples >= 2);
    assert.ok(w.cpuSeconds > 0.05, `cpu ${w.cpuSeconds}`);
    assert.ok((c.byProcess["me"] ?? 0) > 0.05);
    assert.ok(c.systemBusyPercent > 0 && c.systemBusyPercent <= 100);
  });
});
