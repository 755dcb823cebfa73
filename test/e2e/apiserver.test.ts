// brupop apiserver against a REAL control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, kwok). One cluster for the whole file. Agents are DaemonSet pods on kwok nodes and
// authenticate with real bound service-account tokens (TokenRequest); kube-apiserver itself calls our
// /crdconvert; drains go through the Eviction API against a real PodDisruptionBudget.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import type { ClientRequest } from "node:http";
import { request } from "node:https";
import { join } from "node:path";
import { connect, type TLSSocket } from "node:tls";
import { after, before, describe, it } from "node:test";

import { ApiserverClient, tokenFileProvider } from "../../src/apiserver/client.js";
import { CORDONED_BY_BRUPOP_ANNOTATION } from "../../src/k8s/cordon-marker.js";
import { paths } from "../../src/k8s/objects.js";
import {
  AGENT_COMPONENT,
  AGENT_TOKEN_AUDIENCE,
  COMPONENT_LABEL,
  EXCLUDE_FROM_LB_LABEL,
} from "../../src/model/constants.js";
import type { ShadowStatus } from "../../src/model/shadow.js";
import { E2eCluster } from "../kit/e2e.js";
import {
  AGENT_SA,
  BRUPOP_NS,
  agentHeaders,
  ApiserverBed,
  createBarePod,
  requestToken,
  type AgentIdentity as Agent,
  type Answer,
  type Obj,
} from "../kit/apiserver-e2e.js";
import { createWorkload, shadowStatus } from "../kit/fixtures.js";
import { kube as kubeCall, type KubeCallOptions } from "../kit/kube.js";
import { eventuallyFast as eventually } from "../kit/poll.js";
import { freshCert, testCa, writeTlsPair, type CertificateAuthority } from "../kit/tls.js";

const NS = BRUPOP_NS;
const WORKLOADS = "workloads";
const POOL_LABEL = "brupop-e2e/pool";
const SHADOWS_V2 = paths.shadows(NS);
const SHADOWS_V1 = `/apis/brupop.bottlerocket.aws/v1/namespaces/${NS}/bottlerocketshadows`;

const STATUS: ShadowStatus = shadowStatus();

interface PodObj extends Obj {
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

describe("brupop apiserver on a real control plane", { timeout: 600_000 }, () => {
  const e2e = new E2eCluster();
  const bed = new ApiserverBed(e2e, {
    nodes: 3,
    prefix: "brupop-e2e-",
    namespaces: [WORKLOADS],
    // A serving certificate of its own, from the kit's test CA (what cert-manager would mount): a
    // scenario replaces it.
    tlsPrefix: "brupop-e2e-tls-",
    freshCert: true,
    server: () => ({
      drain: { retryIntervalMs: 500, pollIntervalMs: 250, timeoutMs: 120_000 },
      tls: { debounceMs: 100, pollIntervalMs: 1_000 },
    }),
  });
  let tlsDir: string;
  let ca: CertificateAuthority;
  let nodeA: string, nodeB: string, nodeC: string;

  /** A Kubernetes API call that must answer one of `ok`. */
  const kube = <T = Obj>(method: string, path: string, body?: unknown, opts?: KubeCallOptions) =>
    kubeCall<T>(e2e.rest, method, path, body, opts);

  const getNode = (name: string) => kube("GET", `/api/v1/nodes/${name}`);
  const getShadow = (name: string, version = SHADOWS_V2) => kube("GET", `${version}/${name}`);
  const podsOnNode = async (node: string) =>
    (
      await kube<{ items: PodObj[] }>("GET", "/api/v1/pods", undefined, {
        query: { fieldSelector: `spec.nodeName=${node}` },
      })
    ).items;

  const tokenFor = (pod: string, podUid: string, audience = AGENT_TOKEN_AUDIENCE): Promise<string> =>
    requestToken(kube, NS, AGENT_SA, { name: pod, uid: podUid }, audience);

  /** A bare pod in our namespace, bound to `node` (kwok runs it). */
  const createPod = (name: string, node: string, labels: Record<string, string>): Promise<PodObj> =>
    createBarePod<PodObj>(kube, NS, { name, node, labels, sa: AGENT_SA });

  const agent = (node: string): Agent => bed.agent(node);

  const headersOf = agentHeaders;

  function clientFor(a: Agent, token?: () => Promise<string> | string): ApiserverClient {
    return new ApiserverClient({
      baseUrl: bed.server.url,
      caPem: ca.certPem,
      nodeName: a.node,
      nodeUid: a.nodeUid,
      token: token ?? (() => a.token),
      attempts: 1,
    });
  }

  /** A raw HTTPS call to our server (for requests the client would never make). */
  const call: (
    method: string,
    path: string,
    headers?: Record<string, string>,
    body?: string,
  ) => Promise<Answer> = bed.call;

  before(async () => {
    await bed.start();
    [nodeA, nodeB, nodeC] = bed.nodes as [string, string, string];
    ca = await testCa();
    tlsDir = bed.tls.dir;
  });

  after(() => bed.stop());

  it("GET /ping answers without credentials", async () => {
    const res = await call("GET", "/ping");
    assert.equal(res.status, 200);
  });

  it(
    "a valid agent creates its shadow (owned by its Node) and writes its status",
    e2e.run(async () => {
      const a = agent(nodeA);
      // The agent reads its projected token from a file on every call.
      const tokenFile = join(tlsDir, "agent-token");
      await writeFile(tokenFile, `${a.token}\n`);
      const client = clientFor(a, tokenFileProvider(tokenFile));
      try {
        await client.createShadow();
        const shadow = await getShadow(`brs-${nodeA}`);
        assert.deepEqual(
          shadow.metadata.ownerReferences?.map(({ apiVersion, kind, name, uid }) => ({
            apiVersion,
            kind,
            name,
            uid,
          })),
          [{ apiVersion: "v1", kind: "Node", name: nodeA, uid: a.nodeUid }],
        );
        assert.equal((shadow.spec as { state: string }).state, "Idle");

        // Idempotent: a second create is fine and changes nothing.
        const again = await call("POST", "/bottlerocket-node-resource", headersOf(a));
        assert.equal(again.status, 200);
        assert.equal(
          (await getShadow(`brs-${nodeA}`)).metadata.resourceVersion,
          shadow.metadata.resourceVersion,
        );

        await client.updateStatus(STATUS);
        assert.deepEqual((await getShadow(`brs-${nodeA}`)).status, STATUS);
      } finally {
        client.close();
      }
    }),
  );

  it(
    "refuses every request that is not the right agent for the node, and writes nothing",
    e2e.run(async () => {
      const a = agent(nodeA);
      const b = agent(nodeB);
      const before = await getShadow(`brs-${nodeA}`);
      const attempt = JSON.stringify({ ...STATUS, current_state: "MonitoringUpdate" });
      const put = (headers: Record<string, string>, body = attempt) =>
        call("PUT", "/bottlerocket-node-resource", headers, body);

      const wrongAudience = await tokenFor(a.pod, a.podUid, "someone-else");
      const stranger = await createPod("not-an-agent", nodeA, { app: "stranger" });
      const strangerToken = await tokenFor(stranger.metadata.name, stranger.metadata.uid);

      const cases: [string, () => Promise<Answer>, number, string][] = [
        ["no headers", () => put({}), 401, "BRUPOP_E_UNAUTHENTICATED"],
        [
          "no token",
          () => put({ BrupopNodeName: nodeA, BrupopNodeUid: a.nodeUid }),
          401,
          "BRUPOP_E_UNAUTHENTICATED",
        ],
        [
          "no node name",
          () => put({ BrupopNodeUid: a.nodeUid, BrupopK8sAuthToken: a.token }),
          401,
          "BRUPOP_E_UNAUTHENTICATED",
        ],
        [
          "no node uid",
          () => put({ BrupopNodeName: nodeA, BrupopK8sAuthToken: a.token }),
          401,
          "BRUPOP_E_UNAUTHENTICATED",
        ],
        ["garbage token", () => put(headersOf(a, { token: "not-a-token" })), 401, "BRUPOP_E_UNAUTHENTICATED"],
        [
          "token with the wrong audience",
          () => put(headersOf(a, { token: wrongAudience })),
          401,
          "BRUPOP_E_UNAUTHENTICATED",
        ],
        [
          "agent of another node (status)",
          () => put(headersOf(b, { node: nodeA, uid: a.nodeUid })),
          403,
          "BRUPOP_E_FORBIDDEN",
        ],
        [
          "agent of another node (cordon-and-drain)",
          () =>
            call(
              "POST",
              "/bottlerocket-node-resource/cordon-and-drain",
              headersOf(b, { node: nodeA, uid: a.nodeUid }),
            ),
          403,
          "BRUPOP_E_FORBIDDEN",
        ],
        [
          "agent of another node (exclude-from-lb)",
          () =>
            call(
              "POST",
              "/bottlerocket-node-resource/exclude-from-lb",
              headersOf(b, { node: nodeA, uid: a.nodeUid }),
            ),
          403,
          "BRUPOP_E_FORBIDDEN",
        ],
        [
          "a non-agent pod's token",
          () => put(headersOf(a, { token: strangerToken })),
          403,
          "BRUPOP_E_FORBIDDEN",
        ],
        [
          "right node name, wrong node uid",
          () => put(headersOf(a, { uid: "00000000-0000-0000-0000-000000000000" })),
          403,
          "BRUPOP_E_FORBIDDEN",
        ],
        [
          "own token, another node's name and uid",
          () => put(headersOf(a, { node: nodeB, uid: b.nodeUid })),
          403,
          "BRUPOP_E_FORBIDDEN",
        ],
        ["malformed JSON", () => put(headersOf(a), '{"current_version": '), 400, "BRUPOP_E_BAD_REQUEST"],
        [
          "a body over 64 KiB",
          () => put(headersOf(a), JSON.stringify({ ...STATUS, pad: "x".repeat(70_000) })),
          413,
          "BRUPOP_E_PAYLOAD_TOO_LARGE",
        ],
        [
          "an invalid semver",
          () => put(headersOf(a), JSON.stringify({ ...STATUS, current_version: "1.2" })),
          400,
          "BRUPOP_E_INVALID_OBJECT",
        ],
        [
          "an unknown state",
          () => put(headersOf(a), JSON.stringify({ ...STATUS, current_state: "Rebooting" })),
          400,
          "BRUPOP_E_INVALID_OBJECT",
        ],
      ];
      for (const [name, run, status, code] of cases) {
        const res = await run();
        assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
        assert.equal((res.body as { code?: string }).code, code, name);
      }
      const semver = await put(headersOf(a), JSON.stringify({ ...STATUS, target_version: "v1" }));
      assert.equal((semver.body as { details?: { field?: string } }).details?.field, "status.target_version");

      // Nothing was written: same shadow, no shadow for B, node A untouched.
      const afterShadow = await getShadow(`brs-${nodeA}`);
      assert.equal(afterShadow.metadata.resourceVersion, before.metadata.resourceVersion);
      assert.deepEqual(afterShadow.status, STATUS);
      const names = (await kube<{ items: Obj[] }>("GET", SHADOWS_V2)).items.map((s) => s.metadata.name);
      assert.deepEqual(names, [`brs-${nodeA}`]);
      const node = await getNode(nodeA);
      assert.notEqual(node.spec?.unschedulable, true);
      assert.equal(node.metadata.labels?.[EXCLUDE_FROM_LB_LABEL], undefined);
      await kube("DELETE", `/api/v1/namespaces/${NS}/pods/not-an-agent`, undefined, {
        query: { gracePeriodSeconds: "0" },
      });
    }),
  );

  it(
    "a deleted pod's token stops working, even though its review was cached",
    e2e.run(async () => {
      const ghost = await createPod("ghost-agent", nodeA, { [COMPONENT_LABEL]: AGENT_COMPONENT });
      const token = await tokenFor(ghost.metadata.name, ghost.metadata.uid);
      const headers = headersOf(agent(nodeA), { token });
      // Accepted while the pod lives (creating an existing shadow writes nothing) — and now cached.
      assert.equal((await call("POST", "/bottlerocket-node-resource", headers)).status, 200);
      await kube("DELETE", `/api/v1/namespaces/${NS}/pods/ghost-agent`, undefined, {
        query: { gracePeriodSeconds: "0" },
      });
      await eventually("pod gone", 20_000, async () => {
        const res = await e2e.rest.request("GET", `/api/v1/namespaces/${NS}/pods/ghost-agent`);
        return res.status === 404;
      });
      const before = await getShadow(`brs-${nodeA}`);
      const body = JSON.stringify({ ...STATUS, current_state: "ErrorReset" });
      let answer: Answer | undefined;
      // Our pod cache hears of the deletion within moments of the API server.
      await eventually("refusal", 5_000, async () => {
        answer = await call("PUT", "/bottlerocket-node-resource", headers, body);
        return answer.status === 401;
      });
      assert.equal((answer?.body as { code: string }).code, "BRUPOP_E_UNAUTHENTICATED");
      assert.equal(
        (await getShadow(`brs-${nodeA}`)).metadata.resourceVersion,
        before.metadata.resourceVersion,
      );
    }),
  );

  it(
    "kube-apiserver converts through /crdconvert: created as v1 reads as v2, and the reverse",
    e2e.run(async () => {
      await kube("POST", SHADOWS_V1, {
        apiVersion: "brupop.bottlerocket.aws/v1",
        kind: "BottlerocketShadow",
        metadata: { name: "brs-legacy" },
        spec: { state: "StagedUpdate", version: "1.20.0", state_transition_timestamp: null },
      });
      await kube(
        "PATCH",
        `${SHADOWS_V1}/brs-legacy/status`,
        { status: { current_version: "1.19.0", target_version: "1.20.0", current_state: "PerformedUpdate" } },
        { contentType: "application/merge-patch+json" },
      );
      const asV2 = await getShadow("brs-legacy");
      assert.equal((asV2 as { apiVersion?: string }).apiVersion, "brupop.bottlerocket.aws/v2");
      assert.equal((asV2.spec as { state: string }).state, "StagedAndPerformedUpdate");
      assert.deepEqual(asV2.status, {
        current_version: "1.19.0",
        target_version: "1.20.0",
        current_state: "StagedAndPerformedUpdate",
        crash_count: 0,
        state_transition_failure_timestamp: null,
      });

      await kube("POST", SHADOWS_V2, {
        apiVersion: "brupop.bottlerocket.aws/v2",
        kind: "BottlerocketShadow",
        metadata: { name: "brs-modern" },
        spec: { state: "StagedAndPerformedUpdate", version: "1.20.0", state_transition_timestamp: null },
      });
      await kube(
        "PATCH",
        `${SHADOWS_V2}/brs-modern/status`,
        { status: { ...STATUS, current_state: "ErrorReset", crash_count: 2 } },
        { contentType: "application/merge-patch+json" },
      );
      const asV1 = await getShadow("brs-modern", SHADOWS_V1);
      assert.equal((asV1 as { apiVersion?: string }).apiVersion, "brupop.bottlerocket.aws/v1");
      assert.equal((asV1.spec as { state: string }).state, "StagedUpdate");
      assert.deepEqual(asV1.status, {
        current_version: "1.19.0",
        target_version: "1.20.0",
        current_state: "MonitoringUpdate",
      });
      assert.equal(asV1.metadata.uid, (await getShadow("brs-modern")).metadata.uid);

      const metrics = await call("GET", "/metrics");
      assert.match(
        String(metrics.body),
        /brupop_apiserver_requests_total\{route="\/crdconvert",method="POST",code="200"\} [1-9]/,
      );
      await kube("DELETE", `${SHADOWS_V2}/brs-legacy`);
      await kube("DELETE", `${SHADOWS_V2}/brs-modern`);
    }),
  );

  it(
    "cordon-and-drain respects a PodDisruptionBudget, leaves DaemonSet pods, and uncordon restores scheduling",
    e2e.run(async () => {
      const a = agent(nodeA);
      await kube(
        "PATCH",
        `/api/v1/nodes/${nodeA}`,
        { metadata: { labels: { [POOL_LABEL]: "drain" } } },
        {
          contentType: "application/merge-patch+json",
        },
      );
      const app = { app: "web" };
      await createWorkload(kube, WORKLOADS, "Deployment", "web", {
        replicas: 3,
        nodeSelector: { [POOL_LABEL]: "drain" },
        image: "registry.example/web:1",
        noToken: true,
      });
      await kube("POST", `/apis/policy/v1/namespaces/${WORKLOADS}/poddisruptionbudgets`, {
        apiVersion: "policy/v1",
        kind: "PodDisruptionBudget",
        metadata: { name: "web" },
        spec: { maxUnavailable: 1, selector: { matchLabels: app } },
      });
      await createWorkload(kube, WORKLOADS, "DaemonSet", "node-logger", {
        nodeSelector: { [POOL_LABEL]: "drain" },
        image: "registry.example/log:1",
        container: "log",
        noToken: true,
      });
      const isReady = (p: PodObj) =>
        p.metadata.deletionTimestamp === undefined &&
        p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
      await eventually("3 web pods Ready on node A, the logger on A, the PDB observed", 60_000, async () => {
        const onA = await podsOnNode(nodeA);
        const web = onA.filter((p) => p.metadata.labels?.app === "web" && isReady(p));
        const logger = onA.filter((p) => p.metadata.labels?.app === "node-logger");
        const pdb = await kube<{ status?: { currentHealthy?: number; disruptionsAllowed?: number } }>(
          "GET",
          `/apis/policy/v1/namespaces/${WORKLOADS}/poddisruptionbudgets/web`,
        );
        return (
          web.length === 3 &&
          logger.length === 1 &&
          pdb.status?.currentHealthy === 3 &&
          pdb.status.disruptionsAllowed === 1
        );
      });
      // Room for the evicted pods to go.
      await kube(
        "PATCH",
        `/api/v1/nodes/${nodeB}`,
        { metadata: { labels: { [POOL_LABEL]: "drain" } } },
        {
          contentType: "application/merge-patch+json",
        },
      );

      // Watch the web pods for the whole drain: healthy (Ready, not terminating) must never drop below 2.
      const webPath = `/api/v1/namespaces/${WORKLOADS}/pods`;
      const list = await kube<{ items: PodObj[]; metadata: { resourceVersion: string } }>(
        "GET",
        webPath,
        undefined,
        {
          query: { labelSelector: "app=web" },
        },
      );
      const pods = new Map(list.items.map((p) => [p.metadata.name, p]));
      const healthy = () => [...pods.values()].filter(isReady).length;
      let minHealthy = healthy();
      assert.equal(minHealthy, 3);
      const watchAbort = new AbortController();
      const watching = e2e.rest.watch(
        webPath,
        { labelSelector: "app=web", resourceVersion: list.metadata.resourceVersion },
        (raw) => {
          const ev = raw as { type: string; object: PodObj };
          if (ev.type === "DELETED") pods.delete(ev.object.metadata.name);
          else if (ev.type === "ADDED" || ev.type === "MODIFIED")
            pods.set(ev.object.metadata.name, ev.object);
          minHealthy = Math.min(minHealthy, healthy());
        },
        watchAbort.signal,
      );

      const drained = await call("POST", "/bottlerocket-node-resource/cordon-and-drain", headersOf(a));
      assert.equal(drained.status, 200, JSON.stringify(drained.body));
      const result = drained.body as {
        cordoned: boolean;
        evicted: string[];
        skipped: { pod: string; reason: string }[];
      };
      assert.equal(result.cordoned, true);
      assert.equal(result.evicted.filter((p) => p.startsWith(`${WORKLOADS}/web-`)).length, 3);
      assert.deepEqual(
        result.skipped.map((s) => s.reason).sort(),
        ["daemonset", "daemonset"],
        "the agent and the logger are DaemonSet pods",
      );

      // Drained: only DaemonSet pods left on A, the node cordoned and marked as brupop's doing.
      const left = await podsOnNode(nodeA);
      assert.deepEqual(
        left.map((p) => p.metadata.labels?.app ?? p.metadata.labels?.[COMPONENT_LABEL]).sort(),
        ["agent", "node-logger"],
      );
      const cordoned = await getNode(nodeA);
      assert.equal(cordoned.spec?.unschedulable, true);
      assert.equal(cordoned.metadata.annotations?.[CORDONED_BY_BRUPOP_ANNOTATION], "true");
      await eventually("3 web pods Ready on node B", 30_000, async () => {
        const onB = await podsOnNode(nodeB);
        return onB.filter((p) => p.metadata.labels?.app === "web" && isReady(p)).length === 3;
      });
      watchAbort.abort();
      await watching;
      assert.ok(minHealthy >= 2, `PDB violated: only ${minHealthy} healthy web pods at one point`);
      // Exactly 2 at the low point: the pods did go, one at a time.
      assert.equal(minHealthy, 2);

      const client = clientFor(a);
      try {
        await client.uncordon();
      } finally {
        client.close();
      }
      const uncordoned = await getNode(nodeA);
      assert.notEqual(uncordoned.spec?.unschedulable, true);
      assert.equal(uncordoned.metadata.annotations?.[CORDONED_BY_BRUPOP_ANNOTATION], undefined);
    }),
  );

  it(
    "a node someone else cordoned stays cordoned after cordon-and-drain and uncordon",
    e2e.run(async () => {
      const c = agent(nodeC);
      await kube(
        "PATCH",
        `/api/v1/nodes/${nodeC}`,
        { spec: { unschedulable: true } },
        {
          contentType: "application/merge-patch+json",
        },
      );
      const drained = await call("POST", "/bottlerocket-node-resource/cordon-and-drain", headersOf(c));
      assert.equal(drained.status, 200, JSON.stringify(drained.body));
      assert.equal((drained.body as { cordoned: boolean }).cordoned, false);
      const uncordon = await call("POST", "/bottlerocket-node-resource/uncordon", headersOf(c));
      assert.deepEqual(uncordon.body, { uncordoned: false });
      const node = await getNode(nodeC);
      assert.equal(node.spec?.unschedulable, true);
      assert.equal(node.metadata.annotations?.[CORDONED_BY_BRUPOP_ANNOTATION], undefined);
    }),
  );

  it(
    "sets and removes the load-balancer exclusion label",
    e2e.run(async () => {
      const client = clientFor(agent(nodeA));
      try {
        await client.excludeFromLb();
        assert.equal((await getNode(nodeA)).metadata.labels?.[EXCLUDE_FROM_LB_LABEL], "True");
        await client.removeExclusionFromLb();
        assert.equal((await getNode(nodeA)).metadata.labels?.[EXCLUDE_FROM_LB_LABEL], undefined);
      } finally {
        client.close();
      }
    }),
  );

  it(
    "picks up a rotated certificate for new connections without dropping an in-flight request",
    e2e.run(async () => {
      const a = agent(nodeA);
      const oldFingerprint = new X509Certificate(await readCert(tlsDir)).fingerprint256;
      assert.equal(await peerFingerprint(bed.server.port, ca.certPem), oldFingerprint);

      // Start a request and leave it half-sent: headers and half of the body.
      const body = JSON.stringify({ ...STATUS, current_version: "1.19.1" });
      const inflight = startPartialRequest(bed.server.port, ca.certPem, headersOf(a), body);
      const socket = await inflight.connected;
      assert.equal(socket.getPeerX509Certificate()?.fingerprint256, oldFingerprint);

      // cert-manager renews: new pair in place (each file replaced atomically).
      const renewed = await writeServingCert(tlsDir, ca);
      const newFingerprint = new X509Certificate(renewed).fingerprint256;
      assert.notEqual(newFingerprint, oldFingerprint);
      await eventually("new connections see the new certificate", 10_000, async () => {
        return (await peerFingerprint(bed.server.port, ca.certPem)) === newFingerprint;
      });

      // The old connection finishes its request normally.
      const answer = await inflight.finish();
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal((await getShadow(`brs-${nodeA}`)).status?.current_version, "1.19.1");
      assert.ok(bed.server.tlsGeneration >= 1);

      // And agents keep working over fresh connections.
      const client = clientFor(a);
      try {
        await client.updateStatus(STATUS);
      } finally {
        client.close();
      }
    }),
  );
});

/** Issues a new serving cert and writes tls.crt/tls.key (atomically, each); returns the cert. */
async function writeServingCert(dir: string, ca: CertificateAuthority): Promise<string> {
  const cert = await freshCert(undefined, ca);
  await writeTlsPair(dir, cert);
  return cert.certPem;
}

function readCert(dir: string): Promise<string> {
  return readFile(join(dir, "tls.crt"), "utf8");
}

/** Fingerprint of the certificate a NEW TLS connection to the server is given. */
function peerFingerprint(port: number, ca: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, ca }, () => {
      const fp = socket.getPeerX509Certificate()?.fingerprint256;
      socket.end();
      resolve(fp);
    });
    socket.on("error", reject);
  });
}

function startPartialRequest(
  port: number,
  ca: string,
  headers: Record<string, string>,
  body: string,
): { connected: Promise<TLSSocket>; finish: () => Promise<Answer> } {
  const half = Math.floor(body.length / 2);
  let req: ClientRequest | undefined;
  let answered: Promise<Answer> | undefined;
  const connected = new Promise<TLSSocket>((resolve, reject) => {
    answered = new Promise<Answer>((done, fail) => {
      req = request(
        {
          host: "127.0.0.1",
          port,
          method: "PUT",
          path: "/bottlerocket-node-resource",
          ca,
          agent: false,
          headers: {
            ...headers,
            "content-type": "application/json",
            "content-length": String(Buffer.byteLength(body)),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            done({
              status: res.statusCode ?? 0,
              body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown,
            }),
          );
        },
      );
      req.on("error", (err) => {
        fail(err);
        reject(err);
      });
      req.on("socket", (s) => {
        const tlsSocket = s as TLSSocket;
        tlsSocket.once("secureConnect", () => resolve(tlsSocket));
      });
      req.write(body.slice(0, half));
      req.flushHeaders();
    });
    answered.catch(() => undefined);
  });
  return {
    connected,
    finish: () => {
      req?.end(body.slice(half));
      return answered ?? Promise.reject(new Error("request not started"));
    },
  };
}
