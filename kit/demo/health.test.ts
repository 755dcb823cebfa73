import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { READINESS_FAILS_ANNOTATION } from "../testenv/nodes.js";
import type { RawKubeRest } from "../testenv/raw-rest.js";
import { DEMO_DAEMONSET, DemoHealth, podsToFix } from "./health.js";
import { performAction, type PlaygroundDeps } from "./playground.js";

const pod = (name: string, node: string | undefined, ready: boolean | undefined) => ({
  metadata: { name, namespace: "default" },
  spec: node === undefined ? {} : { nodeName: node },
  status: ready === undefined ? {} : { conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
});

describe("podsToFix: the demo plays the kubelet for its DaemonSet pods", () => {
  const table: { name: string; pods: ReturnType<typeof pod>[]; sick: string[]; want: unknown[] }[] = [
    { name: "all Ready, none sick: nothing", pods: [pod("a", "n0", true)], sick: [], want: [] },
    {
      name: "marked not Ready by the node's reboot (kube-controller-manager): Ready again",
      pods: [pod("a", "n0", false)],
      sick: [],
      want: [{ name: "a", node: "n0", ready: true }],
    },
    {
      name: "no condition yet counts as not Ready",
      pods: [pod("a", "n0", undefined)],
      sick: [],
      want: [{ name: "a", node: "n0", ready: true }],
    },
    {
      name: "a sick node's pod: not Ready, and kept so",
      pods: [pod("a", "n0", true), pod("b", "n1", true), pod("c", "n2", false)],
      sick: ["n0", "n2"],
      want: [{ name: "a", node: "n0", ready: false }],
    },
    { name: "not scheduled yet: left alone", pods: [pod("a", undefined, false)], sick: [], want: [] },
  ];
  for (const c of table) {
    it(c.name, () => assert.deepEqual(podsToFix(c.pods, new Set(c.sick)), c.want));
  }
});

describe("DemoHealth: unhealthy from the node's next reboot", () => {
  /** A cluster with one DaemonSet pod per node, whose Ready the patches set. */
  function cluster(nodes: string[]) {
    const ready = new Map(nodes.map((n) => [n, true]));
    const failing = new Map<string, string | null>();
    const rest = {
      request: (method: string, path: string, opts: { body?: unknown } = {}) => {
        if (method === "GET")
          return Promise.resolve({
            status: 200,
            body: { items: nodes.map((n) => pod(`${DEMO_DAEMONSET}-${n}`, n, ready.get(n))) },
          });
        const [, node = "", sub] = /pods\/demo-node-agent-([^/]+)(\/status)?$/.exec(path) ?? [];
        if (sub === undefined) {
          const body = opts.body as { metadata: { annotations: Record<string, string | null> } };
          failing.set(node, body.metadata.annotations[READINESS_FAILS_ANNOTATION] ?? null);
        } else {
          const body = opts.body as { status: { conditions: { type: string; status: string }[] } };
          ready.set(node, body.status.conditions[0]?.status === "True");
        }
        return Promise.resolve({ status: 200, body: {} });
      },
    } as unknown as RawKubeRest;
    return { rest, ready, failing };
  }

  it("marked: Ready until it reboots; then not Ready; a later reboot heals it", async () => {
    const { rest, ready, failing } = cluster(["n0", "n1"]);
    const h = new DemoHealth(rest, "default");
    const deps = {
      health: h,
      state: { newest: "1.20.0", paused: false, quit: false },
    } as unknown as PlaygroundDeps;
    assert.match(
      await performAction({ kind: "unhealthy", node: "n0" }, deps),
      /^n0: its DaemonSet pod will not be Ready after its next reboot/,
    );
    await h.sync();
    assert.equal(ready.get("n0"), true, "not before its reboot");
    await h.onReboot("n1");
    assert.deepEqual(
      [...ready],
      [
        ["n0", true],
        ["n1", true],
      ],
      "another node's reboot: nothing",
    );
    await h.onReboot("n0");
    assert.equal(ready.get("n0"), false);
    // Marked as failing its readiness, so the kit's kubelet play after the reboot leaves it so.
    assert.equal(failing.get("n0"), "true");
    ready.set("n0", true); // something else made it Ready: the demo sets it back
    await h.sync();
    assert.equal(ready.get("n0"), false);
    await h.onReboot("n0");
    assert.equal(ready.get("n0"), true, "its next reboot (not marked again) heals it");
    assert.equal(failing.get("n0"), null);
  });

  it("without the DaemonSet the action is refused", async () => {
    const deps = { state: { newest: "1.20.0", paused: false, quit: false } } as unknown as PlaygroundDeps;
    await assert.rejects(performAction({ kind: "unhealthy", node: "n0" }, deps), /no health-gated DaemonSet/);
  });
});
