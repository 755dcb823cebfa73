// The apiserver's drain policy and marks during an update, on a REAL control plane (kube-apiserver,
// controller-manager with the disruption controller, kwok nodes and pods). One cluster and one
// apiserver for the file, configured with a short drain deadline and DRAIN_TIMEOUT_ACTION=delete, a
// skip selector and marks; each scenario has a node of its own.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ApiserverCallError, ApiserverClient } from "../../src/apiserver/client.js";
import { failureRecord } from "../../src/agent/status.js";
import { DEFAULT_DRAIN_POLICY } from "../../src/apiserver/drain-policy.js";
import { parseLabelSelector } from "../../src/k8s/label-selector.js";
import { UPDATE_MARKS_ANNOTATION } from "../../src/apiserver/node-marks.js";
import { CORDONED_BY_BRUPOP_ANNOTATION } from "../../src/k8s/cordon-marker.js";
import { E2eCluster } from "../kit/e2e.js";
import { ApiserverBed, agentHeaders, type AgentIdentity } from "../kit/apiserver-e2e.js";
import { bindKube, type KubeFn } from "../kit/kube.js";
import { eventuallyFast as eventually } from "../kit/poll.js";

const WORKLOADS = "workloads";
const SKIP_LABEL = "brupop-e2e/keep";
const DRAIN = "/bottlerocket-node-resource/cordon-and-drain";
const UNCORDON = "/bottlerocket-node-resource/uncordon";
const MERGE = { contentType: "application/merge-patch+json" };

interface Meta {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
}
interface NodeObj {
  metadata: Meta;
  spec?: { unschedulable?: boolean; taints?: { key: string; value?: string; effect: string }[] };
}
interface PodObj {
  metadata: Meta;
  status?: { conditions?: { type: string; status: string }[] };
}
interface DrainError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** What the marks test looks at on a node (`recorded`: the annotation marks brupop says it set). */
function marksOf(n: NodeObj): Record<string, unknown> {
  const annotations = n.metadata.annotations ?? {};
  const record = annotations[UPDATE_MARKS_ANNOTATION];
  return {
    unschedulable: n.spec?.unschedulable === true,
    cordonedByBrupop: annotations[CORDONED_BY_BRUPOP_ANNOTATION],
    label: n.metadata.labels?.["example.com/updating"],
    doNotDisrupt: annotations["karpenter.sh/do-not-disrupt"],
    owner: annotations["example.com/owner"],
    taints: (n.spec?.taints ?? [])
      .filter((t) => t.key === "example.com/updating")
      .map((t) => `${t.key}=${t.value ?? ""}:${t.effect}`),
    recorded:
      record === undefined
        ? undefined
        : Object.keys((JSON.parse(record) as { annotations?: object }).annotations ?? {}),
  };
}

describe("drain policy and marks during an update on a real control plane", { timeout: 600_000 }, () => {
  const e2e = new E2eCluster();
  const bed = new ApiserverBed(e2e, {
    nodes: 4,
    prefix: "drain-e2e-",
    namespaces: [WORKLOADS],
    tlsPrefix: "brupop-drain-e2e-",
    server: () => ({
      drain: {
        retryIntervalMs: 300,
        pollIntervalMs: 200,
        timeoutMs: 6_000,
        policy: {
          ...DEFAULT_DRAIN_POLICY,
          onTimeout: "delete",
          skipSelector: parseLabelSelector(`${SKIP_LABEL}=true`),
        },
      },
      marks: {
        labels: { "example.com/updating": "true" },
        annotations: { "karpenter.sh/do-not-disrupt": "true", "example.com/owner": "platform" },
        taints: [{ key: "example.com/updating", value: "true", effect: "NoSchedule" }],
      },
    }),
    crd: false,
  });
  let kube: KubeFn;
  let nodeBlock: string, nodeSkip: string, nodeDelete: string, nodeMarks: string;

  const agent = (node: string): AgentIdentity => bed.agent(node);
  const call = bed.call;
  const drain = (node: string) => call("POST", DRAIN, agentHeaders(agent(node)));
  const podNames = async (node: string): Promise<string[]> =>
    (
      await kube<{ items: PodObj[] }>("GET", `/api/v1/namespaces/${WORKLOADS}/pods`, undefined, {
        query: { fieldSelector: `spec.nodeName=${node}` },
      })
    ).items
      .filter((p) => p.metadata.deletionTimestamp === undefined)
      .map((p) => p.metadata.name)
      .sort();

  /** A bare workload pod bound to `node` (kwok runs it). */
  const createPod = (
    name: string,
    node: string,
    meta: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
  ) =>
    kube("POST", `/api/v1/namespaces/${WORKLOADS}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, ...meta },
      spec: {
        nodeName: node,
        automountServiceAccountToken: false,
        containers: [{ name: "main", image: "registry.example/none:1" }],
      },
    });

  const createPdb = (name: string, minAvailable: number, app: string) =>
    kube("POST", `/apis/policy/v1/namespaces/${WORKLOADS}/poddisruptionbudgets`, {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name },
      spec: { minAvailable, selector: { matchLabels: { app } } },
    });

  before(async () => {
    await bed.start();
    kube = bindKube(e2e.rest);
    [nodeBlock, nodeSkip, nodeDelete, nodeMarks] = bed.nodes as [string, string, string, string];
  });

  after(() => bed.stop());

  it(
    "a do-not-disrupt pod blocks the drain, nothing is evicted, and the agent's failure names the pod",
    e2e.run(async () => {
      await createPod("precious", nodeBlock, { annotations: { "karpenter.sh/do-not-disrupt": "true" } });
      await createPod("ordinary", nodeBlock);

      const answer = await drain(nodeBlock);
      assert.equal(answer.status, 500, JSON.stringify(answer.body));
      const body = answer.body as DrainError;
      assert.equal(body.code, "BRUPOP_E_DRAIN");
      assert.match(
        body.message,
        new RegExp(`pod ${WORKLOADS}/precious: annotation karpenter\\.sh/do-not-disrupt=true`),
      );
      assert.deepEqual(
        (body.details?.blocked as { pod: string; reason: string }[]).map(({ pod, reason }) => ({
          pod,
          reason,
        })),
        [{ pod: `${WORKLOADS}/precious`, reason: "do-not-disrupt" }],
      );
      assert.deepEqual(await podNames(nodeBlock), ["ordinary", "precious"], "nothing was evicted");

      // What the agent writes to status.failure: the client's error text, as failureRecord keeps it.
      const a = agent(nodeBlock);
      const client = new ApiserverClient({
        baseUrl: bed.server.url,
        caPem: bed.tls.caPem,
        nodeName: a.node,
        nodeUid: a.nodeUid,
        token: () => a.token,
        attempts: 1,
      });
      try {
        const err = await client.cordonAndDrain().then(
          () => assert.fail("the drain should be blocked"),
          (e: unknown) => e,
        );
        assert.ok(err instanceof ApiserverCallError);
        assert.equal(err.remoteCode, "BRUPOP_E_DRAIN");
        const failure = failureRecord("RebootedIntoUpdate", "DrainFailed", err.message, new Date());
        assert.match(failure.message, /precious: annotation karpenter\.sh\/do-not-disrupt=true/);
      } finally {
        client.close();
      }
    }),
  );

  it(
    "a pod the skip selector matches stays on the node; the others are evicted",
    e2e.run(async () => {
      await createPod("cache", nodeSkip, { labels: { [SKIP_LABEL]: "true" } });
      await createPod("plain", nodeSkip);
      const answer = await drain(nodeSkip);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const result = answer.body as { evicted: string[]; skipped: { pod: string; reason: string }[] };
      assert.deepEqual(result.evicted, [`${WORKLOADS}/plain`]);
      assert.ok(
        result.skipped.some((s) => s.pod === `${WORKLOADS}/cache` && s.reason === "skip-selector"),
        JSON.stringify(result.skipped),
      );
      assert.deepEqual(await podNames(nodeSkip), ["cache"]);
    }),
  );

  it(
    "at the deadline, delete removes a pod no PodDisruptionBudget protects and keeps (and names) one a PDB protects",
    e2e.run(async () => {
      // Two PDBs that each allow a disruption: the Eviction API refuses such a pod (500) until the
      // deadline, although deleting it breaks no budget. One PDB that allows none guards the other.
      await createPod("multi", nodeDelete, { labels: { app: "multi" } });
      await createPod("guarded", nodeDelete, { labels: { app: "guarded" } });
      await createPdb("multi-a", 0, "multi");
      await createPdb("multi-b", 0, "multi");
      await createPdb("strict", 1, "guarded");
      await eventually("the PDBs observed: multi-a/b allow 1, strict allows 0", 60_000, async () => {
        const pdbs = await kube<{
          items: { metadata: Meta; status?: { disruptionsAllowed?: number; currentHealthy?: number } }[];
        }>("GET", `/apis/policy/v1/namespaces/${WORKLOADS}/poddisruptionbudgets`);
        const allowed = new Map(
          pdbs.items.map((p) => [
            p.metadata.name,
            p.status?.currentHealthy === 1 ? p.status.disruptionsAllowed : -1,
          ]),
        );
        return allowed.get("multi-a") === 1 && allowed.get("multi-b") === 1 && allowed.get("strict") === 0;
      });

      const started = Date.now();
      const answer = await drain(nodeDelete);
      assert.ok(Date.now() - started >= 6_000, "the drain ran to its deadline");
      assert.equal(answer.status, 500, JSON.stringify(answer.body));
      const body = answer.body as DrainError;
      assert.equal(body.code, "BRUPOP_E_DRAIN");
      assert.match(body.message, new RegExp(`deleted ${WORKLOADS}/multi;`));
      assert.match(
        body.message,
        new RegExp(
          `kept ${WORKLOADS}/guarded: PodDisruptionBudget ${WORKLOADS}/strict allows no disruption now`,
        ),
      );
      await eventually("the deleted pod gone, the guarded one still there", 30_000, async () => {
        const names = await podNames(nodeDelete);
        return names.length === 1 && names[0] === "guarded";
      });
    }),
  );

  it(
    "marks go on with the cordon and come off with the uncordon; a mark that was already there stays",
    e2e.run(async () => {
      await kube(
        "PATCH",
        `/api/v1/nodes/${nodeMarks}`,
        { metadata: { annotations: { "example.com/owner": "platform" } } },
        MERGE,
      );
      const answer = await drain(nodeMarks);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal((answer.body as { cordoned: boolean }).cordoned, true);

      const marked = await kube<NodeObj>("GET", `/api/v1/nodes/${nodeMarks}`);
      assert.deepEqual(marksOf(marked), {
        unschedulable: true,
        cordonedByBrupop: "true",
        label: "true",
        doNotDisrupt: "true",
        owner: "platform",
        taints: ["example.com/updating=true:NoSchedule"],
        recorded: ["karpenter.sh/do-not-disrupt"],
      });

      const uncordon = await call("POST", UNCORDON, agentHeaders(agent(nodeMarks)));
      assert.deepEqual(uncordon.body, { uncordoned: true });
      const after = await kube<NodeObj>("GET", `/api/v1/nodes/${nodeMarks}`);
      assert.deepEqual(marksOf(after), {
        unschedulable: false,
        cordonedByBrupop: undefined,
        label: undefined,
        doNotDisrupt: undefined,
        owner: "platform",
        taints: [],
        recorded: undefined,
      });
    }),
  );
});
