// Benchmark: status-update throughput and latency of the apiserver with many concurrent agents on
// loopback, against a real control plane (every PUT is a real status write to kube-apiserver/etcd).
// Auth is warm: each agent made one call first, so the measured window shows the cached path
// (TokenReviews during the window should be ~0). Not wired into package.json; bench/run.ts calls it.
//
//   const cluster = await startCluster();
//   const figures = await benchStatusUpdates(cluster, { agents: 200, durationMs: 10_000 });
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { silentLogger } from "../../src/log.js";
import {
  AGENT_COMPONENT,
  AGENT_TOKEN_AUDIENCE,
  COMPONENT_LABEL,
  CRD_NAME,
  UPDATER_INTERFACE_LABEL,
  UPDATER_INTERFACE_VERSION,
} from "../../src/model/constants.js";
import { buildCrd } from "../../src/model/crd.js";
import type { ShadowStatus } from "../../src/model/shadow.js";
import type { TestCluster } from "../testenv/cluster.js";
import { createCA, issueCert } from "../testenv/pki.js";
import { ApiserverClient } from "../../src/apiserver/client.js";
import { Apiserver } from "../../src/apiserver/server.js";
import { ObservedKubeRest } from "../testenv/observed-rest.js";
import { RawKubeRest } from "../testenv/raw-rest.js";

export interface StatusBenchOptions {
  /** Concurrent agents, each on its own kwok node with its own agent pod and bound token (default 200). */
  agents?: number;
  /** Measured window (default 10 s). */
  durationMs?: number;
  /** Namespace to run in (created if missing; default brupop-bench). */
  namespace?: string;
  logger?: Logger;
}

export interface StatusBenchResult {
  agents: number;
  durationMs: number;
  requests: number;
  errors: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Requests our apiserver made to kube-apiserver during the window, and how many were TokenReviews. */
  kubeRequests: number;
  tokenReviews: number;
}

const SA = "brupop-agent-service-account";

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T, i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, idx)] ?? 0;
}

async function must<T>(
  rest: RawKubeRest,
  method: string,
  path: string,
  body?: unknown,
  ok = [200, 201],
): Promise<T> {
  const res = await rest.request<T>(method, path, { body });
  if (!ok.includes(res.status)) throw new Error(`${method} ${path}: HTTP ${res.status}`);
  return res.body;
}

async function ensureCrd(rest: RawKubeRest, webhookUrl: string, caPem: string): Promise<void> {
  const path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  const existing = await rest.request("GET", `${path}/${CRD_NAME}`);
  if (existing.status === 200) return; // another run installed it: v2 writes need no conversion
  const crd = buildCrd() as { spec: { conversion: { webhook: { clientConfig: unknown } } } };
  crd.spec.conversion.webhook.clientConfig = {
    url: webhookUrl,
    caBundle: Buffer.from(caPem).toString("base64"),
  };
  await must(rest, "POST", path, crd);
  for (let i = 0; i < 100; i++) {
    const got = await must<{ status?: { conditions?: { type: string; status: string }[] } }>(
      rest,
      "GET",
      `${path}/${CRD_NAME}`,
    );
    if (got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") === true) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("CRD not Established");
}

interface BenchAgent {
  node: string;
  nodeUid: string;
  token: string;
}

/** 127.1.0.0, 127.1.0.1, …: a distinct loopback address per simulated agent (Linux routes 127/8 to lo). */
export function loopbackAddress(i: number): string {
  return `127.${1 + Math.floor(i / 65_536)}.${Math.floor(i / 256) % 256}.${i % 256}`;
}

async function createAgents(
  cluster: TestCluster,
  rest: RawKubeRest,
  ns: string,
  count: number,
): Promise<BenchAgent[]> {
  const prefix = `bench-${Math.random().toString(36).slice(2, 7)}-`;
  const nodes = await cluster.addNodes(count, {
    namePrefix: prefix,
    labels: { [UPDATER_INTERFACE_LABEL]: UPDATER_INTERFACE_VERSION },
  });
  return pool(nodes, 16, async (node) => {
    const nodeUid = (await must<{ metadata: { uid: string } }>(rest, "GET", `/api/v1/nodes/${node}`)).metadata
      .uid;
    const pod = await must<{ metadata: { name: string; uid: string } }>(
      rest,
      "POST",
      `/api/v1/namespaces/${ns}/pods`,
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `agent-${node}`, labels: { [COMPONENT_LABEL]: AGENT_COMPONENT } },
        spec: {
          nodeName: node,
          serviceAccountName: SA,
          automountServiceAccountToken: false,
          containers: [{ name: "agent", image: "registry.example/brupop:bench" }],
        },
      },
    );
    const tr = await must<{ status: { token: string } }>(
      rest,
      "POST",
      `/api/v1/namespaces/${ns}/serviceaccounts/${SA}/token`,
      {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: {
          audiences: [AGENT_TOKEN_AUDIENCE],
          expirationSeconds: 3600,
          boundObjectRef: { apiVersion: "v1", kind: "Pod", name: pod.metadata.name, uid: pod.metadata.uid },
        },
      },
    );
    return { node, nodeUid, token: tr.status.token };
  });
}

export async function benchStatusUpdates(
  cluster: TestCluster,
  opts: StatusBenchOptions = {},
): Promise<StatusBenchResult> {
  const count = opts.agents ?? 200;
  const durationMs = opts.durationMs ?? 10_000;
  const ns = opts.namespace ?? "brupop-bench";
  const logger = opts.logger ?? silentLogger();
  const admin = new RawKubeRest(cluster.kubeConfig);
  const counts = { kube: 0, reviews: 0, measuring: false };
  const serverRest = new ObservedKubeRest(cluster.kubeConfig, (method, path) => {
    if (!counts.measuring) return;
    counts.kube++;
    if (path.endsWith("/tokenreviews")) counts.reviews++;
  });
  const tlsDir = await mkdtemp(join(tmpdir(), "brupop-bench-tls-"));
  let server: Apiserver | undefined;
  const clients: ApiserverClient[] = [];
  try {
    await must(admin, "POST", "/api/v1/namespaces", { metadata: { name: ns } }, [201, 409]);
    await must(
      admin,
      "POST",
      `/api/v1/namespaces/${ns}/serviceaccounts`,
      { metadata: { name: SA } },
      [201, 409],
    );
    const ca = await createCA({ commonName: "brupop-bench-ca" });
    const cert = await issueCert({
      ca,
      commonName: "brupop-apiserver",
      ipAddresses: ["127.0.0.1"],
      usage: "server",
    });
    await writeFile(join(tlsDir, "tls.crt"), cert.certPem);
    await writeFile(join(tlsDir, "tls.key"), cert.keyPem);
    server = await Apiserver.start({
      rest: serverRest,
      namespace: ns,
      tlsDir,
      logger,
      tls: { pollIntervalMs: 0 },
    });
    await ensureCrd(admin, `${server.url}/crdconvert`, ca.certPem);
    const agents = await createAgents(cluster, admin, ns, count);

    const url = server.url;
    for (const [i, a] of agents.entries()) {
      clients.push(
        new ApiserverClient({
          baseUrl: url,
          // Each agent from its own address, as real agents (one per node, each its own pod IP):
          // the apiserver budgets unknown tokens' reviews per source, so 200 fresh tokens from one
          // address get 429 beyond that address's bucket (what a flood from one pod would get).
          localAddress: loopbackAddress(i),
          caPem: ca.certPem,
          nodeName: a.node,
          nodeUid: a.nodeUid,
          token: () => a.token,
          attempts: 1,
        }),
      );
    }
    // Warm-up: every agent creates its shadow (one TokenReview each, then cached).
    await pool(clients, 32, (c) => c.createShadow());

    const latencies: number[] = [];
    let errors = 0;
    counts.measuring = true;
    const started = performance.now();
    const until = started + durationMs;
    await Promise.all(
      clients.map(async (c, i) => {
        for (let n = 0; performance.now() < until; n++) {
          const status: ShadowStatus = {
            current_version: "1.19.0",
            target_version: "1.20.0",
            current_state: "Idle",
            crash_count: n % 1000, // a real change on every write
            state_transition_failure_timestamp: null,
          };
          const t0 = performance.now();
          try {
            await c.updateStatus(status);
            latencies.push(performance.now() - t0);
          } catch (err) {
            errors++;
            if (errors <= 5) logger.warn({ err, agent: i }, "bench request failed");
          }
        }
      }),
    );
    const elapsed = performance.now() - started;
    counts.measuring = false;
    const sorted = Float64Array.from(latencies).sort();
    return {
      agents: count,
      durationMs: Math.round(elapsed),
      requests: latencies.length,
      errors,
      requestsPerSecond: Math.round((latencies.length / elapsed) * 1000 * 10) / 10,
      p50Ms: Math.round(percentile(sorted, 50) * 100) / 100,
      p99Ms: Math.round(percentile(sorted, 99) * 100) / 100,
      maxMs: Math.round((sorted[sorted.length - 1] ?? 0) * 100) / 100,
      kubeRequests: counts.kube,
      tokenReviews: counts.reviews,
    };
  } finally {
    for (const c of clients) c.close();
    await server?.close(1_000);
    serverRest.close();
    // Namespace deletion takes the pods and shadows with it; the kwok nodes stay (the cluster is the caller's).
    await admin.request("DELETE", `/api/v1/namespaces/${ns}`).catch(() => undefined);
    admin.close();
    await rm(tlsDir, { recursive: true, force: true });
  }
}
