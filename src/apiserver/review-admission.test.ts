import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AGENT_COMPONENT, COMPONENT_LABEL } from "../model/constants.js";
import type { AgentPod } from "./authz.js";
import {
  chooseLane,
  claimedBinding,
  decideAdmission,
  msUntilUnit,
  refilled,
  refunded,
  ReviewAdmission,
  sourceKey,
  type Bucket,
  type ClaimedBinding,
  type LaneBudgets,
} from "./review-admission.js";

const NS = "brupop-bottlerocket-aws";

const agentPod = (over: { uid?: string; node?: string; labels?: Record<string, string> } = {}): AgentPod => ({
  metadata: {
    name: "agent-x",
    namespace: NS,
    uid: over.uid ?? "pod-uid",
    labels: over.labels ?? { [COMPONENT_LABEL]: AGENT_COMPONENT },
  },
  spec: { nodeName: over.node ?? "n1" },
});

const claimed = (over: Partial<ClaimedBinding> = {}): ClaimedBinding => ({
  namespace: NS,
  podName: "agent-x",
  podUid: "pod-uid",
  nodeName: "n1",
  ...over,
});

describe("claimedBinding", () => {
  const table: {
    name: string;
    claims: Record<string, unknown> | undefined;
    want: ClaimedBinding | undefined;
  }[] = [
    { name: "not decodable", claims: undefined, want: undefined },
    { name: "no kubernetes.io claim", claims: { sub: "x" }, want: undefined },
    {
      name: "pod without uid",
      claims: { "kubernetes.io": { namespace: NS, pod: { name: "p" } } },
      want: undefined,
    },
    {
      name: "pod name not a string",
      claims: { "kubernetes.io": { namespace: NS, pod: { name: 7, uid: "u" } } },
      want: undefined,
    },
    {
      name: "bound token without node (Kubernetes < 1.30)",
      claims: { "kubernetes.io": { namespace: NS, pod: { name: "p", uid: "u" } } },
      want: { namespace: NS, podName: "p", podUid: "u", nodeName: undefined },
    },
    {
      name: "bound token with node",
      claims: {
        "kubernetes.io": { namespace: NS, pod: { name: "p", uid: "u" }, node: { name: "n1", uid: "nu" } },
      },
      want: { namespace: NS, podName: "p", podUid: "u", nodeName: "n1" },
    },
  ];
  for (const c of table) it(c.name, () => assert.deepEqual(claimedBinding(c.claims), c.want));
});

describe("chooseLane", () => {
  const table: {
    name: string;
    claimed: ClaimedBinding | undefined;
    indexed: AgentPod | undefined;
    nodeName?: string;
    lane: "agent" | "anonymous";
  }[] = [
    {
      name: "names a live agent pod on the named node",
      claimed: claimed(),
      indexed: agentPod(),
      lane: "agent",
    },
    {
      name: "same, token without a node claim",
      claimed: claimed({ nodeName: undefined }),
      indexed: agentPod(),
      lane: "agent",
    },
    { name: "no pod binding", claimed: undefined, indexed: agentPod(), lane: "anonymous" },
    { name: "pod not in the informer", claimed: claimed(), indexed: undefined, lane: "anonymous" },
    {
      name: "right name, wrong uid (a forger who only knows the name)",
      claimed: claimed({ podUid: "guessed" }),
      indexed: agentPod(),
      lane: "anonymous",
    },
    {
      name: "the pod runs on another node",
      claimed: claimed({ nodeName: undefined }),
      indexed: agentPod({ node: "n2" }),
      lane: "anonymous",
    },
    {
      name: "the token claims another node than the request names",
      claimed: claimed({ nodeName: "n2" }),
      indexed: agentPod(),
      lane: "anonymous",
    },
    {
      name: "the request names another node than the pod's",
      claimed: claimed({ nodeName: undefined }),
      indexed: agentPod(),
      nodeName: "n2",
      lane: "anonymous",
    },
    {
      name: "another namespace",
      claimed: claimed({ namespace: "elsewhere" }),
      indexed: agentPod(),
      lane: "anonymous",
    },
    {
      name: "a pod without the agent label",
      claimed: claimed(),
      indexed: agentPod({ labels: { app: "other" } }),
      lane: "anonymous",
    },
  ];
  for (const c of table) {
    it(c.name, () => {
      const got = chooseLane({
        claimed: c.claimed,
        indexed: c.indexed,
        nodeName: c.nodeName ?? "n1",
        namespace: NS,
      });
      assert.equal(got.lane, c.lane, got.why);
    });
  }
});

describe("sourceKey", () => {
  const table: [string | undefined, string][] = [
    [undefined, "unknown"],
    ["", "unknown"],
    ["10.0.0.7", "10.0.0.7"],
    ["::ffff:10.0.0.7", "10.0.0.7"],
    ["::FFFF:127.0.0.2", "127.0.0.2"],
    ["FD00::1", "fd00::1"],
  ];
  for (const [raw, want] of table) it(`${String(raw)} → ${want}`, () => assert.equal(sourceKey(raw), want));
});

describe("token bucket arithmetic", () => {
  const p = { capacity: 4, refillPerSecond: 2 };
  it("an unused bucket is full", () => assert.deepEqual(refilled(undefined, p, 100), { units: 4, at: 100 }));
  it("refills at its rate, up to capacity", () => {
    assert.deepEqual(refilled({ units: 0, at: 0 }, p, 500), { units: 1, at: 500 });
    assert.deepEqual(refilled({ units: 0, at: 0 }, p, 60_000), { units: 4, at: 60_000 });
  });
  it("a clock going backwards refills nothing", () =>
    assert.deepEqual(refilled({ units: 1, at: 1_000 }, p, 500), { units: 1, at: 500 }));
  it("time to the next unit", () => {
    assert.equal(msUntilUnit({ units: 1, at: 0 }, p), 0);
    assert.equal(msUntilUnit({ units: 0.5, at: 0 }, p), 250);
    assert.equal(msUntilUnit({ units: 0, at: 0 }, { capacity: 1, refillPerSecond: 0 }), 60_000);
  });
  it("a refund never exceeds capacity", () => {
    assert.deepEqual(refunded(undefined, p, 0), { units: 4, at: 0 });
    assert.deepEqual(refunded({ units: 1, at: 0 }, p, 0), { units: 2, at: 0 });
  });
});

describe("decideAdmission", () => {
  const budgets: LaneBudgets = {
    pool: { capacity: 10, refillPerSecond: 1 },
    perSource: { capacity: 2, refillPerSecond: 0.5 },
  };
  const b = (units: number, at = 0): Bucket => ({ units, at });
  const table: {
    name: string;
    pool: Bucket | undefined;
    source: Bucket | undefined;
    now: number;
    want: { admit: boolean; spent?: string; retryAfterMs?: number; pool: number; source: number };
  }[] = [
    {
      name: "fresh source, fresh pool: admitted, one unit off each",
      pool: undefined,
      source: undefined,
      now: 0,
      want: { admit: true, pool: 9, source: 1 },
    },
    {
      name: "source spent: refused for the source, the pool untouched",
      pool: b(5),
      source: b(0.25),
      now: 0,
      want: { admit: false, spent: "source", retryAfterMs: 1_500, pool: 5, source: 0.25 },
    },
    {
      name: "pool spent (other sources flooded): refused for the pool, the source untouched",
      pool: b(0),
      source: undefined,
      now: 0,
      want: { admit: false, spent: "pool", retryAfterMs: 1_000, pool: 0, source: 2 },
    },
    {
      name: "both refill with time",
      pool: b(0),
      source: b(0),
      now: 2_000,
      want: { admit: true, pool: 1, source: 0 },
    },
  ];
  for (const c of table) {
    it(c.name, () => {
      const d = decideAdmission({ pool: c.pool, source: c.source }, budgets, c.now);
      assert.equal(d.admit, c.want.admit);
      if (!d.admit) {
        assert.equal(d.spent, c.want.spent);
        assert.equal(d.retryAfterMs, c.want.retryAfterMs);
      }
      assert.equal(d.pool.units, c.want.pool);
      assert.equal(d.source.units, c.want.source);
    });
  }
});

describe("ReviewAdmission", () => {
  const budgets = {
    anonymous: {
      pool: { capacity: 6, refillPerSecond: 1 },
      perSource: { capacity: 2, refillPerSecond: 0.5 },
    },
    agent: { pool: { capacity: 4, refillPerSecond: 1 }, perSource: { capacity: 2, refillPerSecond: 1 } },
  };

  it("a flood from many sources spends the anonymous pool, never the agent lane", () => {
    let now = 0;
    const a = new ReviewAdmission({ budgets, now: () => now });
    let admitted = 0;
    for (let s = 0; s < 10; s++) {
      for (let i = 0; i < 100; i++) if (a.admit("anonymous", `10.0.0.${s}`).admit) admitted++;
    }
    assert.equal(admitted, 6, "the anonymous pool's capacity");
    assert.equal(a.admit("agent", "10.0.1.1").admit, true);
    now += 1_000;
    assert.equal(a.admit("anonymous", "10.0.0.9").admit, true, "the pool refilled one");
    assert.equal(a.admit("anonymous", "10.0.0.9").admit, false);
  });

  it("one source spends only its own bucket: another source of the same lane is admitted", () => {
    const a = new ReviewAdmission({ budgets, now: () => 0 });
    assert.equal(a.admit("agent", "10.0.0.1").admit, true);
    assert.equal(a.admit("agent", "10.0.0.1").admit, true);
    const third = a.admit("agent", "10.0.0.1");
    assert.deepEqual(third, { admit: false, lane: "agent", spent: "source", retryAfterMs: 1_000 });
    assert.equal(a.admit("agent", "10.0.0.2").admit, true);
  });

  it("a refund gives the unit back to the source and the pool", () => {
    const a = new ReviewAdmission({ budgets, now: () => 0 });
    for (let i = 0; i < 20; i++) {
      const got = a.admit("agent", "10.0.0.1");
      assert.ok(got.admit, `review ${i}`);
      a.refund(got.ticket);
    }
    assert.equal(a.sourcesTracked, 0, "full buckets are forgotten");
  });

  it("keeps at most maxSources buckets per lane", () => {
    const a = new ReviewAdmission({ budgets, maxSources: 3, now: () => 0 });
    for (let s = 0; s < 5; s++) a.admit("anonymous", `10.0.0.${s}`);
    assert.equal(a.sourcesTracked, 3);
  });

  it("defaults apply field by field", () => {
    const a = new ReviewAdmission({ budgets: { anonymous: { pool: { capacity: 20 } } } });
    assert.deepEqual(a.budgets.anonymous.pool, { capacity: 20, refillPerSecond: 2 });
    assert.deepEqual(a.budgets.agent.pool, { capacity: 64, refillPerSecond: 8 });
  });
});
