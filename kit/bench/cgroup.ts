// A process under a pod's resource limits, on the bench machine: a cgroup (v1: memory and cpu
// controllers, as on this machine) with a memory limit and a CFS CPU quota like the kubelet sets
// (`limits.cpu: 10m` = 1 ms of CPU per 100 ms period). Its figures are what `kubectl top` shows
// for a container: the working set (usage − inactive file pages). Used by bench/footprint.ts.
// Only the bench's own children are put in these groups, and the groups are removed afterwards.
import { mkdirSync, readFileSync, rmdirSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";

const ROOT = "/sys/fs/cgroup";

/** The cgroup v1 path of `controller` in the text of /proc/<pid>/cgroup (undefined: not v1). */
export function cgroupV1Path(procCgroup: string, controller: string): string | undefined {
  for (const line of procCgroup.split("\n")) {
    const [, controllers, path] = line.split(":");
    if (controllers?.split(",").includes(controller) === true && path !== undefined) return path;
  }
  return undefined;
}

/** Fields of a cgroup v1 memory.stat file. */
export function parseMemoryStat(text: string): Map<string, number> {
  const stat = new Map<string, number>();
  for (const line of text.split("\n")) {
    const [key, value] = line.trim().split(/\s+/);
    if (key !== undefined && key !== "" && value !== undefined) stat.set(key, Number(value));
  }
  return stat;
}

/** The working set as the kubelet computes it: usage minus inactive file pages (never below 0). */
export function workingSetBytes(usageBytes: number, stat: ReadonlyMap<string, number>): number {
  const inactive = stat.get("total_inactive_file") ?? stat.get("inactive_file") ?? 0;
  return Math.max(0, usageBytes - inactive);
}

export interface CgroupLimits {
  /** memory.limit_in_bytes (undefined: no limit). */
  memoryBytes?: number;
  /** CPU limit in millicores: CFS quota per 100 ms period (undefined: no limit). */
  cpuMillis?: number;
}

export interface CgroupReading {
  usageBytes: number;
  workingSetBytes: number;
  /** Anonymous memory (heap, stacks) charged to the group. */
  rssBytes: number;
  /** Page cache charged to the group (the node binary's pages, if this group read them first). */
  cacheBytes: number;
  maxUsageBytes: number;
  /** Times the limit was hit (reclaim), and OOM kills. */
  failcnt: number;
  oomKills: number;
  /** CFS periods throttled, and total throttled time. */
  throttledPeriods: number;
  throttledS: number;
}

const read = (path: string): string => readFileSync(path, "utf8");

/** A memory + cpu cgroup pair for one child process. */
export class BenchCgroup {
  readonly memoryDir: string;
  readonly cpuDir: string;
  readonly limits: CgroupLimits;

  private constructor(memoryDir: string, cpuDir: string, limits: CgroupLimits) {
    this.memoryDir = memoryDir;
    this.cpuDir = cpuDir;
    this.limits = limits;
  }

  /** Creates the groups under this process's own memory cgroup and the cpu root; undefined if not possible. */
  static create(name: string, limits: CgroupLimits): BenchCgroup | undefined {
    try {
      const own = read("/proc/self/cgroup");
      const memoryParent = cgroupV1Path(own, "memory");
      const cpuParent = cgroupV1Path(own, "cpu");
      if (memoryParent === undefined || cpuParent === undefined) return undefined;
      const memoryDir = join(ROOT, "memory", memoryParent, name);
      const cpuDir = join(ROOT, "cpu", cpuParent, name);
      mkdirSync(memoryDir);
      mkdirSync(cpuDir);
      const group = new BenchCgroup(memoryDir, cpuDir, limits);
      if (limits.memoryBytes !== undefined) {
        writeFileSync(join(memoryDir, "memory.limit_in_bytes"), String(limits.memoryBytes));
      }
      if (limits.cpuMillis !== undefined) {
        writeFileSync(join(cpuDir, "cpu.cfs_period_us"), "100000");
        writeFileSync(join(cpuDir, "cpu.cfs_quota_us"), String(Math.max(1000, limits.cpuMillis * 100)));
      }
      return group;
    } catch {
      return undefined;
    }
  }

  /** argv that enters the groups and then execs `argv` (so the process starts inside them). */
  wrap(argv: readonly string[]): string[] {
    const procs = [join(this.memoryDir, "cgroup.procs"), join(this.cpuDir, "cgroup.procs")];
    return [
      "/bin/sh",
      "-c",
      `echo $$ > '${procs[0]}' && echo $$ > '${procs[1]}' && exec "$@"`,
      "sh",
      ...argv,
    ];
  }

  read(): CgroupReading {
    const usage = Number(read(join(this.memoryDir, "memory.usage_in_bytes")));
    const stat = parseMemoryStat(read(join(this.memoryDir, "memory.stat")));
    const oom = parseMemoryStat(read(join(this.memoryDir, "memory.oom_control")));
    const cpu = parseMemoryStat(read(join(this.cpuDir, "cpu.stat")));
    return {
      usageBytes: usage,
      workingSetBytes: workingSetBytes(usage, stat),
      rssBytes: stat.get("total_rss") ?? stat.get("rss") ?? 0,
      cacheBytes: stat.get("total_cache") ?? stat.get("cache") ?? 0,
      maxUsageBytes: Number(read(join(this.memoryDir, "memory.max_usage_in_bytes"))),
      failcnt: Number(read(join(this.memoryDir, "memory.failcnt"))),
      oomKills: oom.get("oom_kill") ?? 0,
      throttledPeriods: cpu.get("nr_throttled") ?? 0,
      throttledS: (cpu.get("throttled_time") ?? 0) / 1e9,
    };
  }

  /** Removes both groups (their processes must have exited). */
  remove(): void {
    for (const dir of [this.memoryDir, this.cpuDir]) {
      try {
        if (existsSync(dir)) rmdirSync(dir);
      } catch {
        // still busy: left for the next boot
      }
    }
  }
}
