// Resident memory and CPU time of a process, from /proc (Linux), for the benchmark suite
// (`npm run bench`). A ProcessSampler reads one pid every interval; marks split the run into windows
// (e.g. "steady", "rollout") so each window gets its own peak RSS and CPU seconds.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { basename } from "node:path";

let ticksPerSecond: number | undefined;

/** Kernel clock ticks per second (the unit of /proc/<pid>/stat times). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond !== undefined) return ticksPerSecond;
  try {
    const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    ticksPerSecond = Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

/** utime + stime from the text of /proc/<pid>/stat, in clock ticks. */
export function parseCpuTicks(statText: string): number {
  // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ")".
  const fields = statText.slice(statText.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** VmRSS from the text of /proc/<pid>/status, in bytes (0 when absent, e.g. a zombie). */
export function parseRssBytes(statusText: string): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(statusText);
  return m?.[1] === undefined ? 0 : Number(m[1]) * 1024;
}

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  return parseCpuTicks(readFileSync(`/proc/${pid}/stat`, "utf8")) / clockTicksPerSecond();
}

export function rssBytes(pid: number): number {
  return parseRssBytes(readFileSync(`/proc/${pid}/status`, "utf8"));
}

export interface WindowFigures {
  name: string;
  durationS: number;
  cpuSeconds: number;
  /** CPU seconds per wall second × 100 (100 = one core busy). */
  cpuPercent: number;
  rssPeakBytes: number;
  rssMeanBytes: number;
  rssLastBytes: number;
  samples: number;
}

interface OpenWindow {
  name: string;
  t0: number;
  cpu0: number;
  rss: number[];
}

/** Samples one process's RSS every `intervalMs`; `begin`/`end` measure named windows. */
export class ProcessSampler {
  readonly pid: number;
  readonly #intervalMs: number;
  readonly #open = new Map<string, OpenWindow>();
  #timer: NodeJS.Timeout | undefined;
  #peak = 0;

  constructor(pid: number, intervalMs = 500) {
    this.pid = pid;
    this.#intervalMs = intervalMs;
  }

  /** Highest RSS seen since start(). */
  get peakBytes(): number {
    return this.#peak;
  }

  start(): void {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  begin(name: string): void {
    const rss = this.#read();
    this.#open.set(name, { name, t0: performance.now(), cpu0: this.#cpu(), rss: rss === 0 ? [] : [rss] });
  }

  end(name: string): WindowFigures {
    const w = this.#open.get(name);
    if (w === undefined) throw new TypeError(`no open window ${name}`);
    this.#open.delete(name);
    const last = this.#read();
    if (last > 0) w.rss.push(last);
    const durationS = (performance.now() - w.t0) / 1000;
    const cpu = this.#cpu() - w.cpu0;
    return {
      name,
      durationS: round(durationS, 1),
      cpuSeconds: round(cpu, 2),
      cpuPercent: durationS > 0 ? round((cpu / durationS) * 100, 1) : 0,
      rssPeakBytes: Math.max(0, ...w.rss),
      rssMeanBytes: Math.round(w.rss.reduce((a, b) => a + b, 0) / Math.max(1, w.rss.length)),
      rssLastBytes: last,
      samples: w.rss.length,
    };
  }

  #cpu(): number {
    try {
      return cpuSeconds(this.pid);
    } catch {
      return 0;
    }
  }

  #read(): number {
    try {
      return rssBytes(this.pid);
    } catch {
      return 0; // the process is gone
    }
  }

  #sample(): void {
    const rss = this.#read();
    if (rss === 0) return;
    this.#peak = Math.max(this.#peak, rss);
    for (const w of this.#open.values()) w.rss.push(rss);
  }
}

export function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Busy and total jiffies of all CPUs, from the text of /proc/stat (its first line). */
export function parseSystemTicks(procStat: string): { busy: number; total: number } {
  const first = procStat.split("\n", 1)[0] ?? "";
  const v = first.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const total = v.slice(0, 8).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

/** Processes whose command line contains `needle` (e.g. a test cluster's directory). */
export function findProcesses(needle: string): { pid: number; name: string }[] {
  const out: { pid: number; name: string }[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0");
      if (!argv.some((a) => a.includes(needle))) continue;
      out.push({ pid: Number(e), name: basename(argv[0] ?? "?") });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export interface CpuBreakdown {
  durationS: number;
  /** Busy share of all CPUs (100 = every core busy). */
  systemBusyPercent: number;
  cores: number;
  /** CPU seconds per named process over the window. */
  byProcess: Record<string, number>;
}

/** CPU use of the whole machine and of named processes between begin() and end(). */
export class CpuWindow {
  readonly #procs: { pid: number; name: string }[];
  #t0 = 0;
  #sys0 = { busy: 0, total: 0 };
  #cpu0 = new Map<number, number>();

  constructor(procs: readonly { pid: number; name: string }[]) {
    this.#procs = [...procs];
  }

  begin(): void {
    this.#t0 = performance.now();
    this.#sys0 = parseSystemTicks(readFileSync("/proc/stat", "utf8"));
    this.#cpu0 = new Map(this.#procs.map((p) => [p.pid, safeCpu(p.pid)]));
  }

  end(): CpuBreakdown {
    const sys = parseSystemTicks(readFileSync("/proc/stat", "utf8"));
    const byProcess: Record<string, number> = {};
    for (const p of this.#procs) {
      const used = safeCpu(p.pid) - (this.#cpu0.get(p.pid) ?? 0);
      byProcess[p.name] = round((byProcess[p.name] ?? 0) + Math.max(0, used), 2);
    }
    const total = sys.total - this.#sys0.total;
    return {
      durationS: round((performance.now() - this.#t0) / 1000, 1),
      systemBusyPercent: total > 0 ? round(((sys.busy - this.#sys0.busy) / total) * 100, 1) : 0,
      cores: cpus().length,
      byProcess,
    };
  }
}

function safeCpu(pid: number): number {
  try {
    return cpuSeconds(pid);
  } catch {
    return 0;
  }
}
