// Child of bench/run.ts: the apiserver status-update benchmark (kit/bench/apiserver.ts) in a process of
// its own, so its resident memory can be read: the RSS once modules are loaded (baseline) and the
// peak while the in-process brupop apiserver serves 200 concurrent agents.
//
//   node --import tsx bench/children/apiserver.ts <cluster-dir> <agents> <durationMs>
//
// <cluster-dir> is the test cluster's directory (admin.kubeconfig, pki/). Prints one JSON line.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { KubeConfig } from "@kubernetes/client-node";
import { benchStatusUpdates } from "../../kit/bench/apiserver.js";
import type { TestCluster } from "../../kit/testenv/cluster.js";
import { isNodeReady, kwokNodeManifest } from "../../kit/testenv/nodes.js";
import type { V1Node } from "@kubernetes/client-node";
import { RawKubeRest } from "../../kit/testenv/raw-rest.js";

async function clusterFrom(dir: string): Promise<{ cluster: TestCluster; close: () => void }> {
  const kubeconfigPath = join(dir, "admin.kubeconfig");
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const rest = new RawKubeRest(kubeConfig);
  const [caCertPem, caKeyPem] = await Promise.all([
    readFile(join(dir, "pki", "ca.crt"), "utf8"),
    readFile(join(dir, "pki", "ca.key"), "utf8"),
  ]);
  let counter = 0;
  const unsupported = (): Promise<never> => Promise.reject(new Error("not available in the bench child"));
  const cluster: TestCluster = {
    server: kubeConfig.getCurrentCluster()?.server ?? "",
    kubeconfigPath,
    kubeConfig,
    caCertPem,
    caCertPath: join(dir, "pki", "ca.crt"),
    ca: { certPem: caCertPem, keyPem: caKeyPem },
    serviceAccountIssuer: "",
    binDir: "",
    dir,
    logsDir: join(dir, "logs"),
    async addNodes(count, opts = {}) {
      const names = Array.from({ length: count }, () => `${opts.namePrefix ?? "kwok-node-"}${counter++}`);
      for (let i = 0; i < names.length; i += 32) {
        await Promise.all(
          names.slice(i, i + 32).map(async (name) => {
            const res = await rest.request("POST", "/api/v1/nodes", { body: kwokNodeManifest(name, opts) });
            if (res.status !== 201) throw new Error(`create node ${name}: HTTP ${res.status}`);
          }),
        );
      }
      const want = new Set(names);
      for (let tries = 0; ; tries++) {
        const list = await rest.request<{ items: V1Node[] }>("GET", "/api/v1/nodes");
        const ready = list.body.items.filter((n) => want.has(n.metadata?.name ?? "") && isNodeReady(n));
        if (ready.length === names.length) return names;
        if (tries > 600) throw new Error("kwok nodes did not become Ready");
        await sleep(200);
      }
    },
    setNodeReady: unsupported,
    kubectl: unsupported,
    dumpLogs: () => Promise.resolve(""),
    stop: () => Promise.resolve(),
  };
  return { cluster, close: () => rest.close() };
}

const [dir, agentsArg, durationArg] = process.argv.slice(2);
if (dir === undefined) throw new Error("usage: apiserver.ts <cluster-dir> <agents> <durationMs>");
const { cluster, close } = await clusterFrom(dir);
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const baselineRss = process.memoryUsage().rss;
let peakRss = baselineRss;
const timer = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 100);
const result = await benchStatusUpdates(cluster, {
  agents: Number(agentsArg ?? 200),
  durationMs: Number(durationArg ?? 10_000),
  namespace: "brupop-bench-apiserver",
});
clearInterval(timer);
close();
process.stdout.write(
  `${JSON.stringify({ ...result, baselineRssBytes: baselineRss, peakRssBytes: peakRss })}\n`,
);
process.exit(0);
