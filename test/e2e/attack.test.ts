// The apiserver's attack surface as a maintained test, on a REAL control plane (etcd, kube-apiserver,
// kube-controller-manager, kwok): forged, misdirected and malformed requests against an in-process
// `brupop apiserver` with real bound service-account tokens and a real agent DaemonSet. Every case
// asserts the HTTP status AND that nothing was written: the shadows' resourceVersions and the
// brupop-writable parts of the nodes (unschedulable, labels, annotations) are the same after it.
// One cluster for the file (set-up shared with apiserver.test.ts: test/kit/apiserver-e2e.ts).
import assert from "node:assert/strict";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { connect } from "node:tls";
import { after, before, describe, it, type TestContext } from "node:test";

import { fakeAgentToken } from "../kit/fake-token.js";
import { paths } from "../../src/k8s/objects.js";
import { AGENT_COMPONENT, AGENT_TOKEN_AUDIENCE, COMPONENT_LABEL } from "../../src/model/constants.js";
import type { ShadowStatus } from "../../src/model/shadow.js";
import { E2eCluster } from "../kit/e2e.js";
import {
  AGENT_SA,
  ApiserverBed,
  BRUPOP_NS,
  agentHeaders,
  createBarePod,
  requestToken,
  type AgentIdentity as Agent,
  type Obj,
} from "../kit/apiserver-e2e.js";
import { shadowStatus } from "../kit/fixtures.js";
import { eventually, kube as kubeCall, sleep, type KubeCallOptions } from "../kit/kube.js";
import { ObservedKubeRest } from "../../kit/testenv/observed-rest.js";

const NS = BRUPOP_NS;
const ELSEWHERE = "elsewhere";
const DOOMED_SA = "doomed-agent-sa";
const SHADOWS = paths.shadows(NS);
const AGENT_LABELS = { [COMPONENT_LABEL]: AGENT_COMPONENT };
const PATH = "/bottlerocket-node-resource";

const STATUS: ShadowStatus = shadowStatus({ target_version: "1.19.0" });
/** What every attack tries to write (a successful write would change the shadow). */
const EVIL = JSON.stringify({ ...STATUS, current_version: "6.6.6", target_version: "6.6.6" });

describe("brupop apiserver under attack (real control plane)", { timeout: 600_000 }, () => {
  const e2e = new E2eCluster();
  /** Requests our apiserver made to kube-apiserver (its own KubeRest's observer). */
  const upstream = { tokenReviews: 0, nodeGets: 0, total: 0 };
  const bed = new ApiserverBed(e2e, {
    nodes: 2,
    prefix: "brupop-attack-",
    namespaces: [ELSEWHERE],
    serviceAccounts: [
      [NS, DOOMED_SA],
      [ELSEWHERE, AGENT_SA],
    ],
    tlsPrefix: "brupop-attack-tls-",
    server: (cluster) => ({
      rest: new ObservedKubeRest(cluster.kubeConfig, (method, path) => {
        upstream.total++;
        if (path.endsWith("/tokenreviews")) upstream.tokenReviews++;
        if (method === "GET" && path.startsWith("/api/v1/nodes/")) upstream.nodeGets++;
      }),
      // Short connection limits, so the slow-client cases take seconds.
      http: { headersTimeoutMs: 2_000, keepAliveTimeoutMs: 1_000, checkIntervalMs: 250 },
      auth: { reviewBudget: { capacity: 20, refillPerSecond: 2 } },
    }),
    agents: { labelSelector: "app.kubernetes.io/name=brupop-agent" },
  });
  let nodeA: string, nodeB: string;

  const kube = <T = Obj>(method: string, path: string, body?: unknown, opts?: KubeCallOptions) =>
    kubeCall<T>(e2e.rest, method, path, body, opts);

  const agent = (node: string): Agent => bed.agent(node);

  const tokenFor = (
    sa: string,
    pod: { name: string; uid: string } | undefined,
    audience = AGENT_TOKEN_AUDIENCE,
    namespace = NS,
  ): Promise<string> => requestToken(kube, namespace, sa, pod, audience);

  const createPod = (
    name: string,
    node: string,
    labels: Record<string, string>,
    sa = AGENT_SA,
    namespace = NS,
  ): Promise<Obj> => createBarePod<Obj>(kube, namespace, { name, node, labels, sa });

  const headersOf = agentHeaders;

  /** An HTTPS call to our server; `chunked` sends the body without a Content-Length. */
  const call = bed.call;

  /** Writes `text` on a raw TLS connection; resolves with the status lines of every answer. */
  function raw(text: string, waitMs = 1_500): Promise<{ statuses: number[]; text: string }> {
    return new Promise((resolve, reject) => {
      const socket = connect({
        host: "127.0.0.1",
        port: bed.server.port,
        ca: bed.tls.caPem,
        servername: "localhost",
      });
      socket.setTimeout(waitMs);
      const chunks: Buffer[] = [];
      const done = (): void => {
        socket.destroy();
        const all = Buffer.concat(chunks).toString("latin1");
        const statuses = [...all.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
        resolve({ statuses, text: all });
      };
      socket.on("secureConnect", () => socket.write(text));
      socket.on("data", (c: Buffer) => chunks.push(c));
      socket.on("timeout", done);
      socket.on("end", done);
      socket.on("error", (err: Error) => (chunks.length > 0 ? done() : reject(err)));
    });
  }

  /** The state an attack must not change. */
  async function snapshot(): Promise<string> {
    const shadows = await kube<{ items: Obj[] }>("GET", SHADOWS);
    const nodes = await Promise.all([nodeA, nodeB].map((n) => kube("GET", `/api/v1/nodes/${n}`)));
    return JSON.stringify({
      shadows: shadows.items.map((s) => [s.metadata.name, s.metadata.resourceVersion]).sort(),
      nodes: nodes.map((n) => ({
        name: n.metadata.name,
        unschedulable: n.spec?.unschedulable ?? false,
        labels: n.metadata.labels,
        annotations: n.metadata.annotations,
      })),
    });
  }

  before(async () => {
    await bed.start();
    [nodeA, nodeB] = bed.nodes as [string, string];
    // Both shadows exist with a status, as in a running fleet.
    for (const node of [nodeA, nodeB]) {
      const a = agent(node);
      assert.equal((await call("POST", PATH, headersOf(a))).status, 200); // upstream answers 200 with the shadow
      assert.equal((await call("PUT", PATH, headersOf(a), JSON.stringify(STATUS))).status, 200);
    }
  });

  after(() => bed.stop());

  /** Runs `attack`, then checks its status(es) and that nothing was written. */
  async function refusedWithoutWrite(
    attack: () => Promise<number | number[]>,
    expected: number | readonly number[],
  ): Promise<void> {
    const before = await snapshot();
    const got = await attack();
    const allowed = typeof expected === "number" ? [expected] : expected;
    for (const status of Array.isArray(got) ? got : [got]) {
      assert.ok(allowed.includes(status), `status ${status}, expected one of ${allowed.join(", ")}`);
    }
    // A write in flight would land within this.
    await sleep(200);
    assert.equal(await snapshot(), before, "something was written");
  }

  const put = async (headers: Record<string, string | string[]>, body = EVIL): Promise<number> =>
    (await call("PUT", PATH, headers, body)).status;

  interface Case {
    name: string;
    expect: number | number[];
    attack: () => Promise<number | number[]>;
  }

  // Tokens and identities that are wrong in one way each.
  const identityCases: Case[] = [
    { name: "no headers at all", expect: 401, attack: () => put({}) },
    {
      name: "token only (no node headers)",
      expect: 401,
      attack: () => put({ BrupopK8sAuthToken: agent(nodeA).token }),
    },
    {
      name: "a token for another audience (kube-apiserver's own)",
      expect: 401,
      attack: async () => {
        const a = agent(nodeA);
        const token = await tokenFor(
          AGENT_SA,
          { name: a.pod, uid: a.podUid },
          "https://kubernetes.default.svc",
        );
        return put(headersOf(a, { token }));
      },
    },
    {
      name: "another node's agent naming this node",
      expect: 403,
      attack: () => put(headersOf(agent(nodeB), { node: nodeA, uid: agent(nodeA).nodeUid })),
    },
    {
      name: "right token and node, wrong node uid",
      expect: 403,
      attack: () => put(headersOf(agent(nodeA), { uid: "00000000-0000-0000-0000-000000000000" })),
    },
    {
      name: "a pod that is not an agent (no component label), on the node",
      expect: 403,
      attack: async () => {
        const pod = await createPod("not-an-agent", nodeA, { app: "other" });
        const token = await tokenFor(AGENT_SA, { name: pod.metadata.name, uid: pod.metadata.uid });
        return put(headersOf(agent(nodeA), { token }));
      },
    },
    {
      name: "an agent-labelled pod of another namespace, on the node",
      expect: 403,
      attack: async () => {
        const pod = await createPod("lookalike-agent", nodeA, AGENT_LABELS, AGENT_SA, ELSEWHERE);
        const token = await tokenFor(
          AGENT_SA,
          { name: pod.metadata.name, uid: pod.metadata.uid },
          undefined,
          ELSEWHERE,
        );
        return put(headersOf(agent(nodeA), { token }));
      },
    },
    {
      name: "a token not bound to any pod",
      expect: 401,
      attack: async () => put(headersOf(agent(nodeA), { token: await tokenFor(AGENT_SA, undefined) })),
    },
    {
      name: "a legacy secret token of the agent service account",
      expect: 401,
      attack: async () => {
        await kube("POST", `/api/v1/namespaces/${NS}/secrets`, {
          apiVersion: "v1",
          kind: "Secret",
          type: "kubernetes.io/service-account-token",
          metadata: {
            name: "legacy-agent-token",
            annotations: { "kubernetes.io/service-account.name": AGENT_SA },
          },
        });
        let token = "";
        await eventually("the token controller fills the legacy secret", 30_000, async () => {
          const s = await kube("GET", `/api/v1/namespaces/${NS}/secrets/legacy-agent-token`);
          token = Buffer.from(s.data?.token ?? "", "base64").toString("utf8");
          return token !== "";
        });
        return put(headersOf(agent(nodeA), { token }));
      },
    },
    {
      name: "a forged token (unsigned JWT with the right claims)",
      expect: 401,
      attack: () => {
        const a = agent(nodeA);
        const token = fakeAgentToken("forged", { pod: { name: a.pod, uid: a.podUid } });
        return put(headersOf(a, { token }));
      },
    },
    {
      name: "a deleted pod's token",
      expect: 401,
      attack: async () => {
        const pod = await createPod("short-lived-agent", nodeA, AGENT_LABELS);
        const token = await tokenFor(AGENT_SA, { name: pod.metadata.name, uid: pod.metadata.uid });
        await kube("DELETE", `/api/v1/namespaces/${NS}/pods/short-lived-agent`, undefined, {
          query: { gracePeriodSeconds: "0" },
        });
        await eventually("pod gone", 30_000, async () => {
          const res = await e2e.rest.request("GET", `/api/v1/namespaces/${NS}/pods/short-lived-agent`);
          return res.status === 404;
        });
        return put(headersOf(agent(nodeA), { token }));
      },
    },
  ];

  // Malformed and odd requests from a VALID agent (so only the malformation can refuse them).
  const requestCases: Case[] = [
    {
      name: "node name with path traversal (was 502 after a Kubernetes GET)",
      expect: 400,
      attack: async () => {
        const calls = { ...upstream };
        const status = await put(headersOf(agent(nodeA), { node: "A%2F..%2FB" }));
        assert.equal(upstream.nodeGets, calls.nodeGets, "a node GET was made");
        assert.equal(upstream.tokenReviews, calls.tokenReviews, "a TokenReview was made");
        return status;
      },
    },
    {
      name: "upper-case node name",
      expect: 400,
      attack: () => put(headersOf(agent(nodeA), { node: nodeA.toUpperCase() })),
    },
    {
      name: "node name of 300 characters",
      expect: 400,
      attack: () => put(headersOf(agent(nodeA), { node: "a".repeat(300) })),
    },
    {
      name: "node uid with a slash",
      expect: 400,
      attack: () => put(headersOf(agent(nodeA), { uid: "x/../y" })),
    },
    {
      name: "node name header given twice (spoofing)",
      expect: 400,
      attack: () => put({ ...headersOf(agent(nodeB)), BrupopNodeName: [nodeB, nodeA] }),
    },
    {
      // Node joins a repeated custom header with ", ", which no JWT contains.
      name: "token header given twice",
      expect: 401,
      attack: () =>
        put({ ...headersOf(agent(nodeA)), BrupopK8sAuthToken: [agent(nodeB).token, agent(nodeA).token] }),
    },
    {
      name: "the token in Authorization instead (not ours to read)",
      expect: 401,
      attack: () =>
        put({
          BrupopNodeName: nodeA,
          BrupopNodeUid: agent(nodeA).nodeUid,
          Authorization: `Bearer ${agent(nodeA).token}`,
        }),
    },
    {
      name: "malformed JSON",
      expect: 400,
      attack: () => put(headersOf(agent(nodeA)), '{"current_version": "6.6.6",'),
    },
    {
      name: "JSON that is not an object",
      expect: 400,
      attack: () => put(headersOf(agent(nodeA)), "[1,2,3]"),
    },
    { name: "empty body", expect: 400, attack: () => put(headersOf(agent(nodeA)), "") },
    {
      name: "not a version",
      expect: 400,
      attack: () =>
        put(headersOf(agent(nodeA)), JSON.stringify({ ...STATUS, current_version: "latest; rm -rf /" })),
    },
    {
      name: "an unknown state",
      expect: 400,
      attack: () => put(headersOf(agent(nodeA)), JSON.stringify({ ...STATUS, current_state: "Pwned" })),
    },
    {
      name: "a negative crash count",
      expect: 400,
      attack: () => put(headersOf(agent(nodeA)), JSON.stringify({ ...STATUS, crash_count: -1 })),
    },
    {
      name: "a body over the 64 KiB limit",
      expect: 413,
      attack: () => put(headersOf(agent(nodeA)), JSON.stringify({ ...STATUS, pad: "x".repeat(70 * 1024) })),
    },
    {
      name: "a chunked body over the limit (no Content-Length)",
      expect: 413,
      attack: async () =>
        (
          await call(
            "PUT",
            PATH,
            headersOf(agent(nodeA)),
            JSON.stringify({ ...STATUS, pad: "x".repeat(200 * 1024) }),
            {
              chunked: true,
            },
          )
        ).status,
    },
    {
      name: "a chunked, malformed body",
      expect: 400,
      attack: async () =>
        (await call("PUT", PATH, headersOf(agent(nodeA)), '{"a":', { chunked: true })).status,
    },
    {
      name: "a body in another content type",
      expect: 400,
      attack: async () =>
        (
          await call("PUT", PATH, headersOf(agent(nodeA)), EVIL, {
            contentType: "application/x-www-form-urlencoded",
          })
        ).status,
    },
    {
      name: "odd methods on the agent path",
      expect: [404, 405],
      attack: async () =>
        Promise.all(
          ["GET", "DELETE", "PATCH", "OPTIONS"].map(
            async (m) => (await call(m, PATH, headersOf(agent(nodeA)), EVIL)).status,
          ),
        ),
    },
    {
      name: "odd URLs",
      expect: [400, 404],
      attack: async () =>
        Promise.all(
          [
            `${PATH}/`,
            `${PATH}/../${PATH}`,
            `/${PATH}`,
            `${PATH}%00`,
            `${PATH}/status`,
            "/BOTTLEROCKET-NODE-RESOURCE",
          ].map(async (p) => (await call("PUT", p, headersOf(agent(nodeA)), EVIL)).status),
        ),
    },
    {
      name: "request smuggling: Content-Length and Transfer-Encoding together",
      expect: 400,
      attack: async () => {
        const a = agent(nodeA);
        const smuggled =
          `PUT ${PATH} HTTP/1.1\r\nHost: x\r\nBrupopNodeName: ${a.node}\r\nBrupopNodeUid: ${a.nodeUid}\r\n` +
          `BrupopK8sAuthToken: ${a.token}\r\nContent-Type: application/json\r\nContent-Length: ${EVIL.length}\r\n\r\n${EVIL}`;
        const res = await raw(
          `POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
        );
        assert.equal(res.statuses.length, 1, `one answer only:\n${res.text.slice(0, 500)}`);
        return res.statuses[0] ?? 0;
      },
    },
    {
      name: "request smuggling: two different Content-Lengths",
      expect: 400,
      attack: async () => {
        const res = await raw(
          `PUT ${PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}`,
        );
        return res.statuses;
      },
    },
    {
      name: "request smuggling: obfuscated Transfer-Encoding",
      expect: 400,
      attack: async () => {
        const res = await raw(
          `PUT ${PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`,
        );
        return res.statuses;
      },
    },
  ];

  for (const c of [...identityCases, ...requestCases]) {
    it(c.name, () => refusedWithoutWrite(c.attack, c.expect));
  }

  it("a deleted service account's token is refused at once (it was accepted for 60 s)", async () => {
    const pod = await createPod("doomed-agent", nodeB, AGENT_LABELS, DOOMED_SA);
    const token = await tokenFor(DOOMED_SA, { name: pod.metadata.name, uid: pod.metadata.uid });
    const headers = headersOf(agent(nodeB), { token });
    // Used once, so the review is in the cache.
    assert.equal(await put(headers, JSON.stringify(STATUS)), 200);
    await kube("DELETE", `/api/v1/namespaces/${NS}/serviceaccounts/${DOOMED_SA}`);
    // Our watch sees the deletion within moments (kube-apiserver itself refuses after ≤ 10 s).
    await sleep(1_000);
    await refusedWithoutWrite(() => put(headers), 401);
  });

  it("200 concurrent forged tokens cost at most the review budget; one forged token, one review", async (t: TestContext) => {
    const a = agent(nodeA);
    let reviews = upstream.tokenReviews;
    const started = Date.now();
    await refusedWithoutWrite(async () => {
      const statuses = await Promise.all(
        Array.from({ length: 200 }, (_, i) => put(headersOf(a, { token: fakeAgentToken(`flood-${i}`) }))),
      );
      return statuses;
    }, [401, 429]);
    const seconds = (Date.now() - started) / 1000;
    const flood = upstream.tokenReviews - reviews;
    t.diagnostic(`200 forged tokens in ${seconds.toFixed(1)} s → ${flood} TokenReviews`);
    // The budget: 20 at once, then 2 a second (the requests take a few seconds to arrive over TLS).
    assert.ok(flood <= 20 + Math.ceil(2 * seconds), `${flood} TokenReviews in ${seconds} s`);

    await sleep(10_500); // the budget refills
    reviews = upstream.tokenReviews;
    const same = fakeAgentToken("same-forged");
    await refusedWithoutWrite(
      () => Promise.all(Array.from({ length: 50 }, () => put(headersOf(a, { token: same })))),
      401,
    );
    assert.equal(
      upstream.tokenReviews - reviews,
      1,
      "concurrent identical reviews coalesce, then the refusal is cached",
    );
    // A genuine agent is not locked out once the flood is over.
    assert.equal(await put(headersOf(a), JSON.stringify(STATUS)), 200);
  });

  /** A keep-alive HTTPS client whose connections all come from `localAddress` (a 127/8 address). */
  function clientFrom(localAddress: string): {
    put: (headers: Record<string, string>, body?: string) => Promise<number>;
    get: (path: string) => Promise<number>;
    close: () => void;
  } {
    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 4, ca: bed.tls.caPem });
    const send = (method: string, path: string, headers: Record<string, string>, body?: string) =>
      new Promise<number>((resolve, reject) => {
        const h: Record<string, string> = { ...headers };
        if (body !== undefined) {
          h["content-type"] = "application/json";
          h["content-length"] = String(Buffer.byteLength(body));
        }
        const req = httpsRequest(
          `${bed.server.url}${path}`,
          { method, headers: h, agent, localAddress },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
            res.on("error", reject);
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    return {
      put: (headers, body = EVIL) => send("PUT", PATH, headers, body),
      get: (path) => send("GET", path, {}),
      close: () => agent.destroy(),
    };
  }

  /** Admissions so far, by `lane:result` (the server's own counter). */
  async function admissions(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const v of (await bed.server.metrics.reviewAdmissions.get()).values) {
      out[`${String(v.labels.lane)}:${String(v.labels.result)}`] = v.value;
    }
    return out;
  }

  it("a sustained forged flood from 6 sources: a fresh agent token is served within 2 s, another node's agent is unaffected, TokenReviews stay bounded", async (t: TestContext) => {
    const FLOOD_MS = 12_000;
    const a = agent(nodeA);
    const b = agent(nodeB);
    // Forgers: 5 pods that know node A's agent pod by name only (the uid is not guessable), and
    // one compromised agent of node A that knows its own pod's name, uid and node.
    const forgedFor = (source: number, i: number): string =>
      source === 7
        ? fakeAgentToken(`flood-${source}-${i}`, {
            pod: { name: a.pod, uid: a.podUid },
            node: { name: a.node, uid: a.nodeUid },
          })
        : i % 2 === 0
          ? fakeAgentToken(`flood-${source}-${i}`)
          : fakeAgentToken(`flood-${source}-${i}`, {
              pod: { name: a.pod, uid: `guess-${source}-${i}` },
              node: { name: a.node, uid: a.nodeUid },
            });
    const nodesBefore = JSON.parse(await snapshot()) as { nodes: unknown };
    const reviewsBefore = upstream.tokenReviews;
    const admittedBefore = await admissions();
    const flood = { sent: 0, statuses: new Map<number, number>() };
    let stop = false;
    const sources = [2, 3, 4, 5, 6, 7];
    const forgers = sources.map((n) => ({ n, client: clientFrom(`127.0.0.${n}`) }));
    const started = Date.now();
    const workers = forgers.flatMap(({ n, client }) =>
      [0, 1].map(async (w) => {
        for (let i = w; !stop; i += 2) {
          // 0: the connection failed (counted, not thrown: the flood goes on).
          const status = await client.put(headersOf(a, { token: forgedFor(n, i) })).catch(() => 0);
          flood.sent++;
          flood.statuses.set(status, (flood.statuses.get(status) ?? 0) + 1);
        }
      }),
    );
    try {
      // Node B's agent keeps reporting every 0.5 s for the whole flood (its token reviewed once
      // before, and again when its 60 s cache entry runs out), from its own address.
      const bClient = clientFrom("127.0.0.21");
      const bStatuses: number[] = [];
      const bLoop = (async () => {
        let token = b.token;
        for (let i = 0; Date.now() - started < FLOOD_MS; i++) {
          // Half-way, the kubelet "rotates" B's token: a fresh one, never reviewed.
          if (i === 12) token = await tokenFor(AGENT_SA, { name: b.pod, uid: b.podUid });
          bStatuses.push(await bClient.put(headersOf(b, { token }), JSON.stringify(STATUS)));
          await sleep(500);
        }
      })();
      bLoop.catch(() => undefined); // awaited below; this only keeps an early failure from being unhandled

      // Let the flood spend the anonymous lane, then node A's agent arrives with a fresh token
      // (after a reboot, or a rotation), retrying every 0.5 s on 429 as agents do.
      await sleep(3_000);
      const throttledSoFar = flood.statuses.get(429) ?? 0;
      const fresh = await tokenFor(AGENT_SA, { name: a.pod, uid: a.podUid });
      const aClient = clientFrom("127.0.0.20");
      const aStarted = Date.now();
      const aStatuses: number[] = [];
      while (Date.now() - aStarted < 2_000) {
        const status = await aClient.put(headersOf(a, { token: fresh }), JSON.stringify(STATUS));
        aStatuses.push(status);
        if (status !== 429) break;
        await sleep(500);
      }
      const aMs = Date.now() - aStarted;
      // The server stays responsive.
      const pingStarted = Date.now();
      assert.equal(await aClient.get("/ping"), 200);
      const pingMs = Date.now() - pingStarted;
      aClient.close();

      await bLoop;
      bClient.close();
      stop = true;
      await Promise.all(workers);
      const seconds = (Date.now() - started) / 1000;
      const reviews = upstream.tokenReviews - reviewsBefore;
      const after = await admissions();
      const delta = (k: string): number => (after[k] ?? 0) - (admittedBefore[k] ?? 0);
      t.diagnostic(
        `flood: ${flood.sent} forged PUTs in ${seconds.toFixed(1)} s from ${sources.length} sources ` +
          `(${JSON.stringify(Object.fromEntries(flood.statuses))}); ${reviews} TokenReviews ` +
          `(${(reviews / seconds).toFixed(1)}/s); admissions ${JSON.stringify({
            anonymous: delta("anonymous:admitted"),
            anonymousSourceSpent: delta("anonymous:source_spent"),
            anonymousPoolSpent: delta("anonymous:pool_spent"),
            agent: delta("agent:admitted"),
            agentSourceSpent: delta("agent:source_spent"),
            agentPoolSpent: delta("agent:pool_spent"),
          })}`,
      );
      t.diagnostic(
        `node A's fresh token: ${aStatuses.join(",")} in ${aMs} ms (429s to the flood before it: ${throttledSoFar}); ` +
          `/ping ${pingMs} ms; node B: ${bStatuses.length} PUTs, ${JSON.stringify(bStatuses.filter((x) => x !== 200))} not 200`,
      );

      // The flood really did spend the anonymous lane before A arrived (so the old single budget
      // would have answered A with 429), and every forged request was refused.
      assert.ok(throttledSoFar > 0, "the flood had not been throttled yet");
      assert.ok(delta("anonymous:pool_spent") > 0, "the anonymous pool was never spent");
      assert.ok(delta("agent:source_spent") > 0, "the compromised agent's source was never throttled");
      for (const status of flood.statuses.keys()) {
        assert.ok([401, 429, 0].includes(status), `a forged request got ${status}`);
      }
      assert.ok(
        (flood.statuses.get(0) ?? 0) <= flood.sent / 100,
        "more than 1% of the flood's connections failed",
      );
      assert.equal(aStatuses.at(-1), 200, `node A's fresh token: ${aStatuses.join(",")} in ${aMs} ms`);
      assert.ok(aMs < 2_000, `node A served after ${aMs} ms`);
      assert.ok(pingMs < 2_000, `/ping took ${pingMs} ms`);
      assert.ok(bStatuses.length >= 10, `node B sent ${bStatuses.length} PUTs`);
      assert.deepEqual(
        bStatuses.filter((x) => x !== 200),
        [],
        "node B's agent was refused during the flood",
      );
      // Bounded: the anonymous pool (20, +2/s), the compromised agent's own agent-lane bucket
      // (8, +2/s), and the genuine reviews (A's fresh token, B's fresh token, B's re-reviews when
      // its 60 s cache entries run out: at most 6, a generous bound).
      const bound = 20 + 8 + Math.ceil((2 + 2) * seconds) + 6;
      assert.ok(reviews <= bound, `${reviews} TokenReviews in ${seconds.toFixed(1)} s (bound ${bound})`);
      // Nothing forged was written: no shadow holds the forged version, the nodes are untouched.
      const shadows = await kube<{ items: { status?: { current_version?: string } }[] }>("GET", SHADOWS);
      for (const s of shadows.items) assert.notEqual(s.status?.current_version, "6.6.6");
      assert.deepEqual((JSON.parse(await snapshot()) as { nodes: unknown }).nodes, nodesBefore.nodes);
    } finally {
      stop = true;
      await Promise.allSettled(workers);
      for (const f of forgers) f.client.close();
    }
  });

  it("/crdconvert refuses a review over 3 MiB (413) and over 5,000 objects (Failure), quickly", async (t: TestContext) => {
    const shadow = (i: number) => ({
      apiVersion: "brupop.bottlerocket.aws/v1",
      kind: "BottlerocketShadow",
      metadata: { name: `brs-${i}`, namespace: NS, annotations: { pad: "x".repeat(135) } },
      spec: { state: "Idle", version: null, state_transition_timestamp: null },
    });
    const review = (n: number) =>
      JSON.stringify({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "ConversionReview",
        request: {
          uid: "u-1",
          desiredAPIVersion: "brupop.bottlerocket.aws/v2",
          objects: Array.from({ length: n }, (_, i) => shadow(i)),
        },
      });
    const big = review(21_000); // the attack run's 7.5 MiB
    let started = Date.now();
    await refusedWithoutWrite(async () => (await call("POST", "/crdconvert", {}, big)).status, 413);
    t.diagnostic(`${(big.length / 1048576).toFixed(1)} MiB review → 413 in ${Date.now() - started} ms`);

    const many = review(5_001);
    assert.ok(many.length < 3 * 1024 * 1024);
    started = Date.now();
    const res = await call("POST", "/crdconvert", {}, many);
    t.diagnostic(
      `5,001-object review (${(many.length / 1048576).toFixed(1)} MiB) → Failure in ${Date.now() - started} ms`,
    );
    assert.equal(res.status, 200);
    const result = (res.body as { response?: { result?: { status?: string; message?: string } } }).response
      ?.result;
    assert.equal(result?.status, "Failure");
    assert.match(result?.message ?? "", /more than 5000/);
    // A real review still converts.
    const ok = await call("POST", "/crdconvert", {}, review(100));
    assert.equal((ok.body as { response: { result: { status: string } } }).response.result.status, "Success");
  });

  it("a slow-header client is cut after the header timeout; an idle kept-alive connection after the keep-alive timeout", async (t: TestContext) => {
    // Headers that never finish (the server was started with a 2 s header timeout).
    let started = Date.now();
    const slow = await raw(`PUT ${PATH} HTTP/1.1\r\nHost: x\r\nBrupopNodeName: ${nodeA}\r\n`, 20_000);
    const slowMs = Date.now() - started;
    t.diagnostic(`slow headers cut after ${slowMs} ms (${slow.statuses.join(",") || "closed"})`);
    assert.ok(slowMs < 5_000, `slow-header connection held ${slowMs} ms`);

    // One full request on a kept-alive connection, then silence (keep-alive timeout 1 s).
    started = Date.now();
    const idle = await raw(`GET /ping HTTP/1.1\r\nHost: x\r\n\r\n`, 20_000);
    const idleMs = Date.now() - started;
    t.diagnostic(`idle kept-alive connection closed after ${idleMs} ms`);
    assert.deepEqual(idle.statuses, [200]);
    assert.ok(idleMs < 5_000, `idle connection held ${idleMs} ms`);
  });
});
