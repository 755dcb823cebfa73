import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBrupopError, KubeApiError } from "../errors.js";
import { DEFAULT_DRAIN_POLICY, type DrainPolicy } from "./drain-policy.js";
import {
  KubeApiBase,
  type Query,
  type RequestOptions,
  type RestResponse,
  type WatchHandler,
} from "../k8s/api.js";
import {
  evictionRefusal,
  kubeDrainApi,
  type DeleteOutcome,
  type DrainApi,
  type EvictOutcome,
} from "./drain-api.js";
import { planDrain, toleratesCordon, type PodRef } from "./drain-plan.js";
import { drainNode } from "./drain.js";
import { parseLabelSelector } from "../k8s/label-selector.js";
import type { KubePod, KubePodDisruptionBudget } from "../k8s/objects.js";

function pod(name: string, extra: Partial<KubePod> & { owner?: string; ns?: string } = {}): KubePod {
  const { owner, ns, ...rest } = extra;
  return {
    metadata: {
      name,
      namespace: ns ?? "default",
      uid: `${name}-uid`,
      ownerReferences: owner === undefined ? undefined : [{ kind: owner, controller: true }],
      ...rest.metadata,
    },
    status: rest.status ?? { phase: "Running" },
  };
}

describe("planDrain", () => {
  it("evicts ordinary pods and skips DaemonSet, mirror and completed pods", () => {
    const plan = planDrain([
      pod("web", { owner: "ReplicaSet" }),
      pod("bare"),
      pod("ds", { owner: "DaemonSet" }),
      pod("static", { metadata: { annotations: { "kubernetes.io/config.mirror": "abc" } } }),
      pod("done", { status: { phase: "Succeeded" } }),
      pod("crashed", { status: { phase: "Failed" } }),
      pod("pending", { status: { phase: "Pending" } }),
    ]);
    assert.deepEqual(
      plan.evict.map((p) => p.name),
      ["web", "bare", "pending"],
    );
    assert.deepEqual(
      plan.skipped.map((s) => [s.pod.name, s.reason]),
      [
        ["ds", "daemonset"],
        ["static", "mirror"],
        ["done", "completed"],
        ["crashed", "completed"],
      ],
    );
  });

  it("only the controlling owner counts as the DaemonSet owner", () => {
    const p = pod("x");
    p.metadata!.ownerReferences = [{ kind: "DaemonSet", controller: false }];
    assert.equal(planDrain([p]).evict.length, 1);
  });

  describe("brupop's own apiserver pods", () => {
    const NS = "brupop-bottlerocket-aws";
    const labelled = (name: string, ns: string, component: string): KubePod =>
      pod(name, {
        ns,
        owner: "ReplicaSet",
        metadata: { labels: { "brupop.bottlerocket.aws/component": component } },
      });
    const table: [string, KubePod, string | undefined, "evict" | "brupop-apiserver"][] = [
      [
        "apiserver pod in brupop's namespace is kept",
        labelled("api-1", NS, "apiserver"),
        NS,
        "brupop-apiserver",
      ],
      [
        "controller pod is evicted (not needed to finish the reboot)",
        labelled("ctl", NS, "brupop-controller"),
        NS,
        "evict",
      ],
      ["agent label is not the apiserver", labelled("ag", NS, "agent"), NS, "evict"],
      ["the label in another namespace is not brupop's", labelled("fake", "team", "apiserver"), NS, "evict"],
      [
        "without a brupop namespace nothing is kept (upstream behaviour)",
        labelled("api-2", NS, "apiserver"),
        undefined,
        "evict",
      ],
      ["unlabelled pod in brupop's namespace is evicted", pod("other", { ns: NS }), NS, "evict"],
    ];
    for (const [title, p, ns, want] of table) {
      it(title, () => {
        const plan = planDrain([p], ns);
        if (want === "evict") {
          assert.deepEqual(
            plan.evict.map((r) => r.name),
            [p.metadata?.name],
          );
          assert.deepEqual(plan.skipped, []);
        } else {
          assert.deepEqual(plan.evict, []);
          assert.deepEqual(
            plan.skipped.map((s) => [s.pod.name, s.reason]),
            [[p.metadata?.name, want]],
          );
        }
      });
    }
  });

  it("keeps namespace, name and uid of each pod", () => {
    assert.deepEqual(planDrain([pod("a", { ns: "team" })]).evict, [
      { namespace: "team", name: "a", uid: "a-uid" },
    ]);
  });
});

/** A fake node: pods disappear `goneAfterPolls` lists after their eviction was accepted. */
class FakeNode implements DrainApi {
  pods: KubePod[];
  /** Scripted eviction answers per pod name; after the script runs out: 201. */
  answers = new Map<string, number[]>();
  evictions: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  goneAfterPolls = 1;
  #evictedAt = new Map<string, number>();
  lists = 0;

  constructor(pods: KubePod[]) {
    this.pods = pods;
  }

  async listPodsOnNode(): Promise<KubePod[]> {
    await new Promise((r) => setImmediate(r));
    this.lists++;
    this.pods = this.pods.filter((p) => {
      const at = this.#evictedAt.get(p.metadata!.name!);
      return at === undefined || this.lists - at < this.goneAfterPolls;
    });
    return this.pods;
  }

  async evict(ref: PodRef): Promise<EvictOutcome> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setImmediate(r));
    this.inFlight--;
    this.evictions.push(ref.name);
    const status = this.answers.get(ref.name)?.shift() ?? 201;
    // 404: the pod is not there (any more), so no list shows it again.
    if (status === 404) this.pods = this.pods.filter((p) => p.metadata!.name !== ref.name);
    if (status !== 201 && status !== 200) return evictionRefusal(status);
    this.#evictedAt.set(ref.name, this.lists);
    return { kind: "evicted" };
  }
}

/** A fake clock whose sleep just moves time. */
function fakeTime() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
      await new Promise((r) => setImmediate(r));
    },
    sleeps,
  };
}

describe("toleratesCordon (Kubernetes' toleration matching against node.kubernetes.io/unschedulable:NoSchedule)", () => {
  type T = NonNullable<NonNullable<KubePod["spec"]>["tolerations"]>[number];
  const table: [string, T[], boolean][] = [
    ["no tolerations", [], false],
    ["Exists without a key tolerates every taint", [{ operator: "Exists" }], true],
    ["Exists without a key, effect NoExecute only", [{ operator: "Exists", effect: "NoExecute" }], false],
    [
      "the unschedulable key, Exists",
      [{ key: "node.kubernetes.io/unschedulable", operator: "Exists" }],
      true,
    ],
    [
      "the unschedulable key, Equal with no value, NoSchedule",
      [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }],
      true,
    ],
    [
      "the unschedulable key, Equal to another value",
      [{ key: "node.kubernetes.io/unschedulable", value: "x" }],
      false,
    ],
    ["another key", [{ key: "node.kubernetes.io/not-ready", operator: "Exists" }], false],
    ["a key without Exists and no key match", [{ key: "", operator: "Equal" }], false],
  ];
  for (const [title, tolerations, want] of table) {
    it(title, () => assert.equal(toleratesCordon({ spec: { tolerations } }), want));
  }
});

describe("drainNode", () => {
  it("evicts at most `concurrency` pods at a time and waits until they are gone", async () => {
    const node = new FakeNode(Array.from({ length: 12 }, (_, i) => pod(`p${i}`)));
    const t = fakeTime();
    const result = await drainNode(node, "n1", { concurrency: 5, now: t.now, sleep: t.sleep });
    assert.equal(result.evicted.length, 12);
    assert.equal(node.maxInFlight, 5);
    assert.equal(node.pods.length, 0);
  });

  it("evicts a pod bound to the node after its first list too (a scheduler behind the cordon: chaos seed 5181)", async () => {
    const node = new FakeNode([pod("web-1", { owner: "ReplicaSet" })]);
    const late = pod("web-2", { owner: "ReplicaSet" });
    const list = node.listPodsOnNode.bind(node);
    let calls = 0;
    node.listPodsOnNode = async () => {
      // The replacement of web-1 lands on the node right after the first list.
      if (++calls === 2) node.pods.push(late);
      return list();
    };
    const t = fakeTime();
    const result = await drainNode(node, "n1", { now: t.now, sleep: t.sleep });
    assert.deepEqual(
      result.evicted.map((p) => p.name),
      ["web-1", "web-2"],
    );
    assert.deepEqual(node.pods, [], "nothing left on the node when the drain returns");
  });

  it("a replacement that tolerates the cordon is left, not chased until the deadline (review: cilium-operator-like pods)", async () => {
    const tolerant = (uid: string): KubePod => ({
      ...pod("op", { owner: "ReplicaSet" }),
      metadata: { ...pod("op").metadata, uid },
      spec: { tolerations: [{ operator: "Exists" }] },
    });
    let pods = [tolerant("op-1")];
    const evictedUids: string[] = [];
    const api: DrainApi = {
      listPodsOnNode: () => Promise.resolve(pods),
      evict: (ref) => {
        evictedUids.push(ref.uid);
        // Its controller re-creates it at once, and the scheduler may put it right back here.
        pods = [tolerant(`op-${evictedUids.length + 1}`)];
        return Promise.resolve({ kind: "evicted" });
      },
    };
    const t = fakeTime();
    const result = await drainNode(api, "n1", { now: t.now, sleep: t.sleep });
    assert.deepEqual(evictedUids, ["op-1"], "evicted once, as kubectl drain would");
    assert.equal(result.evicted.length, 1);
  });

  it("pods keep arriving behind the cordon: three more lists at most, a poll interval apart, then done", async () => {
    let n = 0;
    let pods = [pod("web-0", { owner: "ReplicaSet" })];
    const api: DrainApi = {
      listPodsOnNode: () => Promise.resolve(pods),
      evict: () => {
        n++;
        pods = [{ ...pod(`web-${n}`, { owner: "ReplicaSet" }) }];
        return Promise.resolve({ kind: "evicted" });
      },
    };
    const t = fakeTime();
    const result = await drainNode(api, "n1", { pollIntervalMs: 1_000, now: t.now, sleep: t.sleep });
    assert.equal(result.evicted.length, 4, "the first list and three more");
    assert.equal(t.sleeps.filter((ms) => ms === 1_000).length, 3, "a pause before each extra list");
  });

  it("a do-not-disrupt pod that arrives during the drain blocks it", async () => {
    const node = new FakeNode([pod("web-1", { owner: "ReplicaSet" })]);
    const list = node.listPodsOnNode.bind(node);
    let calls = 0;
    node.listPodsOnNode = async () => {
      if (++calls === 2) {
        node.pods.push(
          pod("batch", {
            owner: "Job",
            metadata: { annotations: { "karpenter.sh/do-not-disrupt": "true" } },
          }),
        );
      }
      return list();
    };
    const t = fakeTime();
    await assert.rejects(
      drainNode(node, "n1", { now: t.now, sleep: t.sleep }),
      /drain of node n1 blocked: pod default\/batch/,
    );
  });

  it("retries 429 (PDB) and 500 every retryInterval, treats 404 as done", async () => {
    const node = new FakeNode([pod("guarded"), pod("flaky"), pod("vanished")]);
    node.answers.set("guarded", [429, 429, 201]);
    node.answers.set("flaky", [500, 201]);
    node.answers.set("vanished", [404]);
    const t = fakeTime();
    const result = await drainNode(node, "n1", {
      retryIntervalMs: 5_000,
      pollIntervalMs: 100,
      now: t.now,
      sleep: t.sleep,
    });
    assert.deepEqual(result.evicted.map((p) => p.name).sort(), ["flaky", "guarded"]);
    assert.equal(node.evictions.filter((n) => n === "guarded").length, 3);
    assert.equal(node.evictions.filter((n) => n === "vanished").length, 1);
    assert.equal(t.sleeps.filter((ms) => ms === 5_000).length, 3);
  });

  it("never evicts brupop's apiserver pods and reports them as skipped", async () => {
    const ns = "brupop-bottlerocket-aws";
    const api = pod("brupop-apiserver-1", {
      ns,
      owner: "ReplicaSet",
      metadata: { labels: { "brupop.bottlerocket.aws/component": "apiserver" } },
    });
    const node = new FakeNode([api, pod("web")]);
    const t = fakeTime();
    const result = await drainNode(node, "n1", { brupopNamespace: ns, now: t.now, sleep: t.sleep });
    assert.deepEqual(node.evictions, ["web"]);
    assert.deepEqual(
      result.skipped.map((s) => [`${s.pod.namespace}/${s.pod.name}`, s.reason]),
      [[`${ns}/brupop-apiserver-1`, "brupop-apiserver"]],
    );
  });

  it("skips DaemonSet pods entirely", async () => {
    const node = new FakeNode([pod("ds", { owner: "DaemonSet" }), pod("web")]);
    const t = fakeTime();
    const result = await drainNode(node, "n1", { now: t.now, sleep: t.sleep });
    assert.deepEqual(node.evictions, ["web"]);
    assert.deepEqual(
      result.skipped.map((s) => s.pod.name),
      ["ds"],
    );
    assert.deepEqual(
      node.pods.map((p) => p.metadata?.name),
      ["ds"],
    );
  });

  it("fails at once on an eviction answer that will not change (403)", async () => {
    const node = new FakeNode([pod("a")]);
    node.answers.set("a", [403]);
    const t = fakeTime();
    await assert.rejects(
      drainNode(node, "n1", { now: t.now, sleep: t.sleep }),
      (err) => isBrupopError(err, "BRUPOP_E_DRAIN") && err.details.status === 403,
    );
  });

  it("gives up at the deadline while a PDB keeps refusing", async () => {
    const node = new FakeNode([pod("guarded")]);
    node.answers.set(
      "guarded",
      Array.from({ length: 1000 }, () => 429),
    );
    const t = fakeTime();
    await assert.rejects(
      drainNode(node, "n1", { timeoutMs: 60_000, retryIntervalMs: 5_000, now: t.now, sleep: t.sleep }),
      (err) => isBrupopError(err, "BRUPOP_E_DRAIN") && /timed out evicting/.test(err.message),
    );
    assert.equal(t.now(), 60_000);
    assert.equal(node.evictions.length, 12);
  });

  it("gives up at the deadline while evicted pods do not terminate", async () => {
    const node = new FakeNode([pod("stuck")]);
    node.goneAfterPolls = Number.POSITIVE_INFINITY;
    const t = fakeTime();
    await assert.rejects(
      drainNode(node, "n1", { timeoutMs: 10_000, pollIntervalMs: 1_000, now: t.now, sleep: t.sleep }),
      (err) =>
        isBrupopError(err, "BRUPOP_E_DRAIN") &&
        /terminate/.test(err.message) &&
        JSON.stringify(err.details.remaining) === JSON.stringify(["default/stuck"]),
    );
  });

  it("a pod replaced under the same name (new uid) counts as gone; the replacement bound here is evicted too", async () => {
    let pods = [pod("sts-0")];
    const evictedUids: string[] = [];
    const api: DrainApi = {
      listPodsOnNode: () => Promise.resolve(pods),
      evict: (ref) => {
        evictedUids.push(ref.uid);
        // The StatefulSet controller re-creates sts-0 at once: same name, new uid, here on this node
        // the first time (a scheduler behind the cordon), elsewhere the second.
        pods =
          evictedUids.length === 1
            ? [{ ...pod("sts-0"), metadata: { ...pod("sts-0").metadata, uid: "new-uid" } }]
            : [];
        return Promise.resolve({ kind: "evicted" });
      },
    };
    const t = fakeTime();
    const result = await drainNode(api, "n1", { pollIntervalMs: 1_000, now: t.now, sleep: t.sleep });
    assert.deepEqual(evictedUids, ["sts-0-uid", "new-uid"]);
    assert.equal(result.evicted.length, 2);
  });

  it("retries a failed eviction request (network) like a 5xx", async () => {
    const node = new FakeNode([pod("a")]);
    let calls = 0;
    const api: DrainApi = {
      listPodsOnNode: () => (calls > 1 ? Promise.resolve([]) : node.listPodsOnNode()),
      evict: () => {
        calls++;
        return calls === 1 ? Promise.reject(new Error("ECONNRESET")) : Promise.resolve({ kind: "evicted" });
      },
    };
    const t = fakeTime();
    const result = await drainNode(api, "n1", { now: t.now, sleep: t.sleep });
    assert.equal(calls, 2);
    assert.equal(result.evicted.length, 1);
  });

  it("stops when its signal aborts", async () => {
    const node = new FakeNode([pod("guarded")]);
    node.answers.set(
      "guarded",
      Array.from({ length: 1000 }, () => 429),
    );
    const ac = new AbortController();
    const t = fakeTime();
    const sleep = async (ms: number) => {
      await t.sleep(ms);
      if (t.now() >= 15_000) ac.abort(new Error("shutting down"));
    };
    await assert.rejects(drainNode(node, "n1", { signal: ac.signal, now: t.now, sleep }), /shutting down/);
    assert.ok(node.evictions.length <= 4);
  });
});

const policy = (over: Partial<DrainPolicy>): DrainPolicy => ({ ...DEFAULT_DRAIN_POLICY, ...over });

describe("planDrain with a drain policy", () => {
  it("leaves pods the skip selector matches, after the built-in skips", () => {
    const plan = planDrain(
      [
        pod("cache", { owner: "ReplicaSet", metadata: { labels: { app: "cache" } } }),
        pod("ds", { owner: "DaemonSet", metadata: { labels: { app: "cache" } } }),
        pod("web", { owner: "ReplicaSet", metadata: { labels: { app: "web" } } }),
      ],
      undefined,
      policy({ skipSelector: parseLabelSelector("app=cache") }),
    );
    assert.deepEqual(
      plan.skipped.map((s) => [s.pod.name, s.reason]),
      [
        ["cache", "skip-selector"],
        ["ds", "daemonset"],
      ],
    );
    assert.deepEqual(
      plan.evict.map((p) => p.name),
      ["web"],
    );
  });

  it("blocks on do-not-disrupt pods, but not on skipped ones", () => {
    const annotations = { "karpenter.sh/do-not-disrupt": "true" };
    const plan = planDrain(
      [
        pod("keep", { owner: "ReplicaSet", metadata: { annotations } }),
        pod("ds", { owner: "DaemonSet", metadata: { annotations } }),
        pod("web", { owner: "ReplicaSet" }),
      ],
      undefined,
      DEFAULT_DRAIN_POLICY,
    );
    assert.deepEqual(
      plan.blocked.map((b) => [b.pod.name, b.reason]),
      [["keep", "do-not-disrupt"]],
    );
    assert.deepEqual(
      plan.evict.map((p) => p.name),
      ["web"],
    );
  });
});

/** FakeNode that can also delete pods and list PDBs. */
class DeletingNode extends FakeNode {
  pdbs: KubePodDisruptionBudget[] = [];
  deletes: string[] = [];
  async deletePod(ref: PodRef): Promise<DeleteOutcome> {
    await new Promise((r) => setImmediate(r));
    this.deletes.push(ref.name);
    this.pods = this.pods.filter((p) => p.metadata?.name !== ref.name);
    return { kind: "deleted" };
  }
  async listPdbs(namespace: string): Promise<KubePodDisruptionBudget[]> {
    await new Promise((r) => setImmediate(r));
    return this.pdbs.filter((p) => p.metadata?.namespace === namespace);
  }
}

describe("drainNode: an eviction granted but never carried out (its request cut off)", () => {
  const CREATED = "2026-12-07T10:00:00Z";
  const guarded = (): KubePod =>
    pod("web-1", { owner: "ReplicaSet", metadata: { creationTimestamp: CREATED } });
  const pdbGranting = (name: string, at: string): KubePodDisruptionBudget => ({
    metadata: { name: "web", namespace: "default" },
    spec: { selector: {} },
    status: { disruptionsAllowed: 0, disruptedPods: { [name]: at } },
  });
  const table: [string, KubePodDisruptionBudget[], string[]][] = [
    [
      "the PDB lists the pod as disrupted: deleted at the first 429",
      [pdbGranting("web-1", "2026-12-07T10:05:00Z")],
      ["web-1"],
    ],
    ["the PDB lists another pod: waits (no delete)", [pdbGranting("web-2", "2026-12-07T10:05:00Z")], []],
    [
      "a grant older than the pod (an earlier pod of that name): waits",
      [pdbGranting("web-1", "2026-12-07T09:59:59Z")],
      [],
    ],
    [
      "a grant in the pod's creation second (timestamps have 1 s resolution: could be an earlier pod): waits",
      [pdbGranting("web-1", CREATED)],
      [],
    ],
    ["no PDB lists anything: waits", [], []],
  ];
  for (const [title, pdbs, deletes] of table) {
    it(title, async () => {
      const node = new DeletingNode([guarded()]);
      node.answers.set("web-1", [429, 429, 429, 201]);
      node.pdbs = pdbs;
      const t = fakeTime();
      const result = await drainNode(node, "n1", { retryIntervalMs: 5_000, now: t.now, sleep: t.sleep });
      assert.deepEqual(node.deletes, deletes);
      assert.deepEqual(
        result.evicted.map((p) => p.name),
        ["web-1"],
      );
      assert.equal(node.evictions.length, deletes.length > 0 ? 1 : 4);
    });
  }

  it("a pod already terminating is left to finish", async () => {
    const node = new DeletingNode([
      pod("web-1", { metadata: { creationTimestamp: CREATED, deletionTimestamp: "2026-12-07T10:06:00Z" } }),
    ]);
    node.answers.set("web-1", [429, 201]);
    node.pdbs = [pdbGranting("web-1", "2026-12-07T10:05:00Z")];
    const t = fakeTime();
    await drainNode(node, "n1", { now: t.now, sleep: t.sleep });
    assert.deepEqual(node.deletes, []);
  });

  it("without pods/delete (403) the drain tries once, then waits as before", async () => {
    const node = new DeletingNode([guarded()]);
    node.answers.set("web-1", [429, 429, 429, 201]);
    node.pdbs = [pdbGranting("web-1", "2026-12-07T10:05:00Z")];
    let deletes = 0;
    node.deletePod = () => {
      deletes++;
      return Promise.resolve({ kind: "refused", status: 403 } as const);
    };
    const t = fakeTime();
    const result = await drainNode(node, "n1", { now: t.now, sleep: t.sleep });
    assert.equal(deletes, 1);
    assert.equal(node.evictions.length, 4);
    assert.equal(result.evicted.length, 1);
  });

  it("without the PDB list (RBAC) the drain waits as before", async () => {
    const node = new DeletingNode([guarded()]);
    node.answers.set("web-1", [429, 429, 429, 201]);
    let lists = 0;
    node.listPdbs = () => {
      lists++;
      return Promise.reject(new KubeApiError("LIST PodDisruptionBudgets", 403, {}));
    };
    const t = fakeTime();
    const result = await drainNode(node, "n1", { now: t.now, sleep: t.sleep });
    assert.deepEqual(node.deletes, []);
    assert.equal(result.evicted.length, 1);
    assert.equal(lists, 1, "tried once per drain");
  });

  it("a transport failure while listing PDBs (a control-plane restart) is tried again at the next 429", async () => {
    const node = new DeletingNode([guarded()]);
    node.answers.set("web-1", [429, 429, 429, 201]);
    const granted = [pdbGranting("web-1", "2026-12-07T10:05:00Z")];
    let lists = 0;
    node.listPdbs = () => {
      lists++;
      return lists === 1
        ? Promise.reject(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }))
        : Promise.resolve(granted);
    };
    const t = fakeTime();
    const result = await drainNode(node, "n1", { now: t.now, sleep: t.sleep });
    assert.equal(lists, 2);
    assert.deepEqual(node.deletes, ["web-1"]);
    assert.equal(result.evicted.length, 1);
  });
});

describe("drainNode with a drain policy", () => {
  it("a do-not-disrupt pod blocks the drain before anything is evicted, named with the annotation", async () => {
    const node = new FakeNode([
      pod("web", { owner: "ReplicaSet" }),
      pod("batch", {
        owner: "Job",
        metadata: { annotations: { "cluster-autoscaler.kubernetes.io/safe-to-evict": "false" } },
      }),
    ]);
    const t = fakeTime();
    await assert.rejects(drainNode(node, "n1", { now: t.now, sleep: t.sleep }), (err) => {
      assert.ok(isBrupopError(err, "BRUPOP_E_DRAIN"));
      assert.match(
        err.message,
        /drain of node n1 blocked: pod default\/batch: annotation cluster-autoscaler\.kubernetes\.io\/safe-to-evict=false/,
      );
      assert.deepEqual(err.details.blocked, [
        {
          pod: "default/batch",
          reason: "do-not-disrupt",
          message: (err.details.blocked as { message: string }[])[0]?.message,
        },
      ]);
      return true;
    });
    assert.deepEqual(node.evictions, []);
  });

  it("kubectl-like refusals name the unmanaged and emptyDir pods", async () => {
    const node = new FakeNode([
      pod("bare"),
      { ...pod("scratch", { owner: "ReplicaSet" }), spec: { volumes: [{ name: "tmp", emptyDir: {} }] } },
    ]);
    const t = fakeTime();
    await assert.rejects(
      drainNode(node, "n1", {
        now: t.now,
        sleep: t.sleep,
        policy: policy({ evictUnmanaged: false, evictEmptyDir: false }),
      }),
      /pod default\/bare: no controller manages it .*; pod default\/scratch: emptyDir volume tmp/,
    );
    assert.deepEqual(node.evictions, []);
  });

  it("a timeout names every pod still waiting and why (fail, the default)", async () => {
    const node = new FakeNode([pod("guarded"), pod("flaky")]);
    node.answers.set(
      "guarded",
      Array.from({ length: 1000 }, () => 429),
    );
    node.answers.set(
      "flaky",
      Array.from({ length: 1000 }, () => 500),
    );
    const t = fakeTime();
    await assert.rejects(drainNode(node, "n1", { timeoutMs: 20_000, now: t.now, sleep: t.sleep }), (err) => {
      assert.ok(isBrupopError(err, "BRUPOP_E_DRAIN"));
      assert.match(
        err.message,
        /timed out evicting pods: .*default\/guarded \(eviction refused: HTTP 429, a PodDisruptionBudget/,
      );
      assert.match(err.message, /default\/flaky \(eviction failed: HTTP 500\)/);
      return true;
    });
  });

  it("onTimeout delete: deletes the pods still there, keeps those a PDB protects and names them", async () => {
    const node = new DeletingNode([
      pod("multi", { owner: "ReplicaSet", metadata: { labels: { app: "multi" } } }),
      pod("guarded", { owner: "ReplicaSet", metadata: { labels: { app: "guarded" } } }),
      pod("gone", { owner: "ReplicaSet" }),
    ]);
    node.answers.set(
      "multi",
      Array.from({ length: 1000 }, () => 500),
    );
    node.answers.set(
      "guarded",
      Array.from({ length: 1000 }, () => 429),
    );
    node.pdbs = [
      {
        metadata: { name: "one", namespace: "default" },
        spec: { selector: { matchLabels: { app: "multi" } } },
        status: { disruptionsAllowed: 1 },
      },
      {
        metadata: { name: "strict", namespace: "default" },
        spec: { selector: { matchLabels: { app: "guarded" } } },
        status: { disruptionsAllowed: 0 },
      },
    ];
    const t = fakeTime();
    await assert.rejects(
      drainNode(node, "n1", {
        timeoutMs: 20_000,
        now: t.now,
        sleep: t.sleep,
        policy: policy({ onTimeout: "delete" }),
      }),
      (err) => {
        assert.ok(isBrupopError(err, "BRUPOP_E_DRAIN"));
        assert.match(
          err.message,
          /deleted default\/multi; kept default\/guarded: PodDisruptionBudget default\/strict allows no disruption/,
        );
        assert.deepEqual(err.details.deleted, ["default/multi"]);
        return true;
      },
    );
    assert.deepEqual(node.deletes, ["multi"]);
  });

  it("onTimeout delete with disregardPdb deletes the protected pod too and succeeds", async () => {
    const node = new DeletingNode([pod("guarded", { owner: "ReplicaSet" })]);
    node.answers.set(
      "guarded",
      Array.from({ length: 1000 }, () => 429),
    );
    node.pdbs = [
      {
        metadata: { name: "strict", namespace: "default" },
        spec: { selector: {} },
        status: { disruptionsAllowed: 0 },
      },
    ];
    const t = fakeTime();
    const result = await drainNode(node, "n1", {
      timeoutMs: 20_000,
      now: t.now,
      sleep: t.sleep,
      policy: policy({ onTimeout: "delete", disregardPdb: true }),
    });
    assert.deepEqual(
      result.deleted?.map((p) => p.name),
      ["guarded"],
    );
  });

  it("onTimeout delete leaves evicted pods that are still terminating alone", async () => {
    const node = new DeletingNode([pod("slow", { owner: "ReplicaSet" })]);
    node.goneAfterPolls = Number.POSITIVE_INFINITY;
    const t = fakeTime();
    const run = drainNode(node, "n1", {
      timeoutMs: 5_000,
      now: t.now,
      sleep: t.sleep,
      policy: policy({ onTimeout: "delete" }),
    });
    // The eviction set its deletionTimestamp.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    node.pods = node.pods.map((p) => ({
      ...p,
      metadata: { ...p.metadata, deletionTimestamp: "2026-01-01T00:00:00Z" },
    }));
    const result = await run;
    assert.deepEqual(node.deletes, []);
    assert.deepEqual(
      result.evicted.map((p) => p.name),
      ["slow"],
    );
  });
});

/** Answers every request with `status` and records it. */
class ScriptedKube extends KubeApiBase {
  readonly calls: { method: string; path: string; body: unknown }[] = [];
  constructor(
    readonly status: number,
    readonly body: unknown = {},
  ) {
    super();
  }
  request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<RestResponse<T>> {
    this.calls.push({ method, path, body: opts.body });
    return Promise.resolve({ status: this.status, body: this.body as T });
  }
  watch(_path: string, _query: Query, _onEvent: WatchHandler, _signal: AbortSignal): Promise<void> {
    return Promise.resolve();
  }
}

describe("kubeDrainApi: delete and PDB list", () => {
  const ref: PodRef = { namespace: "ns", name: "p", uid: "u1" };
  const signal = new AbortController().signal;

  it("deletes with the pod's uid as precondition", async () => {
    const kube = new ScriptedKube(200);
    assert.deepEqual(await kubeDrainApi(kube).deletePod!(ref, signal), { kind: "deleted" });
    assert.deepEqual(kube.calls, [
      {
        method: "DELETE",
        path: "/api/v1/namespaces/ns/pods/p",
        body: { apiVersion: "v1", kind: "DeleteOptions", preconditions: { uid: "u1" } },
      },
    ]);
  });

  it("a failed precondition (409: another pod under that name) counts as gone; other refusals carry the status", async () => {
    const table: [number, DeleteOutcome][] = [
      [409, { kind: "gone" }],
      [404, { kind: "gone" }],
      [403, { kind: "refused", status: 403 }],
      [500, { kind: "refused", status: 500 }],
    ];
    for (const [status, want] of table)
      assert.deepEqual(
        await kubeDrainApi(new ScriptedKube(status)).deletePod!(ref, signal),
        want,
        `${status}`,
      );
  });

  it("classifies an eviction's answer: accepted, gone, not now (PDB or overload), refused for good", async () => {
    const table: [number, EvictOutcome][] = [
      [201, { kind: "evicted" }],
      [404, { kind: "gone" }],
      [429, { kind: "not-now", status: 429 }],
      [503, { kind: "not-now", status: 503 }],
      [403, { kind: "refused", status: 403 }],
      [409, { kind: "refused", status: 409 }],
    ];
    for (const [status, want] of table)
      assert.deepEqual(await kubeDrainApi(new ScriptedKube(status)).evict(ref, signal), want, `${status}`);
  });

  it("lists the PDBs of one namespace", async () => {
    const kube = new ScriptedKube(200, { items: [{ metadata: { name: "a" } }] });
    assert.deepEqual(await kubeDrainApi(kube).listPdbs!("ns", signal), [{ metadata: { name: "a" } }]);
    assert.equal(kube.calls[0]?.path, "/apis/policy/v1/namespaces/ns/poddisruptionbudgets");
  });
});
