import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  authorizeCaller,
  identityFromReview,
  parseAuthHeaders,
  tokenClaimsProblem,
  POD_NAME_EXTRA,
  POD_UID_EXTRA,
  type AgentIdentity,
  type AgentPod,
  type TokenReviewStatus,
} from "./authz.js";
import { fakeAgentToken } from "../../test/kit/fake-token.js";

const tok = (label: string): string => fakeAgentToken(label);

const NS = "brupop-bottlerocket-aws";
const expect = { namespace: NS, audiences: ["brupop-apiserver"] };

function review(
  overrides: Partial<TokenReviewStatus> = {},
  extra?: Record<string, string[]>,
): TokenReviewStatus {
  return {
    authenticated: true,
    audiences: ["brupop-apiserver"],
    user: {
      username: `system:serviceaccount:${NS}:brupop-agent-service-account`,
      extra: extra ?? { [POD_NAME_EXTRA]: ["agent-abc"], [POD_UID_EXTRA]: ["pod-uid-1"] },
    },
    ...overrides,
  };
}

describe("parseAuthHeaders", () => {
  const full = { brupopnodename: "n1", brupopnodeuid: "u1", brupopk8sauthtoken: tok("tok") };

  it("accepts the three headers (lower-cased by Node)", () => {
    assert.deepEqual(parseAuthHeaders(full), {
      ok: true,
      value: { nodeName: "n1", nodeUid: "u1", token: tok("tok") },
    });
  });

  it("strips an optional Bearer prefix", () => {
    const d = parseAuthHeaders({ ...full, brupopk8sauthtoken: `Bearer ${tok("tok2")}` });
    assert.equal(d.ok && d.value.token, tok("tok2"));
  });

  for (const missing of ["brupopnodename", "brupopnodeuid", "brupopk8sauthtoken"] as const) {
    it(`refuses with 401 when ${missing} is missing or empty`, () => {
      const without = { ...full, [missing]: undefined };
      const empty = { ...full, [missing]: "  " };
      for (const headers of [without, empty]) {
        const d = parseAuthHeaders(headers);
        assert.equal(d.ok, false);
        assert.equal(!d.ok && d.code, "BRUPOP_E_UNAUTHENTICATED");
      }
    });
  }

  it("refuses a header given twice", () => {
    const d = parseAuthHeaders({ ...full, brupopnodename: ["n1", "n2"] });
    assert.equal(d.ok, false);
  });
});

describe("identityFromReview", () => {
  const table: { name: string; status: TokenReviewStatus | undefined; code?: string }[] = [
    { name: "a bound agent token", status: review() },
    { name: "no status", status: undefined, code: "BRUPOP_E_UNAUTHENTICATED" },
    { name: "not authenticated", status: review({ authenticated: false }), code: "BRUPOP_E_UNAUTHENTICATED" },
    {
      name: "authenticated missing",
      status: review({ authenticated: undefined }),
      code: "BRUPOP_E_UNAUTHENTICATED",
    },
    { name: "review error", status: review({ error: "boom" }), code: "BRUPOP_E_UNAUTHENTICATED" },
    {
      name: "wrong audience",
      status: review({ audiences: ["kubernetes"] }),
      code: "BRUPOP_E_UNAUTHENTICATED",
    },
    { name: "no audiences", status: review({ audiences: [] }), code: "BRUPOP_E_UNAUTHENTICATED" },
    { name: "no pod claim", status: review({}, {}), code: "BRUPOP_E_UNAUTHENTICATED" },
    {
      name: "two pod names",
      status: review({}, { [POD_NAME_EXTRA]: ["a", "b"] }),
      code: "BRUPOP_E_UNAUTHENTICATED",
    },
    {
      name: "empty pod name",
      status: review({}, { [POD_NAME_EXTRA]: [""] }),
      code: "BRUPOP_E_UNAUTHENTICATED",
    },
    {
      name: "two pod uids",
      status: review({}, { [POD_NAME_EXTRA]: ["a"], [POD_UID_EXTRA]: ["1", "2"] }),
      code: "BRUPOP_E_UNAUTHENTICATED",
    },
    {
      name: "service account of another namespace",
      status: review({
        user: { username: "system:serviceaccount:other:sa", extra: { [POD_NAME_EXTRA]: ["p"] } },
      }),
      code: "BRUPOP_E_FORBIDDEN",
    },
    {
      name: "a user, not a service account",
      status: review({ user: { username: "alice", extra: { [POD_NAME_EXTRA]: ["p"] } } }),
      code: "BRUPOP_E_FORBIDDEN",
    },
  ];
  for (const row of table) {
    it(`${row.name} → ${row.code ?? "ok"}`, () => {
      const d = identityFromReview(row.status, expect);
      if (row.code === undefined) {
        assert.deepEqual(d, {
          ok: true,
          value: {
            podName: "agent-abc",
            podUid: "pod-uid-1",
            serviceAccount: "brupop-agent-service-account",
            serviceAccountUid: undefined,
          },
        });
      } else {
        assert.equal(d.ok, false);
        assert.equal(!d.ok && d.code, row.code);
      }
    });
  }

  it("accepts any one of several audiences", () => {
    const d = identityFromReview(review({ audiences: ["x", "brupop-apiserver"] }), expect);
    assert.equal(d.ok, true);
  });

  it("accepts tokens without a pod-uid claim (older clusters)", () => {
    const d = identityFromReview(review({}, { [POD_NAME_EXTRA]: ["agent-abc"] }), expect);
    assert.equal(d.ok && d.value.podUid, undefined);
  });
});

describe("authorizeCaller", () => {
  const identity: AgentIdentity = {
    podName: "agent-abc",
    podUid: "pod-uid-1",
    serviceAccount: "sa",
    serviceAccountUid: "sa-uid-1",
  };
  const pod: AgentPod = {
    metadata: {
      name: "agent-abc",
      namespace: NS,
      uid: "pod-uid-1",
      labels: { "brupop.bottlerocket.aws/component": "agent" },
    },
    spec: { nodeName: "n1" },
  };
  const claim = { nodeName: "n1", nodeUid: "node-uid-1" };

  const table: {
    name: string;
    identity?: AgentIdentity;
    pod: AgentPod | undefined;
    nodeUid?: string;
    claim?: typeof claim;
    code?: string;
    sa?: { uid: string | undefined };
  }[] = [
    { name: "agent pod on the claimed node", pod, nodeUid: "node-uid-1" },
    {
      name: "service account still there",
      pod,
      nodeUid: "node-uid-1",
      sa: { uid: "sa-uid-1" },
    },
    {
      name: "service account deleted",
      pod,
      nodeUid: "node-uid-1",
      sa: { uid: undefined },
      code: "BRUPOP_E_UNAUTHENTICATED",
    },
    {
      name: "service account re-created under the same name",
      pod,
      nodeUid: "node-uid-1",
      sa: { uid: "sa-uid-2" },
      code: "BRUPOP_E_UNAUTHENTICATED",
    },
    { name: "pod deleted", pod: undefined, nodeUid: "node-uid-1", code: "BRUPOP_E_UNAUTHENTICATED" },
    {
      name: "pod re-created under the same name",
      pod: { ...pod, metadata: { ...pod.metadata, uid: "pod-uid-2" } },
      nodeUid: "node-uid-1",
      code: "BRUPOP_E_UNAUTHENTICATED",
    },
    {
      name: "pod without the agent label",
      pod: { ...pod, metadata: { ...pod.metadata, labels: { app: "other" } } },
      nodeUid: "node-uid-1",
      code: "BRUPOP_E_FORBIDDEN",
    },
    {
      name: "pod with another component label",
      pod: {
        ...pod,
        metadata: { ...pod.metadata, labels: { "brupop.bottlerocket.aws/component": "controller" } },
      },
      nodeUid: "node-uid-1",
      code: "BRUPOP_E_FORBIDDEN",
    },
    {
      name: "pod on another node",
      pod: { ...pod, spec: { nodeName: "n2" } },
      nodeUid: "node-uid-1",
      code: "BRUPOP_E_FORBIDDEN",
    },
    {
      name: "pod not scheduled",
      pod: { ...pod, spec: {} },
      nodeUid: "node-uid-1",
      code: "BRUPOP_E_FORBIDDEN",
    },
    { name: "node does not exist", pod, nodeUid: undefined, code: "BRUPOP_E_FORBIDDEN" },
    { name: "node uid does not match", pod, nodeUid: "node-uid-OTHER", code: "BRUPOP_E_FORBIDDEN" },
    {
      name: "no pod-uid claim: name match suffices",
      identity: { ...identity, podUid: undefined },
      pod: { ...pod, metadata: { ...pod.metadata, uid: "anything" } },
      nodeUid: "node-uid-1",
    },
  ];
  for (const row of table) {
    it(`${row.name} → ${row.code ?? "ok"}`, () => {
      const d = authorizeCaller(row.identity ?? identity, row.pod, row.nodeUid, row.claim ?? claim, row.sa);
      if (row.code === undefined) {
        assert.equal(d.ok, true);
        assert.deepEqual(d.ok && d.value, {
          nodeName: "n1",
          nodeUid: "node-uid-1",
          podName: "agent-abc",
          serviceAccount: "sa",
        });
      } else {
        assert.equal(d.ok, false);
        assert.equal(!d.ok && d.code, row.code);
      }
    });
  }
});

describe("parseAuthHeaders refuses malformed headers before any Kubernetes call", () => {
  const good = {
    brupopnodename: "ip-10-0-0-1.ec2.internal",
    brupopnodeuid: "0b7c9d5e-1f2a-4b3c-8d9e-0a1b2c3d4e5f",
    brupopk8sauthtoken: tok("t"),
  };
  const table: { name: string; headers: Record<string, string | string[]>; code?: string }[] = [
    { name: "a real-looking node name and uid", headers: good },
    {
      name: "path traversal in the node name",
      headers: { ...good, brupopnodename: "A%2F..%2FB" },
      code: "BRUPOP_E_BAD_REQUEST",
    },
    {
      name: "slash in the node name",
      headers: { ...good, brupopnodename: "a/../b" },
      code: "BRUPOP_E_BAD_REQUEST",
    },
    {
      name: "upper case node name",
      headers: { ...good, brupopnodename: "Node-1" },
      code: "BRUPOP_E_BAD_REQUEST",
    },
    {
      name: "node name of 254 characters",
      headers: { ...good, brupopnodename: "a".repeat(254) },
      code: "BRUPOP_E_BAD_REQUEST",
    },
    {
      name: "node name ending in a dash",
      headers: { ...good, brupopnodename: "node-" },
      code: "BRUPOP_E_BAD_REQUEST",
    },
    {
      name: "node name with an empty label",
      headers: { ...good, brupopnodename: "a..b" },
      code: "BRUPOP_E_BAD_REQUEST",
    },
    { name: "uid with a slash", headers: { ...good, brupopnodeuid: "../x" }, code: "BRUPOP_E_BAD_REQUEST" },
    {
      name: "uid of 65 characters",
      headers: { ...good, brupopnodeuid: "a".repeat(65) },
      code: "BRUPOP_E_BAD_REQUEST",
    },
    {
      name: "node name given twice",
      headers: { ...good, brupopnodename: ["n1", "n1"] },
      code: "BRUPOP_E_BAD_REQUEST",
    },
    {
      name: "an opaque (non-JWT) token",
      headers: { ...good, brupopk8sauthtoken: "opaque-token" },
      code: "BRUPOP_E_UNAUTHENTICATED",
    },
    {
      name: "a token with spaces",
      headers: { ...good, brupopk8sauthtoken: "a.b c.d" },
      code: "BRUPOP_E_UNAUTHENTICATED",
    },
    {
      name: "a 17 KiB token",
      headers: { ...good, brupopk8sauthtoken: `a.${"b".repeat(17 * 1024)}.c` },
      code: "BRUPOP_E_UNAUTHENTICATED",
    },
  ];
  for (const row of table) {
    it(`${row.name} → ${row.code ?? "ok"}`, () => {
      const d = parseAuthHeaders(row.headers);
      if (row.code === undefined) assert.equal(d.ok, true);
      else assert.equal(!d.ok && d.code, row.code);
    });
  }
});

describe("tokenClaimsProblem (unverified claims that already rule a token out)", () => {
  const now = 1_800_000_000_000;
  const table: { name: string; token: string; problem?: RegExp }[] = [
    { name: "a bound agent token", token: tok("a") },
    {
      name: "another audience",
      token: fakeAgentToken("a", { aud: ["https://kubernetes.default.svc"] }),
      problem: /audience/,
    },
    { name: "audience as a string", token: fakeAgentToken("a", { aud: "brupop-apiserver" }) },
    { name: "expired", token: fakeAgentToken("a", { exp: now / 1000 - 1 }), problem: /expired/ },
    {
      name: "not bound to a pod (legacy secret token)",
      token: fakeAgentToken("a", { pod: null }),
      problem: /pod/,
    },
    { name: "payload not JSON", token: "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln", problem: /not a JWT/ },
  ];
  for (const row of table) {
    it(`${row.name} → ${row.problem === undefined ? "review it" : "refuse"}`, () => {
      const got = tokenClaimsProblem(row.token, ["brupop-apiserver"], now);
      if (row.problem === undefined) assert.equal(got, undefined);
      else assert.match(got ?? "", row.problem);
    });
  }
});
