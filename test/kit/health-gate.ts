// The agents' health gate on their node's DaemonSet pods, for the e2e files that test it on a real
// control plane: the testbed options that turn it on, and a DaemonSet (run by the real DaemonSet
// controller, its pods "run" by kwok) on the nodes carrying a label.
import { NO_HEALTH_CHECKS } from "../../src/agent/health.js";
import type { RawKubeRest } from "../../kit/testenv/raw-rest.js";
import { createWorkload } from "./fixtures.js";
import { bindKube, eventually, kube } from "./kube.js";
import type { TestbedOptions } from "./testbed.js";

interface Pod {
  metadata: { name: string; namespace: string };
  status?: { conditions?: { type: string; status: string }[] };
}

/**
 * Agents that gate on their node's DaemonSet pods after the reboot (1 s soak), failing once
 * MonitoringUpdate has lasted `monitorLimitS`; the Node stays Ready through the reboot:
 * kube-controller-manager would otherwise mark the pods on a NotReady node not Ready, and kwok (no
 * kubelet) never makes them Ready again. The pod's readiness is the test's to set.
 */
export function healthGated(
  monitorLimitS: number,
  agentTimings: TestbedOptions["agentTimings"],
): Pick<TestbedOptions, "agentTimings" | "health" | "nodeDownDuringReboot"> {
  return {
    agentTimings: {
      ...agentTimings,
      healthSoakMs: 1_000,
      stateTimeLimitsMs: { MonitoringUpdate: monitorLimitS * 1000 },
    },
    health: { ...NO_HEALTH_CHECKS, daemonSetPods: true },
    nodeDownDuringReboot: false,
  };
}

/** Namespace `ns` with the DaemonSet `node-critical`, a pod on every node labelled `label=true`. */
export async function nodeCriticalDaemonSet(rest: RawKubeRest, ns: string, label: string): Promise<void> {
  await kube(rest, "POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: ns },
  });
  await createWorkload(bindKube(rest), ns, "DaemonSet", "node-critical", {
    nodeSelector: { [label]: "true" },
    image: "registry.example/node-critical:1",
    container: "c",
  });
}

/** The name of `node`'s Ready pod in `ns`, once there is one. */
export async function readyPodOn(rest: RawKubeRest, ns: string, node: string): Promise<string> {
  let name: string | undefined;
  await eventually(`${node}: its DaemonSet pod Ready`, 60_000, async () => {
    const list = await kube<{ items: Pod[] }>(rest, "GET", `/api/v1/namespaces/${ns}/pods`, undefined, {
      query: { fieldSelector: `spec.nodeName=${node}` },
    });
    name = list.items.find((p) =>
      p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    )?.metadata.name;
    return name !== undefined;
  });
  if (name === undefined) throw new Error("unreachable");
  return name;
}
