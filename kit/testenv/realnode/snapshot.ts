// A snapshot of the machine state real nodes could change (sysctls, iptables, mounts, cgroups,
// interfaces, addresses, routes, named network namespaces), to prove that a real-node cluster
// leaves the host as it found it — after stop() and after a SIGKILL of the test process.
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface HostSnapshot {
  readonly sysctls: readonly string[];
  readonly iptables: readonly string[];
  readonly ip6tables: readonly string[];
  readonly mounts: readonly string[];
  readonly cgroups: readonly string[];
  readonly links: readonly string[];
  readonly addresses: readonly string[];
  readonly routes: readonly string[];
  readonly netns: readonly string[];
}

/** Sysctls worth comparing: what kubelet, kube-proxy and CNI plugins may set; volatile ones out. */
export function relevantSysctl(line: string): boolean {
  if (!/^(kernel\.(panic|keys)|vm\.(overcommit|panic)|net\.)/.test(line)) return false;
  return !/nf_conntrack_count|\.stat|random|neigh\..*\.(base_reachable|gc)/.test(line);
}

/** iptables-save output without comments and packet counters. */
export function normaliseIptables(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => l.replace(/\[\d+:\d+\]/g, "[0:0]"));
}

/** mountinfo lines as "mountpoint fstype source", minus mounts made by other tools' own storage. */
export function normaliseMounts(mountinfo: string, ignorePrefixes: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (pre === undefined || post === undefined) continue;
    const point = pre.split(" ")[4] ?? "";
    if (ignorePrefixes.some((p) => point.startsWith(p))) continue;
    const [fstype, source] = post.split(" ");
    out.push(`${point} ${fstype ?? ""} ${source ?? ""}`);
  }
  return out.sort();
}

export interface SnapshotOptions {
  /** Mount points to ignore (e.g. buildah's storage, which other jobs on the machine use). */
  ignoreMounts?: readonly string[];
  /** Prefixes of top-level cgroup dirs to ignore (other jobs' cgroups come and go meanwhile). */
  ignoreCgroups?: readonly string[];
}

export async function snapshotHost(opts: SnapshotOptions = {}): Promise<HostSnapshot> {
  const text = async (cmd: string, args: readonly string[]): Promise<string> => {
    try {
      return (await run(cmd, args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
    } catch (err) {
      return `(${cmd} failed: ${err instanceof Error ? err.message : String(err)})`;
    }
  };
  const [sysctl, ipt, ip6t, mountinfo, links, addrs, routes] = await Promise.all([
    text("sysctl", ["-a"]),
    text("iptables-save", []),
    text("ip6tables-save", []),
    readFile("/proc/self/mountinfo", "utf8"),
    text("ip", ["-o", "link", "show"]),
    text("ip", ["-o", "addr", "show"]),
    text("ip", ["route", "show", "table", "all"]),
  ]);
  return {
    sysctls: sysctl.split("\n").filter(relevantSysctl).sort(),
    iptables: normaliseIptables(ipt),
    ip6tables: normaliseIptables(ip6t),
    mounts: normaliseMounts(mountinfo, opts.ignoreMounts ?? []),
    cgroups: await cgroupDirs(opts.ignoreCgroups ?? []),
    // Link lines carry no counters with plain `show`; strip the qdisc state that can flap.
    links: links
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => l.replace(/\\.*$/, ""))
      .sort(),
    addresses: addrs
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => l.replace(/\\\s+valid_lft.*$/, ""))
      .sort(),
    routes: routes
      .split("\n")
      .filter((l) => l !== "")
      .sort(),
    netns: await readdir("/run/netns").catch(() => []),
  };
}

async function cgroupDirs(ignore: readonly string[]): Promise<string[]> {
  const base = "/sys/fs/cgroup";
  const out: string[] = [];
  const walk = async (d: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = join(d, e.name);
      if (depth === 1 && ignore.some((prefix) => e.name.startsWith(prefix))) continue;
      out.push(p);
      if (depth < 4) await walk(p, depth + 1);
    }
  };
  for (const h of await readdir(base)) await walk(join(base, h), 1);
  return out.sort();
}

/** Human-readable differences ("+ added" / "- removed" per section); empty when equal. */
export function diffSnapshots(before: HostSnapshot, after: HostSnapshot): string[] {
  const out: string[] = [];
  for (const key of Object.keys(before) as (keyof HostSnapshot)[]) {
    const a = new Set(before[key]);
    const b = new Set(after[key]);
    for (const x of a) if (!b.has(x)) out.push(`${key}: - ${x}`);
    for (const x of b) if (!a.has(x)) out.push(`${key}: + ${x}`);
  }
  return out;
}
