// Memory per simulated host: starts N hosts (each serving its own Unix socket), has every one
// answer a refresh over its socket, and reports heap and RSS growth per host.
//
//   node_modules/.bin/node --import tsx kit/simulator/measure-memory.ts [hosts]
//
// The benchmark suite can call measureFleetMemory() directly.
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import { pathToFileURL } from "node:url";
import { BottlerocketApiClient } from "../../src/bottlerocket/client.js";
import { SimulatedFleet } from "./fleet.js";

export interface FleetMemoryReport {
  hosts: number;
  heapBytesPerHost: number;
  rssBytesPerHost: number;
  heapUsedBytes: { before: number; after: number };
  rssBytes: { before: number; after: number };
  startMs: number;
}

function collector(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing !== undefined) return existing;
  // Without --expose-gc: turn the flag on and fetch gc from a fresh context.
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

async function settle(gc: () => void): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage();
}

export async function measureFleetMemory(
  hosts = 1_000,
  opts: { exercise?: boolean } = {},
): Promise<FleetMemoryReport> {
  const gc = collector();
  const before = await settle(gc);
  const t0 = performance.now();
  const fleet = await SimulatedFleet.create({
    durations: { refresh: 1, prepare: 1, activate: 1, deactivate: 1, reboot: 1 },
    releases: [{ version: "1.20.0", releasedAt: 0 }],
  });
  try {
    await fleet.addHosts(Array.from({ length: hosts }, (_, i) => ({ id: `h${i}`, version: "1.19.0" })));
    const startMs = performance.now() - t0;
    if (opts.exercise !== false) {
      // Every host answers over its socket, so its state (status, command record) is populated.
      const members = [...fleet.members()];
      for (let i = 0; i < members.length; i += 50) {
        await Promise.all(
          members
            .slice(i, i + 50)
            .map((m) => new BottlerocketApiClient({ socketPath: m.socketPath, pollIntervalMs: 1 }).refresh()),
        );
      }
    }
    const after = await settle(gc);
    return {
      hosts,
      heapBytesPerHost: Math.round((after.heapUsed - before.heapUsed) / hosts),
      rssBytesPerHost: Math.round((after.rss - before.rss) / hosts),
      heapUsedBytes: { before: before.heapUsed, after: after.heapUsed },
      rssBytes: { before: before.rss, after: after.rss },
      startMs: Math.round(startMs),
    };
  } finally {
    await fleet.close();
  }
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  const n = Number(process.argv[2] ?? 1_000);
  const r = await measureFleetMemory(n);
  const kib = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;
  process.stdout.write(
    `${r.hosts} simulated hosts started in ${r.startMs} ms: ` +
      `heap ${kib(r.heapBytesPerHost)}/host, RSS ${kib(r.rssBytesPerHost)}/host ` +
      `(heap ${(r.heapUsedBytes.after / 2 ** 20).toFixed(1)} MiB, RSS ${(r.rssBytes.after / 2 ** 20).toFixed(1)} MiB total)\n`,
  );
}
