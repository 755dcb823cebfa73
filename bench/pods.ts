// Footprint AS SHIPPED (issue 14): brupop's pods on real nodes, installed from the image and both
// charts as docs/install.md says, measured the way kubelet and `kubectl top` do — each pod's cgroup
// working set (memory usage minus inactive file cache) and its CPU — beside the process-RSS figures
// of bench/footprint.ts. Then one rollout, and the agent's start time after the reboot: the agent
// container's start (its status.startedAt, 1 s resolution) → its first status report (the first
// change of its shadow's status seen after that).
//
//   npm run bench:pods [-- --nodes 2 --window-s 30]    (root; npm run testenv:build-realnode)
//
// Writes bench/results/pods.json. Never two real-node clusters at once on one machine.
import { writeFile } from "node:fs/promises";
import { RawKubeRest } from "../kit/testenv/raw-rest.js";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { hostApiArgs, workloadManifest } from "../kit/demo/realnodes.js";
import { checkRealNodeDemo } from "../kit/demo/plan.js";
import { startRealNodeCluster, type RealNodeCluster } from "../kit/testenv/realnode/cluster.js";
import {
  BRUPOP_NAMESPACE,
  buildImage,
  checkoutRoot,
  installBrupop,
  setBrupopValues,
} from "../kit/testenv/realnode/install.js";
import { imagePulls, pullSeconds } from "../kit/testenv/registry.js";

const MiB = 2 ** 20;
const NEW = "1.20.0";

interface PodFigures {
  pod: string;
  component: string;
  node: string;
  workingSetMiB: { mean: number; max: number };
  cpuPercent: number;
}

interface Pod {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { nodeName?: string };
  status?: { containerStatuses?: { restartCount?: number; state?: { running?: { startedAt?: string } } }[] };
}

interface Shadow {
  metadata?: { name?: string; ownerReferences?: { name?: string }[] };
  status?: { current_version?: string; current_state?: string };
}

const log = (line: string) =>
  process.stderr.write(`[bench:pods ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

async function list<T>(rest: RawKubeRest, path: string): Promise<T[]> {
  const res = await rest.request<{ items?: T[] }>("GET", path);
  if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return res.body.items ?? [];
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(500);
  }
}

/** Samples every brupop pod's working set and CPU for `windowMs`. */
async function steadyWindow(cluster: RealNodeCluster, windowMs: number): Promise<PodFigures[]> {
  const samples = new Map<string, { node: string; ws: number[]; cpu: number[] }>();
  const t0 = Date.now();
  while (Date.now() - t0 < windowMs) {
    for (const u of await cluster.podUsage()) {
      if (u.namespace !== BRUPOP_NAMESPACE) continue;
      const s = samples.get(u.name) ?? { node: u.node, ws: [], cpu: [] };
      s.ws.push(u.workingSetBytes);
      s.cpu.push(u.cpuSeconds);
      samples.set(u.name, s);
    }
    await sleep(2_000);
  }
  const seconds = (Date.now() - t0) / 1000;
  return [...samples].map(([pod, s]) => ({
    pod,
    component: pod.startsWith("brupop-agent")
      ? "agent"
      : pod.startsWith("brupop-apiserver")
        ? "apiserver"
        : "controller",
    node: s.node,
    workingSetMiB: {
      mean: round(s.ws.reduce((a, b) => a + b, 0) / s.ws.length / MiB),
      max: round(Math.max(...s.ws) / MiB),
    },
    cpuPercent: round((((s.cpu.at(-1) ?? 0) - (s.cpu[0] ?? 0)) / seconds) * 100, 2),
  }));
}

/** Each kubelet's pull of brupop's image from the cluster's registry, with its time (logged). */
async function registryPulls(
  cluster: RealNodeCluster,
): Promise<{ pod: string; message: string; seconds: number | null }[]> {
  const pulls = (await imagePulls(cluster)).map((p) => ({ ...p, seconds: pullSeconds(p.message) ?? null }));
  for (const p of pulls) log(`  ${p.pod}: image pulled in ${p.seconds ?? "?"} s`);
  return pulls;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { nodes: { type: "string", default: "2" }, "window-s": { type: "string", default: "30" } },
  });
  const nodes = Number(values.nodes);
  const windowMs = Number(values["window-s"]) * 1000;
  checkRealNodeDemo(nodes, process.getuid?.());
  log("building the image (cached)");
  const image = await buildImage();
  log(`starting ${nodes} real node(s) and an OCI registry (the image and charts are pulled from it)`);
  const cluster = await startRealNodeCluster({
    nodes,
    registry: true,
    nodeLabels: { "bottlerocket.aws/updater-interface-version": "2.0.0" },
  });
  try {
    const rest = new RawKubeRest(cluster.kubeConfig);
    const names = cluster.nodes.map((n) => n.name);
    for (const name of names) await cluster.startHostApi(name, { args: hostApiArgs(true, false) });
    const manifest = join(cluster.dir, "bench-workload.json");
    await writeFile(manifest, JSON.stringify(workloadManifest(names.length, 1)));
    await cluster.kubectl(["apply", "-f", manifest]);
    log("installing both charts (paused: max_concurrent_updates=0)");
    await installBrupop(cluster, { max_concurrent_updates: "0" });
    const brupopPods = () => list<Pod>(rest, `/api/v1/namespaces/${BRUPOP_NAMESPACE}/pods`);
    await until("brupop's pods Running, one agent per node", 300_000, async () => {
      const pods = await brupopPods();
      const running = pods.filter((p) => p.status?.containerStatuses?.[0]?.state?.running !== undefined);
      return (
        running.length === pods.length &&
        running.filter((p) => p.metadata?.name?.startsWith("brupop-agent")).length === nodes
      );
    });
    // Each node's kubelet pulled brupop's image by reference from the registry (no `ctr import`).
    const pulls = await registryPulls(cluster);
    log("settling 15 s, then the steady window");
    await sleep(15_000);
    const steady = await steadyWindow(cluster, windowMs);
    for (const f of steady) {
      log(
        `  ${f.pod}: working set ${f.workingSetMiB.mean} MiB (max ${f.workingSetMiB.max}), CPU ${f.cpuPercent}%`,
      );
    }

    // The rollout: watch the shadows' status changes (times seen here) while the nodes reboot.
    const changes = new Map<string, number[]>();
    const lastStatus = new Map<string, string>();
    let watching = true;
    const shadowPath = `/apis/brupop.bottlerocket.aws/v2/namespaces/${BRUPOP_NAMESPACE}/bottlerocketshadows`;
    const poller = (async () => {
      while (watching) {
        for (const s of await list<Shadow>(rest, shadowPath).catch(() => [])) {
          const node = s.metadata?.ownerReferences?.[0]?.name ?? "";
          const status = JSON.stringify(s.status ?? {});
          if (lastStatus.get(node) !== status) {
            lastStatus.set(node, status);
            changes.set(node, [...(changes.get(node) ?? []), Date.now()]);
          }
        }
        await sleep(200);
      }
    })();
    log("releasing the pause (max_concurrent_updates=1)");
    const t0 = Date.now();
    await setBrupopValues(cluster, { max_concurrent_updates: "1" });
    await until("every node on the new version, Idle", 600_000, async () => {
      const shadows = await list<Shadow>(rest, shadowPath);
      return (
        shadows.length === nodes &&
        shadows.every((s) => s.status?.current_version === NEW && s.status.current_state === "Idle")
      );
    });
    const rolloutS = round((Date.now() - t0) / 1000);
    watching = false;
    await poller;

    const agentStart: { node: string; restarts: number; startToReportS: number | null }[] = [];
    for (const p of (await brupopPods()).filter((q) => q.metadata?.name?.startsWith("brupop-agent"))) {
      const node = p.spec?.nodeName ?? "";
      const cs = p.status?.containerStatuses?.[0];
      const startedAt = Date.parse(cs?.state?.running?.startedAt ?? "");
      const firstReport = (changes.get(node) ?? []).find((t) => t >= startedAt);
      agentStart.push({
        node,
        restarts: cs?.restartCount ?? 0,
        startToReportS:
          firstReport === undefined || Number.isNaN(startedAt)
            ? null
            : round((firstReport - startedAt) / 1000),
      });
    }
    for (const a of agentStart) {
      log(
        `  agent on ${a.node}: restarted ${a.restarts}×; container start → first status report ${a.startToReportS ?? "?"} s (±1 s)`,
      );
    }
    const results = {
      date: new Date().toISOString(),
      command: `npm run bench:pods -- --nodes ${nodes} --window-s ${windowMs / 1000}`,
      image,
      nodes,
      windowS: windowMs / 1000,
      steady,
      rolloutS,
      agentStart,
      pulls,
      note: "working set = cgroup memory usage - total_inactive_file (kubelet/cAdvisor); CPU = cpuacct over the window",
    };
    const out = join(checkoutRoot(), "bench", "results", "pods.json");
    await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
    log(`rollout of ${nodes} real node(s) in ${rolloutS} s; wrote ${out}`);
  } finally {
    await cluster.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `bench:pods failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
