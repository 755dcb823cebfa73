// Per-pod resource use on real nodes, read from the pods' cgroups the way the kubelet (cAdvisor)
// and `kubectl top` compute it: memory working set = usage - inactive file cache (never below 0),
// CPU = cumulative cpuacct usage. cgroup v1 with the cgroupfs driver:
// <hierarchy><cgroupRoot>/kubepods[/burstable|/besteffort]/pod<uid>.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

export interface PodUsage {
  readonly node: string;
  readonly podUid: string;
  /** Bytes: memory.usage_in_bytes minus total_inactive_file (what kubelet evicts and `top` shows). */
  readonly workingSetBytes: number;
  /** Bytes: the cgroup's whole memory use, page cache included. */
  readonly usageBytes: number;
  /** Seconds of CPU the pod used since it started. */
  readonly cpuSeconds: number;
}

/** Working set from memory.usage_in_bytes and memory.stat (cAdvisor's definition). */
export function workingSet(usageBytes: number, memoryStat: string): number {
  const m = /^total_inactive_file (\d+)$/m.exec(memoryStat);
  const inactive = m?.[1] === undefined ? 0 : Number(m[1]);
  return Math.max(0, usageBytes - inactive);
}

/** "pod<uid>" dirs below a kubepods cgroup (QoS classes are one level down). */
export async function podCgroups(kubepods: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const scan = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!e.isDirectory()) continue;
      if (e.name.startsWith("pod")) out.set(e.name.slice(3).replaceAll("_", "-"), join(dir, e.name));
      else if (e.name === "burstable" || e.name === "besteffort") await scan(join(dir, e.name));
    }
  };
  await scan(kubepods);
  return out;
}

export async function podUsage(
  node: string,
  cgroupRoot: string,
  base = "/sys/fs/cgroup",
): Promise<PodUsage[]> {
  const pods = await podCgroups(join(base, "memory", cgroupRoot, "kubepods"));
  const out: PodUsage[] = [];
  for (const [uid, memDir] of pods) {
    const rel = memDir.slice(join(base, "memory").length);
    try {
      const [usage, stat, cpu] = await Promise.all([
        readFile(join(memDir, "memory.usage_in_bytes"), "utf8"),
        readFile(join(memDir, "memory.stat"), "utf8"),
        readFile(join(base, "cpuacct", rel, "cpuacct.usage"), "utf8"),
      ]);
      const usageBytes = Number(usage.trim());
      out.push({
        node,
        podUid: uid,
        usageBytes,
        workingSetBytes: workingSet(usageBytes, stat),
        cpuSeconds: Number(cpu.trim()) / 1e9,
      });
    } catch {
      // the pod went away while we read it
    }
  }
  return out;
}
