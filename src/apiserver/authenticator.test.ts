import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBrupopError } from "../errors.js";
import { Authenticator, type AuthBackend, type ReviewOutcome } from "./authenticator.js";
import { POD_NAME_EXTRA, POD_UID_EXTRA, type AgentPod, type TokenReviewStatus } from "./authz.js";

const NS = "brupop-bottlerocket-aws";

/** A small in-memory cluster: tokens → pods, pods, nodes; counts calls. */
class FakeCluster implements AuthBackend {
  tokens = new Map<string, string>(); // token → pod name
  pods = new Map<string, AgentPod>();
  nodes = new Map<string, string>(); // name → uid
  reviews = 0;
  nodeLookups: { name: string; fresh: boolean }[] = [];
  reviewDelayMs = 0;
  reviewFails = false;

  addAgent(pod: string, node: string, nodeUid: string, token: string): void {
    this.tokens.set(token, pod);
    this.pods.set(pod, {
      metadata: {
        name: pod,
        namespace: NS,
        uid: `${pod}-uid`,
        labels: { "brupop.bottlerocket.aws/component": "agent" },
      },
      spec: { nodeName: node },
    });
    this.nodes.set(node, nodeUid);
  }

  async reviewToken(token: string): Promise<TokenReviewStatus> {
    this.reviews++;
    if (this.reviewDelayMs > 0) await new Promise((r) => setTimeout(r, this.reviewDelayMs));
    if (this.reviewFails) throw new Error("apiserver unreachable");
    const pod = this.tokens.get(token);
    if (pod === undefined || !this.pods.has(pod)) return { authenticated: false };
    return {
      authenticated: true,
      audiences: ["brupop-apiserver"],
      user: {
        username: `system:serviceaccount:${NS}:agent`,
        extra: { [POD_NAME_EXTRA]: [pod], [POD_UID_EXTRA]: [`${pod}-uid`] },
      },
    };
  }

  getPod(name: string): Promise<AgentPod | undefined> {
    return Promise.resolve(this.pods.get(name));
  }

  getNodeUid(name: string, fresh: boolean): Promise<string | undefined> {
    this.nodeLookups.push({ name, fresh });
    return Promise.resolve(this.nodes.get(name));
  }
}

function headers(node: string, uid: string, token: string) {
  return { brupopnodename: node, brupopnodeuid: uid, brupopk8sauthtoken: token };
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err) => isBrupopError(err) && err.code === code);
}

describe("Authenticator", () => {
  it("accepts an agent and caches its review: one TokenReview for many requests", async () => {
    const cluster = new FakeCluster();
    cluster.addAgent("agent-1", "n1", "uid-1", "tok-1");
    const outcomes: ReviewOutcome[] = [];
    const auth = new Authenticator({ backend: cluster, namespace: NS, onReview: (o) => outcomes.push(o) });
    for (let i = 0; i < 5; i++) {
      const caller = await auth.authenticate(headers("n1", "uid-1", "tok-1"));
      assert.deepEqual(caller, {
        nodeName: "n1",
        nodeUid: "uid-1",
        podName: "agent-1",
        serviceAccount: "agent",
      });
    }
    assert.equal(cluster.reviews, 1);
    assert.deepEqual(outcomes, ["reviewed", "cache_hit", "cache_hit", "cache_hit", "cache_hit"]);
  });

  it("concurrent first requests with one token share one TokenReview", async () => {
    const cluster = new FakeCluster();
    cluster.addAgent("agent-1", "n1", "uid-1", "tok-1");
    cluster.reviewDelayMs = 20;
    const auth = new Authenticator({ backend: cluster, namespace: NS });
    await Promise.all(Array.from({ length: 10 }, () => auth.authenticate(headers("n1", "uid-1", "tok-1"))));
    assert.equal(cluster.reviews, 1);
  });

  it("re-reviews after the TTL", async () => {
    const cluster = new FakeCluster();
    cluster.addAgent("agent-1", "n1", "uid-1", "tok-1");
    let now = 0;
    const auth = new Authenticator({ backend: cluster, namespace: NS, cacheTtlMs: 1_000, now: () => now });
    await auth.authenticate(headers("n1", "uid-1", "tok-1"));
    now = 999;
    await auth.authenticate(headers("n1", "uid-1", "tok-1"));
    assert.equal(cluster.reviews, 1);
    now = 1_000;
    await auth.authenticate(headers("n1", "uid-1", "tok-1"));
    assert.equal(cluster.reviews, 2);
  });

  it("a deleted pod's cached token stops working at once, and the cache entry goes", async () => {
    const cluster = new FakeCluster();
    cluster.addAgent("agent-1", "n1", "uid-1", "tok-1");
    const auth = new Authenticator({ backend: cluster, namespace: NS });
    await auth.authenticate(headers("n1", "uid-1", "tok-1"));
    cluster.pods.delete("agent-1");
    await rejectsWith(auth.authenticate(headers("n1", "uid-1", "tok-1")), "BRUPOP_E_UNAUTHENTICATED");
    // The next attempt asks the API server again (which now says no, and that answer is cached briefly).
    await rejectsWith(auth.authenticate(headers("n1", "uid-1", "tok-1")), "BRUPOP_E_UNAUTHENTICATED");
    assert.equal(cluster.reviews, 2);
    await rejectsWith(auth.authenticate(headers("n1", "uid-1", "tok-1")), "BRUPOP_E_UNAUTHENTICATED");
    assert.equal(cluster.reviews, 2);
  });

  it("refuses another node's name (403) even with a cached review", async () => {
    const cluster = new FakeCluster();
    cluster.addAgent("agent-1", "n1", "uid-1", "tok-1");
    cluster.addAgent("agent-2", "n2", "uid-2", "tok-2");
    const auth = new Authenticator({ backend: cluster, namespace: NS });
    await auth.authenticate(headers("n1", "uid-1", "tok-1"));
    await rejectsWith(auth.authenticate(headers("n2", "uid-2", "tok-1")), "BRUPOP_E_FORBIDDEN");
    // A forbidden request does not evict the review: the token itself is fine.
    await auth.authenticate(headers("n1", "uid-1", "tok-1"));
    assert.equal(cluster.reviews, 1);
  });

  it("checks a mismatching node uid against a fresh read before refusing", async () => {
    const cluster = new FakeCluster();
    cluster.addAgent("agent-1", "n1", "uid-1", "tok-1");
    const auth = new Authenticator({ backend: cluster, namespace: NS });
    await rejectsWith(auth.authenticate(headers("n1", "uid-OLD", "tok-1")), "BRUPOP_E_FORBIDDEN");
    assert.deepEqual(cluster.nodeLookups, [
      { name: "n1", fresh: false },
      { name: "n1", fresh: true },
    ]);
  });

  it("missing headers: 401 without any cluster call", async () => {
    const cluster = new FakeCluster();
    const auth = new Authenticator({ backend: cluster, namespace: NS });
    await rejectsWith(
      auth.authenticate({ brupopnodename: "n1", brupopnodeuid: "u" }),
      "BRUPOP_E_UNAUTHENTICATED",
    );
    assert.equal(cluster.reviews, 0);
  });

  it("a TokenReview failure propagates and is not cached", async () => {
    const cluster = new FakeCluster();
    cluster.addAgent("agent-1", "n1", "uid-1", "tok-1");
    cluster.reviewFails = true;
    const outcomes: ReviewOutcome[] = [];
    const auth = new Authenticator({ backend: cluster, namespace: NS, onReview: (o) => outcomes.push(o) });
    await assert.rejects(auth.authenticate(headers("n1", "uid-1", "tok-1")), /unreachable/);
    cluster.reviewFails = false;
    await auth.authenticate(headers("n1", "uid-1", "tok-1"));
    assert.deepEqual(outcomes, ["error", "reviewed"]);
  });

  it("the cache is bounded", async () => {
    const cluster = new FakeCluster();
    for (let i = 0; i < 10; i++) cluster.addAgent(`agent-${i}`, `n${i}`, `uid-${i}`, `tok-${i}`);
    const auth = new Authenticator({ backend: cluster, namespace: NS, cacheMaxEntries: 4 });
    for (let i = 0; i < 10; i++) await auth.authenticate(headers(`n${i}`, `uid-${i}`, `tok-${i}`));
    assert.equal(auth.cacheSize, 4);
  });
});
