// Where the controller's memory goes at N nodes (issue 30), without a cluster: the controller's own
// informers (src/k8s/informer.ts) and shadow view (src/controller/view/view.ts) fed N Nodes and N shadows
// from a fake LIST (the same JSON text → JSON.parse path as the real client), each step's V8 heap
// after a full GC. Nodes look like the bench's kwok Nodes (labels, conditions, nodeInfo,
// managedFields); shadows like the agents write them. Run with --expose-gc:
//
//   node_modules/.bin/node --expose-gc --import tsx bench/controller-heap.ts [--nodes 1000]
//
// docs/benchmarks.md, "Controller memory at 1,000 nodes", has the figures.
import { parseArgs } from "node:util";
import { getHeapStatistics } from "node:v8";
import type { KubeApi } from "../src/k8s/api.js";
import { Informer } from "../src/k8s/informer.js";
import type { RawShadow } from "../src/k8s/objects.js";
import { silentLogger } from "../src/log.js";
import { ShadowView } from "../src/controller/view/view.js";
import { shadowStatus } from "../test/kit/fixtures.js";

const { values } = parseArgs({ options: { nodes: { type: "string", default: "1000" } } });
const N = Number(values.nodes);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc");

function heapMiB(): number {
  gc?.();
  gc?.();
  return getHeapStatistics().used_heap_size / 2 ** 20;
}

const managed = (manager: string, fields: object) => ({
  manager,
  operation: "Update",
  apiVersion: "v1",
  time: "2026-12-07T19:45:00Z",
  fieldsType: "FieldsV1",
  fieldsV1: fields,
});

function node(i: number): object {
  const name = `kwok-node-${String(i).padStart(4, "0")}`;
  const cond = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    lastHeartbeatTime: "2026-12-07T19:45:00Z",
    lastTransitionTime: "2026-12-07T19:40:00Z",
    reason,
    message,
  });
  return {
    metadata: {
      name,
      uid: `6f9c1a2e-${String(i).padStart(4, "0")}-4c1b-9d4e-0123456789ab`,
      resourceVersion: String(100_000 + i),
      creationTimestamp: "2026-12-07T19:40:00Z",
      labels: {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node-role.kubernetes.io/agent": "",
        type: "kwok",
        "bottlerocket.aws/updater-interface-version": "2.0.0",
      },
      annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
      managedFields: [
        managed("kwok", {
          "f:metadata": { "f:annotations": { "f:kwok.x-k8s.io/node": {} }, "f:labels": {} },
        }),
        managed("kwok", {
          "f:status": {
            "f:conditions": Object.fromEntries(
              ["DiskPressure", "MemoryPressure", "NetworkUnavailable", "PIDPressure", "Ready"].map((t) => [
                `k:{"type":"${t}"}`,
                {
                  ".": {},
                  "f:lastHeartbeatTime": {},
                  "f:lastTransitionTime": {},
                  "f:message": {},
                  "f:reason": {},
                  "f:status": {},
                  "f:type": {},
                },
              ]),
            ),
            "f:nodeInfo": { "f:architecture": {}, "f:kubeletVersion": {}, "f:osImage": {} },
          },
        }),
      ],
    },
    spec: { taints: [{ key: "kwok.x-k8s.io/node", value: "fake", effect: "NoSchedule" }] },
    status: {
      allocatable: { cpu: "32", memory: "256Gi", pods: "110" },
      capacity: { cpu: "32", memory: "256Gi", pods: "110" },
      conditions: [
        cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        cond(
          "MemoryPressure",
          "False",
          "KubeletHasSufficientMemory",
          "kubelet has sufficient memory available",
        ),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        cond("NetworkUnavailable", "False", "RouteCreated", "RouteController created a route"),
      ],
      addresses: [
        { type: "InternalIP", address: `10.0.${Math.floor(i / 250)}.${i % 250}` },
        { type: "Hostname", address: name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: "amd64",
        bootID: "",
        containerRuntimeVersion: "containerd://1.7.0",
        kernelVersion: "6.1.0",
        kubeProxyVersion: "",
        kubeletVersion: "fake",
        machineID: "",
        operatingSystem: "linux",
        osImage: "Bottlerocket OS 1.19.0 (aws-k8s-1.30)",
        systemUUID: "",
      },
    },
  };
}

function shadow(i: number): RawShadow {
  const name = `brs-kwok-node-${String(i).padStart(4, "0")}`;
  return {
    apiVersion: "brupop.bottlerocket.aws/v2",
    kind: "BottlerocketShadow",
    metadata: {
      name,
      namespace: "brupop-bottlerocket-aws",
      uid: `0b7e2f1c-${String(i).padStart(4, "0")}-4a2b-8c3d-abcdef012345`,
      resourceVersion: String(200_000 + i),
      generation: 5,
      creationTimestamp: "2026-12-07T19:40:00Z",
      ownerReferences: [
        {
          apiVersion: "v1",
          kind: "Node",
          name: name.slice(4),
          uid: `6f9c1a2e-${i}`,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: [
        managed("brupop-apiserver", {
          "f:status": {
            ".": {},
            "f:crash_count": {},
            "f:current_state": {},
            "f:current_version": {},
            "f:state_transition_failure_timestamp": {},
            "f:target_version": {},
          },
        }),
        managed("brupop-controller", {
          "f:spec": { ".": {}, "f:state": {}, "f:state_transition_timestamp": {}, "f:version": {} },
        }),
      ],
    },
    spec: { state: "Idle", state_transition_timestamp: "2026-12-07T19:41:00Z", version: "1.20.0" },
    status: shadowStatus({ current_version: "1.20.0" }),
  } as unknown as RawShadow;
}

const bodies = new Map<string, string>([
  [
    "/api/v1/nodes",
    JSON.stringify({
      metadata: { resourceVersion: "300000" },
      items: Array.from({ length: N }, (_, i) => node(i)),
    }),
  ],
  [
    "/apis/brupop.bottlerocket.aws/v2/namespaces/brupop-bottlerocket-aws/bottlerocketshadows",
    JSON.stringify({
      metadata: { resourceVersion: "300000" },
      items: Array.from({ length: N }, (_, i) => shadow(i)),
    }),
  ],
]);
let peakListMiB = 0;
const rest = {
  list: (path: string) => {
    const text = bodies.get(path) ?? '{"items":[]}';
    const parsed = JSON.parse(text) as unknown;
    peakListMiB = Math.max(peakListMiB, getHeapStatistics().used_heap_size / 2 ** 20);
    return Promise.resolve(parsed);
  },
  // The watch never delivers: the measurement is of the synced caches.
  watch: (_path: string, _query: unknown, _onEvent: unknown, signal: AbortSignal) =>
    new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true })),
} as unknown as KubeApi;

/** The controller's slimNode (src/controller/run/controller.ts): name, uid, resourceVersion, labels. */
type NodeMeta = {
  metadata?: { name?: string; uid?: string; resourceVersion?: string; labels?: Record<string, string> };
};
const slim = (n: NodeMeta): NodeMeta => {
  const m = n.metadata ?? {};
  return { metadata: { name: m.name, uid: m.uid, resourceVersion: m.resourceVersion, labels: m.labels } };
};

// Each component's share is the heap it frees when dropped (after a full GC): robust against what
// the first steps leave behind (compiled code, tsx's caches).
const rows: [string, number][] = [];
const textMiB = [...bodies.values()].reduce((s, b) => s + b.length, 0) / 2 ** 20;
rows.push(["the fake's LIST bodies (JSON text, not the controller's)", textMiB]);
const logger = silentLogger();
let shadows: Informer<RawShadow> | undefined = new Informer<RawShadow>({
  rest,
  path: [...bodies.keys()][1] ?? "",
  logger,
});
shadows.start();
await shadows.waitForSync();
let nodes: Informer<NodeMeta> | undefined = new Informer<NodeMeta>({
  rest,
  path: "/api/v1/nodes",
  logger,
  transform: slim,
});
nodes.start();
await nodes.waitForSync();
let view: ShadowView | undefined = new ShadowView();
const held: { fleet?: unknown; full?: unknown } = {
  fleet: view.build(shadows.list()),
  full: JSON.parse(bodies.get("/api/v1/nodes") ?? "{}"),
};
const all = heapMiB();
let last = all;
const drop = (what: string): void => {
  const now = heapMiB();
  rows.push([what, last - now]);
  last = now;
};
held.full = undefined;
drop(`for scale: ${N} full Nodes as parsed (what slimming saves)`);
held.fleet = undefined;
view = undefined;
drop(`shadow view: ${N} parsed shadows, overlay and parse cache`);
await nodes.stop();
nodes = undefined;
drop(`node informer cache (${N} Nodes, slimmed to name, uid, resourceVersion, labels)`);
await shadows.stop();
shadows = undefined;
drop(`shadow informer cache (${N} shadows as JSON objects, managedFields dropped)`);
for (const [what, mib] of rows) process.stdout.write(`${mib.toFixed(2).padStart(7)} MiB  ${what}\n`);
process.stdout.write(
  `V8 heap with all of them ${all.toFixed(1)} MiB, without ${last.toFixed(1)} MiB; peak during a LIST ${peakListMiB.toFixed(1)} MiB\n`,
);
