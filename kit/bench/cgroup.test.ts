import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cgroupV1Path, parseMemoryStat, workingSetBytes } from "./cgroup.js";

describe("cgroup figures", () => {
  it("finds a v1 controller's path in /proc/<pid>/cgroup", () => {
    const text = ["9:name=systemd:/", "4:memory:/process_api/abc", "2:cpu,cpuacct:/x", "0::/"].join("\n");
    assert.equal(cgroupV1Path(text, "memory"), "/process_api/abc");
    assert.equal(cgroupV1Path(text, "cpu"), "/x");
    assert.equal(cgroupV1Path(text, "cpuacct"), "/x");
    assert.equal(cgroupV1Path("0::/user.slice", "memory"), undefined);
  });

  it("computes the working set like the kubelet: usage − inactive file, never below 0", () => {
    const stat = parseMemoryStat("cache 4096\nrss 100\ntotal_inactive_file 3000\ninactive_file 10\n");
    assert.equal(stat.get("rss"), 100);
    assert.equal(workingSetBytes(10_000, stat), 7_000);
    assert.equal(workingSetBytes(1_000, stat), 0);
    assert.equal(workingSetBytes(500, parseMemoryStat("inactive_file 100")), 400);
  });
});
