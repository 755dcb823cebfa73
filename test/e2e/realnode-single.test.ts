// Issue 14, "the one-node case": brupop as shipped (image, both charts installed as docs/install.md
// says without cert-manager) on ONE real node. The drain cordons the only node, so nothing it evicts
// can come back before the node is uncordoned: upstream evicted its own apiservers and CoreDNS and
// the update was stuck for good. Here the drain keeps brupop's apiserver pods and the agent reaches
// them through the Service's cluster IP, so the node updates, ends uncordoned, and the apiserver
// pods are the same pods throughout (never evicted).
//
// Needs root, cgroup v1, overlayfs (docs/testenv.md, "Real nodes"); BRUPOP_SKIP_REALNODES=1 skips.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";

import { AppsV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";

import { startRealNodeCluster, type RealNodeCluster } from "../../src/testenv/realnode/cluster.js";
import { eventually } from "../kit/kube.js";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..");
const NS = "brupop-bottlerocket-aws";
const OLD = "1.19.0";
const NEW = "1.20.0";
const SKIP = process.env["BRUPOP_SKIP_REALNODES"] === "1" ? "BRUPOP_SKIP_REALNODES=1" : false;

interface Shadow {
  status?: { current_version?: string; current_state?: string };
}

function installBlock(): string {
  const doc = readFileSync(join(ROOT, "docs", "install.md"), "utf8");
  const m = /### Without cert-manager[\s\S]*?```sh\n([\s\S]*?)```/.exec(doc);
  assert.ok(m?.[1] !== undefined, "docs/install.md lost its 'Without cert-manager' block");
  return m[1];
}

describe(
  "one real node: the update finishes although the drain cordons the only node",
  { skip: SKIP, timeout: 900_000 },
  () => {
    let cluster: RealNodeCluster;

    before(async () => {
      const { stdout } = await run("bash", [join(ROOT, "tools", "image", "build.sh")], {
        maxBuffer: 64 * 1024 * 1024,
      });
      cluster = await startRealNodeCluster({
        nodes: 1,
        images: [stdout.trim().split("\n").at(-1) ?? ""],
        nodeLabels: { "bottlerocket.aws/updater-interface-version": "2.0.0" },
      });
    });

    after(async () => {
      await cluster?.stop();
    });

    it("updates the single node, uncordons it, and never evicts brupop's apiserver", async () => {
      try {
        const node = cluster.nodes[0]?.name ?? "";
        await cluster.startHostApi(node, {
          args: [
            "--current-version",
            OLD,
            "--release",
            NEW,
            "--seed",
            "0",
            "--refresh-time",
            "100ms",
            "--prepare-time",
            "500ms",
            "--activate-time",
            "200ms",
            "--reboot-time",
            "3s",
          ],
        });
        const work = await mkdtemp(join(tmpdir(), "brupop-realnode-single-"));
        try {
          await symlink(join(ROOT, "deploy"), join(work, "deploy"));
          await run("bash", ["-euo", "pipefail", "-c", installBlock()], {
            cwd: work,
            env: {
              ...process.env,
              KUBECONFIG: cluster.kubeconfigPath,
              PATH: `${cluster.binDir}:${process.env["PATH"] ?? ""}`,
            },
            maxBuffer: 16 * 1024 * 1024,
          });
        } finally {
          await rm(work, { recursive: true, force: true });
        }

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

        const custom = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
        await eventually("the node on the new version, Idle, uncordoned", 600_000, async () => {
          const [list, nodes] = await Promise.all([
            custom.listNamespacedCustomObject({
              group: "brupop.bottlerocket.aws",
              version: "v2",
              namespace: NS,
              plural: "bottlerocketshadows",
            }) as Promise<{ items: Shadow[] }>,
            core.listNode(),
          ]);
          const s = list.items[0]?.status;
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
