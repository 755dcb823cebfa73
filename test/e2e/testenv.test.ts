// The real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)
// does what later e2e tests rely on. One cluster for the whole file.
import {
  ApiException,
  ApiextensionsV1Api,
  AppsV1Api,
  AuthenticationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  PolicyV1Api,
  Watch,
  type KubeConfig,
  setHeaderOptions,
  type V1Pod,
  type V1TokenReview,
} from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";

import { liveProcessGroupCount } from "../../kit/testenv/process.js";
import { readVersions } from "../../kit/testenv/paths.js";
import type { TestCluster } from "../../kit/testenv/cluster.js";
import { E2eCluster } from "../kit/e2e.js";
import { eventuallyFast as eventually } from "../kit/poll.js";

const NS = "testenv-e2e";
const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

describe("testenv: real control plane", { timeout: 300_000 }, () => {
  /** Each test prints the tail of every component log when it fails. */
  const e2e = new E2eCluster({ dumpLines: 40 });
  let cluster: TestCluster;
  let core: CoreV1Api;
  let nodes: string[];
  let startupMs = 0;

  before(async () => {
    const t0 = performance.now();
    cluster = await e2e.start();
    nodes = await cluster.addNodes(5, { namePrefix: "e2e-", labels: { "brupop.test/pool": "a" } });
    startupMs = performance.now() - t0;
    process.stderr.write(`testenv: cluster + 5 Ready nodes in ${(startupMs / 1000).toFixed(1)} s\n`);
    core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
  });

  after(async () => {
    if ((cluster as TestCluster | undefined) === undefined) return;
    const dir = cluster.dir;
    await e2e.stop();
    assert.equal(liveProcessGroupCount(), 0, "every component process group was stopped");
    if (process.env["BRUPOP_TESTENV_KEEP"] !== "1") assert.equal(existsSync(dir), false, "temp dir removed");
  });

  it("started within budget, with Ready kwok nodes and version-stamped binaries", async () => {
    assert.ok(startupMs < 60_000, `startup took ${startupMs} ms`);
    const list = await core.listNode({ labelSelector: "brupop.test/pool=a" });
    assert.equal(list.items.length, 5);
    const version = JSON.parse(await cluster.kubectl(["version", "-o", "json"])) as {
      serverVersion: { gitVersion: string };
      clientVersion: { gitVersion: string };
    };
    const { K8S_VERSION } = readVersions();
    assert.equal(version.serverVersion.gitVersion, K8S_VERSION);
    assert.equal(version.clientVersion.gitVersion, K8S_VERSION);
  });

  it(
    "serves a CRD: create, watch, status-patch a custom object",
    e2e.run(async () => {
      const ext = cluster.kubeConfig.makeApiClient(ApiextensionsV1Api);
      await ext.createCustomResourceDefinition({
        body: {
          metadata: { name: "widgets.testenv.brupop.dev" },
          spec: {
            group: "testenv.brupop.dev",
            scope: "Namespaced",
            names: { plural: "widgets", singular: "widget", kind: "Widget" },
            versions: [
              {
                name: "v1",
                served: true,
                storage: true,
                subresources: { status: {} },
                schema: {
                  openAPIV3Schema: {
                    type: "object",
                    properties: {
                      spec: { type: "object", properties: { size: { type: "integer" } } },
                      status: { type: "object", properties: { phase: { type: "string" } } },
                    },
                  },
                },
              },
            ],
          },
        },
      });
      await eventually("CRD Established", 20_000, async () => {
        const crd = await ext.readCustomResourceDefinition({ name: "widgets.testenv.brupop.dev" });
        return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") === true;
      });

      const co = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
      const gvr = { group: "testenv.brupop.dev", version: "v1", namespace: NS, plural: "widgets" };
      const seen: { type: string; phase: string | undefined }[] = [];
      let onStatus = (): void => undefined;
      const sawStatus = new Promise<void>((resolve) => (onStatus = resolve));
      // A brand-new CRD's watch cache may still be initialising: the API server then ends the
      // watch with 429 + Retry-After and a client must retry (brupop's informers have to as well).
      const watcher = new RetryingWatch(
        cluster.kubeConfig,
        `/apis/testenv.brupop.dev/v1/namespaces/${NS}/widgets`,
      );
      await watcher.start((type, obj) => {
        const phase = (obj as { status?: { phase?: string } }).status?.phase;
        seen.push({ type, phase });
        if (type === "MODIFIED" && phase === "Ready") onStatus();
      });
      // Give the watch a moment to be established before the object exists.
      await new Promise((r) => setTimeout(r, 300));
      await co.createNamespacedCustomObject({
        ...gvr,
        body: {
          apiVersion: "testenv.brupop.dev/v1",
          kind: "Widget",
          metadata: { name: "w1" },
          spec: { size: 3 },
        },
      });
      // The main resource ignores status; only the /status subresource changes it.
      await co.patchNamespacedCustomObjectStatus(
        { ...gvr, name: "w1", body: { status: { phase: "Ready" } } },
        merge,
      );
      await withTimeout(sawStatus, 10_000, "watch event with status").catch((e: unknown) => {
        throw new Error(`${String(e)}; events seen: ${JSON.stringify(seen)}`);
      });
      watcher.stop();
      assert.deepEqual(seen[0], { type: "ADDED", phase: undefined });
      const got = (await co.getNamespacedCustomObject({ ...gvr, name: "w1" })) as {
        spec: { size: number };
        status: { phase: string };
      };
      assert.equal(got.status.phase, "Ready");
      assert.equal(got.spec.size, 3);
    }),
  );

  it(
    "enforces a PodDisruptionBudget on eviction; evicted pods are rescheduled off a cordoned node",
    e2e.run(async () => {
      const apps = cluster.kubeConfig.makeApiClient(AppsV1Api);
      const policy = cluster.kubeConfig.makeApiClient(PolicyV1Api);
      const labels = { app: "pdb-demo" };
      await apps.createNamespacedDeployment({
        namespace: NS,
        body: {
          metadata: { name: "pdb-demo" },
          spec: {
            replicas: 3,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }] },
            },
          },
        },
      });
      await policy.createNamespacedPodDisruptionBudget({
        namespace: NS,
        body: {
          metadata: { name: "pdb-demo" },
          spec: { minAvailable: 2, selector: { matchLabels: labels } },
        },
      });
      const runningPods = async (): Promise<V1Pod[]> =>
        (await core.listNamespacedPod({ namespace: NS, labelSelector: "app=pdb-demo" })).items.filter(
          (p) => p.metadata?.deletionTimestamp == null && isRunningReady(p),
        );
      const settled = async (): Promise<V1Pod[]> => {
        let pods: V1Pod[] = [];
        await eventually("3 ready pods and PDB allowing 1 disruption", 30_000, async () => {
          pods = await runningPods();
          const pdb = await policy.readNamespacedPodDisruptionBudget({ name: "pdb-demo", namespace: NS });
          return (
            pods.length === 3 &&
            pdb.status?.observedGeneration === pdb.metadata?.generation &&
            pdb.status?.currentHealthy === 3 &&
            pdb.status.disruptionsAllowed === 1
          );
        });
        return pods;
      };

      const pods = await settled();
      assert.ok(
        pods.every((p) => nodes.includes(p.spec?.nodeName ?? "")),
        "scheduled onto kwok nodes",
      );
      // With every node cordoned no replacement can become healthy, so the budget cannot be
      // refilled between the two evictions (kwok + scheduler heal a pod in ~100 ms otherwise).
      const cordon = (name: string, on: boolean): Promise<unknown> =>
        core.patchNode({ name, body: { spec: { unschedulable: on } } }, merge);
      await Promise.all(nodes.map((n) => cordon(n, true)));
      const evict = (p: V1Pod): Promise<unknown> =>
        core.createNamespacedPodEviction({
          name: p.metadata?.name ?? "",
          namespace: NS,
          body: {
            apiVersion: "policy/v1",
            kind: "Eviction",
            metadata: { name: p.metadata?.name, namespace: NS },
          },
        });
      const results = await Promise.allSettled([evict(pods[0] as V1Pod), evict(pods[1] as V1Pod)]);
      const codes = results.map((r) =>
        r.status === "fulfilled" ? 201 : (r.reason as ApiException<unknown>).code,
      );
      assert.deepEqual(
        [...codes].sort(),
        [201, 429],
        `one eviction allowed, one refused: ${codes.join(",")}`,
      );
      await Promise.all(nodes.map((n) => cordon(n, false)));

      // The Deployment heals and the PDB allows a disruption again; then drain one node by hand.
      const healed = await settled();
      const victim = healed[0] as V1Pod;
      const cordoned = victim.spec?.nodeName ?? "";
      await cordon(cordoned, true);
      await evict(victim);
      await eventually("evicted pod gone and replaced on another node", 30_000, async () => {
        const now = await runningPods();
        return now.length === 3 && !now.some((p) => p.metadata?.uid === victim.metadata?.uid);
      });
      const after = await runningPods();
      const replacement = after.find((p) => !healed.some((h) => h.metadata?.uid === p.metadata?.uid));
      assert.ok(replacement, "a new pod replaced the evicted one");
      assert.notEqual(replacement.spec?.nodeName, cordoned);
      await assert.rejects(
        core.readNamespacedPod({ name: victim.metadata?.name ?? "", namespace: NS }),
        (e) => {
          return e instanceof ApiException && e.code === 404;
        },
      );
      await cordon(cordoned, false);
    }),
  );

  it(
    "issues pod-bound service-account tokens that TokenReview accepts only for their audience",
    e2e.run(async () => {
      const authn = cluster.kubeConfig.makeApiClient(AuthenticationV1Api);
      const nodeA = nodes[0] as string;
      await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: "agent" } } });
      const pod = await core.createNamespacedPod({
        namespace: NS,
        body: {
          metadata: { name: "agent-on-a" },
          spec: {
            nodeName: nodeA,
            serviceAccountName: "agent",
            containers: [{ name: "agent", image: "registry.invalid/agent:1" }],
          },
        },
      });
      const tr = await core.createNamespacedServiceAccountToken({
        name: "agent",
        namespace: NS,
        body: {
          spec: {
            audiences: ["brupop-apiserver"],
            expirationSeconds: 600,
            boundObjectRef: { apiVersion: "v1", kind: "Pod", name: "agent-on-a", uid: pod.metadata?.uid },
          },
        },
      });
      const token = tr.status?.token ?? "";
      assert.ok(token.length > 0);

      const ok = await authn.createTokenReview({
        body: { spec: { token, audiences: ["brupop-apiserver"] } },
      });
      assertBoundToPod(ok, {
        namespace: NS,
        sa: "agent",
        pod: "agent-on-a",
        uid: pod.metadata?.uid,
        node: nodeA,
      });

      const wrong = await authn.createTokenReview({ body: { spec: { token, audiences: ["someone-else"] } } });
      assert.equal(wrong.status?.authenticated ?? false, false);
      assert.match(wrong.status?.error ?? "", /audience/i);
    }),
  );

  it(
    "garbage-collects objects owned by a deleted Node",
    e2e.run(async () => {
      const [name] = await cluster.addNodes(1, { namePrefix: "gc-" });
      const node = await core.readNode({ name: name as string });
      await core.createNamespacedConfigMap({
        namespace: NS,
        body: {
          metadata: {
            name: "owned-by-node",
            ownerReferences: [
              { apiVersion: "v1", kind: "Node", name: name as string, uid: node.metadata?.uid ?? "" },
            ],
          },
          data: { k: "v" },
        },
      });
      await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: "unowned" } } });
      await core.deleteNode({ name: name as string });
      await eventually("owned ConfigMap collected", 30_000, async () => {
        try {
          await core.readNamespacedConfigMap({ name: "owned-by-node", namespace: NS });
          return false;
        } catch (e) {
          return e instanceof ApiException && e.code === 404;
        }
      });
      await core.readNamespacedConfigMap({ name: "unowned", namespace: NS }); // still there
    }),
  );

  it(
    "takes a node NotReady (kwok lets go of it) and back Ready (kwok runs its pods again, its old pods are Ready again)",
    e2e.run(async () => {
      const target = nodes[4] as string;
      await core.createNamespacedPod({
        namespace: NS,
        body: {
          metadata: { name: "before-reboot" },
          spec: { nodeName: target, containers: [{ name: "c", image: "registry.invalid/c:1" }] },
        },
      });
      const readPod = (name: string): Promise<V1Pod> => core.readNamespacedPod({ name, namespace: NS });
      await eventually("pod Running before the reboot", 20_000, async () =>
        isRunningReady(await readPod("before-reboot")),
      );
      await cluster.setNodeReady(target, false);
      // The node lifecycle controller marks the pods of a node it finds unresponsive not Ready
      // (Ready=False, ContainersReady left True), once the node's lease is past its grace period.
      // Do what it does, without waiting the grace period out; after the reboot they must come
      // back Ready, as a kubelet reports them (left so, a PDB counts them unhealthy forever).
      await core.patchNamespacedPodStatus(
        {
          name: "before-reboot",
          namespace: NS,
          body: { status: { conditions: [{ type: "Ready", status: "False", reason: "NodeNotReady" }] } },
        },
        setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
      );
      assert.equal(isRunningReady(await readPod("before-reboot")), false);
      await core.createNamespacedPod({
        namespace: NS,
        body: {
          metadata: { name: "on-rebooting-node" },
          spec: { nodeName: target, containers: [{ name: "c", image: "registry.invalid/c:1" }] },
        },
      });
      // kwok must not flip the node back, nor start the pod, while it is "down".
      await new Promise((r) => setTimeout(r, 2_000));
      const down = await core.readNode({ name: target });
      assert.equal(down.status?.conditions?.find((c) => c.type === "Ready")?.status, "False");
      const pending = await core.readNamespacedPod({ name: "on-rebooting-node", namespace: NS });
      assert.notEqual(pending.status?.phase, "Running");

      const down2 = await core.readNode({ name: target });
      assert.ok(
        down2.spec?.taints?.some((t) => t.key === "node.kubernetes.io/not-ready"),
        "node lifecycle controller tainted the down node",
      );
      const t0 = Date.now();
      await cluster.setNodeReady(target, true);
      process.stderr.write(`testenv: node Ready and untainted again in ${Date.now() - t0} ms\n`);
      assert.ok(
        isRunningReady(await readPod("before-reboot")),
        "the pod that ran before the reboot is Ready again",
      );
      const up = await core.readNode({ name: target });
      assert.equal(up.spec?.taints?.some((t) => t.key.startsWith("node.kubernetes.io/")) ?? false, false);
      await eventually("pod Running once the node is back", 20_000, async () => {
        const p = await core.readNamespacedPod({ name: "on-rebooting-node", namespace: NS });
        return isRunningReady(p);
      });
    }),
  );
});

function assertBoundToPod(
  review: V1TokenReview,
  want: { namespace: string; sa: string; pod: string; uid: string | undefined; node: string },
): void {
  const status = review.status;
  assert.equal(status?.authenticated, true, status?.error);
  assert.equal(status.user?.username, `system:serviceaccount:${want.namespace}:${want.sa}`);
  assert.deepEqual(status.audiences, ["brupop-apiserver"]);
  const extra = status.user?.extra ?? {};
  assert.deepEqual(extra["authentication.kubernetes.io/pod-name"], [want.pod]);
  assert.deepEqual(extra["authentication.kubernetes.io/pod-uid"], [want.uid]);
  assert.deepEqual(extra["authentication.kubernetes.io/node-name"], [want.node]);
}

function isRunningReady(p: V1Pod): boolean {
  return (
    p.status?.phase === "Running" &&
    p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true
  );
}

/** A watch that restarts itself while the API server answers 429 (watch cache not ready yet). */
class RetryingWatch {
  retries429 = 0;
  private controller: AbortController | undefined;
  private stopped = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly path: string,
  ) {}

  async start(onEvent: (type: string, obj: unknown) => void): Promise<void> {
    if (this.stopped) return;
    this.controller = await new Watch(this.kc).watch(this.path, {}, onEvent, (err: unknown) => {
      if (
        !this.stopped &&
        (err as { statusCode?: number } | null)?.statusCode === 429 &&
        this.retries429 < 50
      ) {
        this.retries429++;
        setTimeout(() => void this.start(onEvent), 200);
      }
    });
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
