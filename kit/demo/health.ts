// The demo's health-gated DaemonSet (issue 32): a DaemonSet puts a pod on every node (the real
// DaemonSet controller; kwok "runs" it) and the agents' health gate checks it after each reboot
// (UPDATE_HEALTH_CHECK_DAEMONSET_PODS). The `unhealthy NODE` action (key u, `--script`) makes the
// node's pod not Ready from its next reboot on, so its health gate fails it with the pod's name.
//
// kwok has no kubelet: once kube-controller-manager marks the pods of a node that went NotReady
// during its reboot as not Ready, nothing makes them Ready again. So the demo plays the kubelet's part
// for its own pods: every second each pod's Ready condition is set to what the demo wants (Ready,
// unless its node was made unhealthy), only when it differs. A sick node's pod is also marked as
// failing its readiness, so the kit's kubelet play when the node comes back from its reboot does not
// report it Ready (that race let the node pass its health gate in 2 of 4 runs).
import { setTimeout as sleep } from "node:timers/promises";
import { BrupopError } from "../../src/errors.js";
import { setPodReadiness } from "../testenv/pod-readiness.js";
import type { RawKubeRest } from "../testenv/raw-rest.js";

export const DEMO_DAEMONSET = "demo-node-agent";
const LABELS = { app: DEMO_DAEMONSET };

interface Pod {
  metadata?: { name?: string; namespace?: string };
  spec?: { nodeName?: string };
  status?: { conditions?: { type?: string; status?: string }[] };
}

const isReady = (p: Pod): boolean =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;

/** What the demo wants of each pod: Ready unless its node is sick (pure). */
export function podsToFix(
  pods: readonly Pod[],
  sick: ReadonlySet<string>,
): { name: string; node: string; ready: boolean }[] {
  const out: { name: string; node: string; ready: boolean }[] = [];
  for (const p of pods) {
    const name = p.metadata?.name;
    const node = p.spec?.nodeName;
    if (name === undefined || node === undefined) continue; // not scheduled yet
    const want = !sick.has(node);
    if (isReady(p) !== want) out.push({ name, node, ready: want });
  }
  return out;
}

export class DemoHealth {
  readonly #rest: RawKubeRest;
  readonly #ns: string;
  /** Marked by the action: unhealthy from their next reboot. */
  readonly #pending = new Set<string>();
  /** Rebooted since they were marked: their pod stays not Ready (until a later reboot heals it). */
  readonly #sick = new Set<string>();

  constructor(rest: RawKubeRest, namespace: string) {
    this.#rest = rest;
    this.#ns = namespace;
  }

  async create(): Promise<void> {
    const res = await this.#rest.request("POST", `/apis/apps/v1/namespaces/${this.#ns}/daemonsets`, {
      body: {
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: { name: DEMO_DAEMONSET },
        spec: {
          selector: { matchLabels: LABELS },
          template: {
            metadata: { labels: LABELS },
            spec: { containers: [{ name: "agent", image: "registry.example/demo-node-agent:1" }] },
          },
        },
      },
    });
    if (res.status !== 201 && res.status !== 409) {
      throw new BrupopError("BRUPOP_E_UPSTREAM", `create DaemonSet ${DEMO_DAEMONSET}: HTTP ${res.status}`, {
        body: res.body,
      });
    }
  }

  async #pods(): Promise<Pod[]> {
    const res = await this.#rest.request("GET", `/api/v1/namespaces/${this.#ns}/pods`, {
      query: { labelSelector: `app=${DEMO_DAEMONSET}` },
    });
    if (res.status !== 200) throw new BrupopError("BRUPOP_E_UPSTREAM", `list pods: HTTP ${res.status}`);
    return (res.body as { items?: Pod[] }).items ?? [];
  }

  /** Resolves when every node has a Ready pod of the DaemonSet. */
  async waitReady(nodes: readonly string[], signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const ready = new Set((await this.#pods()).filter(isReady).map((p) => p.spec?.nodeName));
      if (nodes.every((n) => ready.has(n))) return;
      await sleep(300, undefined, { signal }).catch(() => undefined);
    }
  }

  /** The action: the node's pod goes not Ready from its next reboot. */
  markUnhealthy(node: string): void {
    this.#pending.add(node);
  }

  /** A host reboots: a marked node becomes sick (its pod not Ready at once); a sick one heals. */
  async onReboot(node: string): Promise<void> {
    if (this.#pending.delete(node)) this.#sick.add(node);
    else this.#sick.delete(node);
    await this.sync();
  }

  /** Sets each pod's Ready condition to what the demo wants, where it differs. */
  async sync(): Promise<void> {
    for (const fix of podsToFix(await this.#pods(), this.#sick)) {
      await setPodReadiness(this.#rest, this.#ns, fix.name, fix.ready);
    }
  }

  /** The kubelet's part, every second, until `signal` aborts (errors: tried again next time). */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.sync().catch(() => undefined);
      await sleep(1_000, undefined, { signal }).catch(() => undefined);
    }
  }
}
