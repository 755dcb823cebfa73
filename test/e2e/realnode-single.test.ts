// Issue 14, "the one-node case": brupop as shipped (image, both charts installed as docs/install.md
// says without cert-manager) on ONE real node. The drain cordons the only node, so nothing it evicts
// can come back before the node is uncordoned: upstream evicted its own apiservers and CoreDNS and
// the update was stuck for good. Here the drain keeps brupop's apiserver pods and the agent reaches
// them through the Service's cluster IP, so the node updates, ends uncordoned, and the apiserver
// pods are the same pods throughout (never evicted).
//
// Needs root, cgroup v1, overlayfs (docs/testenv.md, "Real nodes"); BRUPOP_SKIP_REALNODES=1 skips.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { AppsV1Api, CoreV1Api } from "@kubernetes/client-node";

import type { RealNodeCluster } from "../../kit/testenv/realnode/cluster.js";
import { eventually } from "../kit/kube.js";
import {
  BRUPOP_NAMESPACE,
  imagePulls,
  listShadows,
  NEW,
  REALNODES_SKIP as SKIP,
  runInstallBlock,
  startSimulatedHosts,
  startBrupopRealNodes,
} from "../kit/realnode.js";

const NS = BRUPOP_NAMESPACE;

describe(
  "one real node: the update finishes although the drain cordons the only node",
  { skip: SKIP, timeout: 900_000 },
  () => {
    let cluster: RealNodeCluster;

    before(async () => {
      cluster = await startBrupopRealNodes(1);
    });

    after(async () => {
      await cluster?.stop();
    });

    it("updates the single node, uncordons it, and never evicts brupop's apiserver", async () => {
      try {
        const node = cluster.nodes[0]?.name ?? "";
        await startSimulatedHosts(cluster);
        await runInstallBlock(cluster);

        const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
        const apps = cluster.kubeConfig.makeApiClient(AppsV1Api);
        const apiserverUids = async (): Promise<string[]> =>
          (
            await core.listNamespacedPod({
              namespace: NS,
              labelSelector: "brupop.bottlerocket.aws/component=apiserver",
            })
          ).items
            .map((p) => p.metadata?.uid ?? "")
            .sort();
        await eventually("brupop's apiserver (3) and agent ready", 300_000, async () => {
          const [api, agent] = await Promise.all([
            apps.readNamespacedDeployment({ name: "brupop-apiserver", namespace: NS }),
            apps.readNamespacedDaemonSet({ name: "brupop-agent", namespace: NS }),
          ]);
          return (api.status?.availableReplicas ?? 0) === 3 && (agent.status?.numberReady ?? 0) === 1;
        });
        const before0 = await apiserverUids();
        const pulls = await imagePulls(cluster);
        process.stdout.write(`# the node's pulls of brupop's image: ${JSON.stringify(pulls)}\n`);
        assert.ok(pulls.length > 0, "the kubelet pulled brupop's image from the registry (no import)");

        await eventually("the node on the new version, Idle, uncordoned", 600_000, async () => {
          const [list, nodes] = await Promise.all([listShadows(cluster), core.listNode()]);
          const s = list[0]?.status;
          return (
            s?.current_version === NEW &&
            s.current_state === "Idle" &&
            nodes.items.every((n) => n.spec?.unschedulable !== true)
          );
        });
        assert.deepEqual(cluster.rebootErrors(), []);
        assert.equal(cluster.reboots(node), 1);
        assert.deepEqual(await apiserverUids(), before0, "the same apiserver pods: none evicted or replaced");
      } catch (err) {
        process.stderr.write(await cluster.dumpLogs(60).catch(() => ""));
        throw err;
      }
    });
  },
);
