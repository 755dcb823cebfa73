import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  authorizeCaller,
  identityFromReview,
  parseAuthHeaders,
  POD_NAME_EXTRA,
  POD_UID_EXTRA,
  type AgentIdentity,
  type AgentPod,
  type TokenReviewStatus,
} from "./authz.js";

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
  const full = { brupopnodename: "n1", brupopnodeuid: "u1", brupopk8sauthtoken: "tok" };

  it("accepts the three headers (lower-cased by Node)", () => {
    assert.deepEqual(parseAuthHeaders(full), {
      ok: true,
      value: { nodeName: "n1", nodeUid: "u1", token: "tok" },
    });
  });

  it("strips an optional Bearer prefix", () => {
    const d = parseAuthHeaders({ ...full, brupopk8sauthtoken: "Bearer tok2" });
    assert.equal(d.ok && d.value.token, "tok2");
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
  const identity: AgentIdentity = { podName: "agent-abc", podUid: "pod-uid-1", serviceAccount: "sa" };
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
  }[] = [
    { name: "agent pod on the claimed node", pod, nodeUid: "node-uid-1" },
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
      const d = authorizeCaller(row.identity ?? identity, row.pod, row.nodeUid, row.claim ?? claim);
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
