// The apiserver with a fake cluster behind its narrow backend interface. Routing, auth wiring, error
// shapes, limits, timeouts and metrics go through fastify's in-memory inject(); the agent client and
// graceful shutdown run over real HTTPS (one TLS directory from the test kit). (The real control
// plane is exercised by test/e2e/apiserver.test.ts.)
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fakeAgentToken } from "../../test/kit/fake-token.js";
import { shadowStatus } from "../../test/kit/fixtures.js";
import { testCert, tlsDir, type TlsDir } from "../../test/kit/tls.js";
import { blockedError } from "./drain-plan.js";
import type { DrainResult } from "./drain.js";
import type { ShadowStatus } from "../model/shadow.js";
import { POD_NAME_EXTRA, POD_UID_EXTRA, type AgentPod, type TokenReviewStatus } from "./authz.js";
import type { ApiserverBackend } from "./backend.js";
import { ApiserverCallError, ApiserverClient } from "./client.js";
import type { ApiserverApp } from "./routes.js";
import { Apiserver, buildApiserverApp, type ApiserverOptions } from "./server.js";

const tok = (label: string): string => fakeAgentToken(label);

const NS = "brupop-bottlerocket-aws";
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

class FakeBackend implements ApiserverBackend {
  calls: string[] = [];
  reviews = 0;
  statuses = new Map<string, ShadowStatus | null>();
  createDelayMs = 0;
  /** What drain answers (default: one pod evicted). */
  drainAnswer: () => Promise<DrainResult> = () =>
    Promise.resolve({ evicted: [{ namespace: "default", name: "web-1", uid: "x" }], skipped: [] });
  tokens = new Map<string, { pod: string; node: string }>();
  nodeUids = new Map<string, string>();

  addAgent(token: string, pod: string, node: string, uid: string): void {
    this.tokens.set(token, { pod, node });
    this.nodeUids.set(node, uid);
  }

  readonly auth = {
    reviewToken: async (token: string): Promise<TokenReviewStatus> => {
      await tick();
      this.reviews++;
      const t = this.tokens.get(token);
      if (t === undefined) return { authenticated: false };
      return {
        authenticated: true,
        audiences: ["brupop-apiserver"],
        user: {
          username: `system:serviceaccount:${NS}:agent`,
          extra: { [POD_NAME_EXTRA]: [t.pod], [POD_UID_EXTRA]: [`${t.pod}-uid`] },
        },
      };
    },
    getPod: async (name: string): Promise<AgentPod | undefined> => {
      await tick();
      const t = [...this.tokens.values()].find((v) => v.pod === name);
      if (t === undefined) return undefined;
      return {
        metadata: {
          name,
          namespace: NS,
          uid: `${name}-uid`,
          labels: { "brupop.bottlerocket.aws/component": "agent" },
        },
        spec: { nodeName: t.node },
      };
    },
    getNodeUid: async (name: string): Promise<string | undefined> => {
      await tick();
      return this.nodeUids.get(name);
    },
  };

  readonly shadows = {
    create: async (node: string) => {
      this.calls.push(`create ${node}`);
      // unref: a create the shutdown test abandons must not keep the test process alive.
      await new Promise((r) => setTimeout(r, this.createDelayMs).unref());
      const name = `brs-${node}`;
      const created = !this.statuses.has(name);
      if (created) this.statuses.set(name, null);
      return { name, created };
    },
    updateStatus: async (node: string, status: ShadowStatus) => {
      await tick();
      this.calls.push(`status ${node}`);
      this.statuses.set(`brs-${node}`, status);
      return { name: `brs-${node}`, resourceVersion: "7" };
    },
  };

  readonly nodes = {
    cordon: (n: string) => this.#record(`cordon ${n}`, true),
    uncordon: (n: string) => this.#record(`uncordon ${n}`, true),
    excludeFromLb: (n: string) => this.#record(`exclude ${n}`, true),
    removeExclusionFromLb: (n: string) => this.#record(`include ${n}`, false),
    drain: async (n: string): Promise<DrainResult> => this.#record(`drain ${n}`, await this.drainAnswer()),
  };

  async #record<T>(call: string, result: T): Promise<T> {
    await tick();
    this.calls.push(call);
    return result;
  }

  start(): void {}
  stop(): Promise<void> {
    return Promise.resolve();
  }
}

const STATUS: ShadowStatus = shadowStatus();

interface Answer {
  status: number;
  body: unknown;
  text: string;
}

/** The app over `backend`, not listening (answers through inject()). */
async function inMemory(
  backend: ApiserverBackend,
  opts: Omit<ApiserverOptions, "tlsDir" | "backend" | "namespace"> = {},
): Promise<ApiserverApp> {
  const cert = await testCert();
  return buildApiserverApp({ backend, namespace: NS, ...opts }, { cert: cert.certPem, key: cert.keyPem }).app;
}

describe("Apiserver (fake cluster)", () => {
  let app: ApiserverApp;
  let fake: FakeBackend;

  const agentHeaders = (token = tok("tok-1"), node = "n1", uid = "uid-1") => ({
    BrupopNodeName: node,
    BrupopNodeUid: uid,
    BrupopK8sAuthToken: token,
  });

  async function call(
    method: "GET" | "POST" | "PUT",
    path: string,
    opts: { headers?: Record<string, string>; body?: string | Buffer } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined) headers["content-type"] ??= "application/json";
    const res = await app.inject({ method, url: path, headers, payload: opts.body });
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch {
      body = undefined;
    }
    return { status: res.statusCode, body, text: res.body };
  }

  before(async () => {
    fake = new FakeBackend();
    fake.addAgent(tok("tok-1"), "agent-1", "n1", "uid-1");
    fake.addAgent(tok("tok-2"), "agent-2", "n2", "uid-2");
    app = await inMemory(fake, { requestTimeoutMs: 300 });
  });

  after(async () => {
    await app.close();
  });

  it("GET /ping needs no credentials", async () => {
    const res = await call("GET", "/ping");
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: "ok" });
  });

  it("an unknown route is a JSON 404", async () => {
    const res = await call("GET", "/nope");
    assert.equal(res.status, 404);
    assert.equal((res.body as { code: string }).code, "BRUPOP_E_NOT_FOUND");
  });

  it("agent routes without credentials: 401 JSON, nothing done", async () => {
    const before = fake.calls.length;
    for (const [method, path] of [
      ["POST", "/bottlerocket-node-resource"],
      ["PUT", "/bottlerocket-node-resource"],
      ["POST", "/bottlerocket-node-resource/cordon-and-drain"],
      ["POST", "/bottlerocket-node-resource/uncordon"],
      ["POST", "/bottlerocket-node-resource/exclude-from-lb"],
      ["POST", "/bottlerocket-node-resource/remove-exclusion-from-lb"],
    ] as const) {
      const res = await call(method, path, { body: JSON.stringify(STATUS) });
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.equal((res.body as { code: string }).code, "BRUPOP_E_UNAUTHENTICATED");
    }
    assert.equal(fake.calls.length, before);
  });

  it("an unknown token is 401; a valid token for another node is 403", async () => {
    const unknown = await call("PUT", "/bottlerocket-node-resource", {
      headers: agentHeaders(tok("tok-x")),
      body: JSON.stringify(STATUS),
    });
    assert.equal(unknown.status, 401);
    const other = await call("PUT", "/bottlerocket-node-resource", {
      headers: agentHeaders(tok("tok-2"), "n1", "uid-1"),
      body: JSON.stringify(STATUS),
    });
    assert.equal(other.status, 403);
    assert.equal((other.body as { code: string }).code, "BRUPOP_E_FORBIDDEN");
    assert.equal(fake.statuses.has("brs-n1"), false);
  });

  it("creates the caller's shadow: 200 with the BottlerocketShadow, created or existing (upstream's answer)", async () => {
    // The fake backend returns no object: the route answers what upstream's apiserver does.
    const upstreamBody = {
      apiVersion: "brupop.bottlerocket.aws/v2",
      kind: "BottlerocketShadow",
      metadata: {
        name: "brs-n1",
        ownerReferences: [{ apiVersion: "v1", kind: "Node", name: "n1", uid: "uid-1" }],
      },
      spec: { state: "Idle", state_transition_timestamp: null, version: null },
    };
    const first = await call("POST", "/bottlerocket-node-resource", { headers: agentHeaders() });
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, upstreamBody);
    const again = await call("POST", "/bottlerocket-node-resource", { headers: agentHeaders() });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, upstreamBody);
  });

  it("replaces the caller's status: 200 echoing it, every field present (upstream's answer)", async () => {
    const res = await call("PUT", "/bottlerocket-node-resource", {
      headers: agentHeaders(),
      body: JSON.stringify({ ...STATUS, state_transition_failure_timestamp: undefined }),
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(fake.statuses.get("brs-n1"), STATUS);
    assert.deepEqual(res.body, STATUS);
    assert.deepEqual(Object.keys(res.body as object), [
      "current_version",
      "target_version",
      "current_state",
      "crash_count",
      "state_transition_failure_timestamp",
    ]);
  });

  it("rejects an invalid status with 400 naming the field", async () => {
    for (const [patch, field] of [
      [{ current_version: "1.2" }, "status.current_version"],
      [{ current_state: "Rebooting" }, "status.current_state"],
      [{ crash_count: -1 }, "status.crash_count"],
    ] as const) {
      const res = await call("PUT", "/bottlerocket-node-resource", {
        headers: agentHeaders(),
        body: JSON.stringify({ ...STATUS, ...patch }),
      });
      assert.equal(res.status, 400);
      const body = res.body as { code: string; message: string; details: { field: string } };
      assert.equal(body.code, "BRUPOP_E_INVALID_OBJECT");
      assert.equal(body.details.field, field);
      assert.match(body.message, new RegExp(field.replace(".", "\\.")));
    }
    const missing = await call("PUT", "/bottlerocket-node-resource", { headers: agentHeaders() });
    assert.equal(missing.status, 400);
    assert.deepEqual(fake.statuses.get("brs-n1"), STATUS);
  });

  it("malformed JSON is a JSON 400, a body over 64 KiB a JSON 413", async () => {
    const bad = await call("PUT", "/bottlerocket-node-resource", {
      headers: agentHeaders(),
      body: "{not json",
    });
    assert.equal(bad.status, 400);
    assert.equal((bad.body as { code: string }).code, "BRUPOP_E_BAD_REQUEST");
    const big = await call("PUT", "/bottlerocket-node-resource", {
      headers: agentHeaders(),
      body: JSON.stringify({ ...STATUS, pad: "x".repeat(70 * 1024) }),
    });
    assert.equal(big.status, 413);
    assert.equal((big.body as { code: string }).code, "BRUPOP_E_PAYLOAD_TOO_LARGE");
    const wrongType = await call("PUT", "/bottlerocket-node-resource", {
      headers: { ...agentHeaders(), "content-type": "text/plain" },
      body: "hello",
    });
    assert.equal(wrongType.status, 400);
  });

  it("cordon-and-drain cordons then drains the caller's node only", async () => {
    fake.calls = [];
    const res = await call("POST", "/bottlerocket-node-resource/cordon-and-drain", {
      headers: agentHeaders(),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { cordoned: true, evicted: ["default/web-1"], skipped: [] });
    assert.deepEqual(fake.calls, ["cordon n1", "drain n1"]);
  });

  it("cordon-and-drain answers the pods deleted at the deadline, and a blocked drain names the pod (500)", async () => {
    const pod = { namespace: "default", name: "stuck", uid: "s" };
    fake.drainAnswer = () => Promise.resolve({ evicted: [], skipped: [], deleted: [pod] });
    try {
      const res = await call("POST", "/bottlerocket-node-resource/cordon-and-drain", {
        headers: agentHeaders(),
      });
      assert.deepEqual(res.body, { cordoned: true, evicted: [], skipped: [], deleted: ["default/stuck"] });
      fake.drainAnswer = () =>
        Promise.reject(blockedError("n1", [{ pod, reason: "do-not-disrupt", message: "annotation x" }]));
      const blocked = await call("POST", "/bottlerocket-node-resource/cordon-and-drain", {
        headers: agentHeaders(),
      });
      assert.equal(blocked.status, 500);
      assert.deepEqual(blocked.body, {
        code: "BRUPOP_E_DRAIN",
        message: "drain of node n1 blocked: pod default/stuck: annotation x",
        details: {
          node: "n1",
          blocked: [{ pod: "default/stuck", reason: "do-not-disrupt", message: "annotation x" }],
        },
      });
    } finally {
      fake.drainAnswer = () =>
        Promise.resolve({ evicted: [{ namespace: "default", name: "web-1", uid: "x" }], skipped: [] });
    }
  });

  it("a route that outlives its deadline answers 504", async () => {
    fake.createDelayMs = 1_000;
    try {
      const res = await call("POST", "/bottlerocket-node-resource", {
        headers: agentHeaders(tok("tok-2"), "n2", "uid-2"),
      });
      assert.equal(res.status, 504);
      assert.equal((res.body as { code: string }).code, "BRUPOP_E_TIMEOUT");
    } finally {
      fake.createDelayMs = 0;
    }
  });

  it("/crdconvert: 413 over 3 MiB, a Failure over 5,000 objects", async () => {
    const review = (objects: unknown[]) =>
      JSON.stringify({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "ConversionReview",
        request: { uid: "r1", desiredAPIVersion: "brupop.bottlerocket.aws/v2", objects },
      });
    const big = await call("POST", "/crdconvert", { body: review([{ pad: "x".repeat(3 * 1024 * 1024) }]) });
    assert.equal(big.status, 413);
    const many = await call("POST", "/crdconvert", {
      body: review(Array.from({ length: 5_001 }, () => ({}))),
    });
    assert.equal(many.status, 200);
    const result = (many.body as { response: { uid: string; result: { status: string; message: string } } })
      .response;
    assert.equal(result.uid, "r1");
    assert.equal(result.result.status, "Failure");
    assert.match(result.result.message, /5001 objects, more than 5000/);
  });

  it("/crdconvert answers 200 even for garbage, with the failure in response.result", async () => {
    const res = await call("POST", "/crdconvert", { body: JSON.stringify({ kind: "Nope" }) });
    assert.equal(res.status, 200);
    assert.equal(
      (res.body as { response: { result: { status: string } } }).response.result.status,
      "Failure",
    );
    const ok = await call("POST", "/crdconvert", {
      body: JSON.stringify({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "ConversionReview",
        request: {
          uid: "r1",
          desiredAPIVersion: "brupop.bottlerocket.aws/v2",
          objects: [
            {
              apiVersion: "brupop.bottlerocket.aws/v1",
              kind: "BottlerocketShadow",
              metadata: { name: "brs-a", namespace: NS },
              spec: { state: "StagedUpdate", state_transition_timestamp: null, version: "1.20.0" },
            },
          ],
        },
      }),
    });
    assert.equal(ok.status, 200);
    const response = (
      ok.body as { response: { uid: string; convertedObjects: { spec: { state: string } }[] } }
    ).response;
    assert.equal(response.uid, "r1");
    assert.equal(response.convertedObjects[0]?.spec.state, "StagedAndPerformedUpdate");
  });

  it("/metrics counts requests by route template and code", async () => {
    const res = await call("GET", "/metrics");
    assert.equal(res.status, 200);
    assert.match(
      res.text,
      /brupop_apiserver_requests_total\{route="\/bottlerocket-node-resource",method="PUT",code="200"\} \d+/,
    );
    assert.match(res.text, /brupop_apiserver_requests_total\{route="unmatched",method="GET",code="404"\} 1/);
    assert.match(res.text, /brupop_apiserver_request_duration_seconds_bucket\{le="0.005",route="\/ping"/);
    assert.match(res.text, /brupop_apiserver_token_reviews_total\{outcome="cache_hit"\} \d+/);
  });
});

describe("ApiserverClient against it (real HTTPS)", () => {
  let tls: TlsDir;
  let ca: string;
  let server: Apiserver;
  let fake: FakeBackend;

  before(async () => {
    tls = await tlsDir("brupop-apiserver-test-");
    ca = tls.caPem;
    fake = new FakeBackend();
    fake.addAgent(tok("tok-1"), "agent-1", "n1", "uid-1");
    fake.addAgent(tok("tok-2"), "agent-2", "n2", "uid-2");
    server = await Apiserver.start({
      backend: fake,
      namespace: NS,
      tlsDir: tls.dir,
      requestTimeoutMs: 300,
      tls: { pollIntervalMs: 0 },
    });
  });

  after(async () => {
    await server.close();
    await tls.remove();
  });

  const client = (token: string, node: string, uid: string, extra: { attempts?: number } = {}) =>
    new ApiserverClient({
      baseUrl: server.url,
      caPem: ca,
      nodeName: node,
      nodeUid: uid,
      token: () => token,
      sleep: async () => {},
      ...extra,
    });

  it("performs every call as the node it names", async () => {
    fake.calls = [];
    const c = client(tok("tok-2"), "n2", "uid-2");
    try {
      await c.createShadow();
      await c.updateStatus({ ...STATUS, current_state: "MonitoringUpdate" });
      await c.cordonAndDrain();
      await c.uncordon();
      await c.cordon();
      await c.uncordon();
      await c.excludeFromLb();
      await c.removeExclusionFromLb();
    } finally {
      c.close();
    }
    assert.deepEqual(fake.calls, [
      "create n2",
      "status n2",
      "cordon n2",
      "drain n2",
      "uncordon n2",
      // The quarantine's cordon: no drain after it.
      "cordon n2",
      "uncordon n2",
      "exclude n2",
      "include n2",
    ]);
    assert.equal(fake.statuses.get("brs-n2")?.current_state, "MonitoringUpdate");
  });

  it("maps a refusal to a typed, non-retried error", async () => {
    const c = client(tok("tok-2"), "n1", "uid-1");
    const reviewsBefore = fake.reviews;
    try {
      await assert.rejects(
        c.uncordon(),
        (err) =>
          err instanceof ApiserverCallError &&
          err.httpStatus === 403 &&
          err.remoteCode === "BRUPOP_E_FORBIDDEN" &&
          !err.retryable,
      );
    } finally {
      c.close();
    }
    assert.equal(fake.reviews, reviewsBefore); // cached: the one attempt did not even re-review
  });

  it("re-reads the token on every call", async () => {
    let token = tok("tok-x");
    const c = new ApiserverClient({
      baseUrl: server.url,
      caPem: ca,
      nodeName: "n1",
      nodeUid: "uid-1",
      token: () => token,
      attempts: 1,
    });
    try {
      await assert.rejects(
        c.uncordon(),
        (err) => err instanceof ApiserverCallError && err.httpStatus === 401,
      );
      token = tok("tok-1");
      await c.uncordon();
    } finally {
      c.close();
    }
  });
});

describe("Apiserver shutdown", () => {
  let tls: TlsDir;
  let dir: string;
  let ca: string;

  before(async () => {
    tls = await tlsDir("brupop-apiserver-close-");
    dir = tls.dir;
    ca = tls.caPem;
  });

  after(async () => {
    await tls.remove();
  });

  async function slowServer(delayMs: number): Promise<{ server: Apiserver; client: ApiserverClient }> {
    const fake = new FakeBackend();
    fake.addAgent(tok("tok"), "agent", "n1", "uid-1");
    fake.createDelayMs = delayMs;
    const server = await Apiserver.start({
      backend: fake,
      namespace: NS,
      tlsDir: dir,
      tls: { pollIntervalMs: 0 },
    });
    const client = new ApiserverClient({
      baseUrl: server.url,
      caPem: ca,
      nodeName: "n1",
      nodeUid: "uid-1",
      token: () => tok("tok"),
      attempts: 1,
    });
    return { server, client };
  }

  it("lets an in-flight request finish, then stops", async () => {
    const { server, client } = await slowServer(300);
    try {
      const inflight = client.createShadow();
      await new Promise((r) => setTimeout(r, 100));
      await server.close(5_000);
      await inflight; // answered, not dropped
      await assert.rejects(client.uncordon(), (err) => err instanceof ApiserverCallError && err.retryable);
    } finally {
      client.close();
    }
  });

  it("after the grace period aborts what is left with a 504 the agent may retry elsewhere", async () => {
    const { server, client } = await slowServer(10_000);
    try {
      const inflight = client.createShadow();
      await new Promise((r) => setTimeout(r, 100));
      const closed = server.close(200);
      await assert.rejects(
        inflight,
        (err) => err instanceof ApiserverCallError && err.httpStatus === 504 && err.retryable,
      );
      await closed;
    } finally {
      client.close();
    }
  });
});

describe("Apiserver review budget", () => {
  it("answers 429 with Retry-After once failed reviews have spent the budget", async () => {
    const app = await inMemory(new FakeBackend(), {
      auth: { reviewBudget: { capacity: 1, refillPerSecond: 0.5 } },
    });
    const put = async (token: string): Promise<{ status: number; retryAfter: unknown; code: unknown }> => {
      const res = await app.inject({
        method: "PUT",
        url: "/bottlerocket-node-resource",
        headers: { BrupopNodeName: "n1", BrupopNodeUid: "uid-1", BrupopK8sAuthToken: token },
      });
      const body = JSON.parse(res.body) as { code?: unknown };
      return { status: res.statusCode, retryAfter: res.headers["retry-after"], code: body.code };
    };
    try {
      assert.equal((await put(tok("forged-1"))).status, 401);
      const throttled = await put(tok("forged-2"));
      assert.deepEqual(throttled, { status: 429, retryAfter: "2", code: "BRUPOP_E_TOO_MANY_REQUESTS" });
    } finally {
      await app.close();
    }
  });
});

describe("Apiserver review budget per source", () => {
  it("charges the TCP peer's budget, never an address a header names", async () => {
    const app = await inMemory(new FakeBackend(), {
      auth: { admission: { anonymous: { perSource: { capacity: 1, refillPerSecond: 0.01 } } } },
    });
    const put = async (token: string, remoteAddress: string, extra: Record<string, string> = {}) =>
      (
        await app.inject({
          method: "PUT",
          url: "/bottlerocket-node-resource",
          remoteAddress,
          headers: { BrupopNodeName: "n1", BrupopNodeUid: "uid-1", BrupopK8sAuthToken: token, ...extra },
        })
      ).statusCode;
    try {
      assert.equal(await put(tok("forged-a1"), "10.0.0.1"), 401);
      // Spent: a header claiming another address changes nothing.
      const spoofed = { "x-forwarded-for": "10.0.0.2", "x-real-ip": "10.0.0.2" };
      assert.equal(await put(tok("forged-a2"), "10.0.0.1", spoofed), 429);
      // Another peer has its own budget.
      assert.equal(await put(tok("forged-b1"), "10.0.0.2"), 401);
      assert.equal(await put(tok("forged-b2"), "::ffff:10.0.0.2"), 429);
    } finally {
      await app.close();
    }
  });
});
