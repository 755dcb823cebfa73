// brupop as shipped, on real nodes: the image from `npm run image`, both charts installed with
// helm as docs/install.md tells a user (its "Without cert-manager" block, run as written), two
// real nodes (containerd + kubelet) whose Bottlerocket host API is `brupop simulate-host` on the
// socket the agent DaemonSet mounts. A release is offered and the fleet rolls through real pods:
// drains evict real pods under a PDB, each reboot kills the node's containers like a power cycle,
// and every node ends on the new version, uncordoned, without the PDB ever violated.
// Then: the host is exactly as before (after stop(), and after a SIGKILL of a cluster's owner).
//
// Needs root, cgroup v1, overlayfs (see docs/testenv.md, "Real nodes"). Set BRUPOP_SKIP_REALNODES=1
// to skip on machines without them (never skipped silently).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { AppsV1Api, CoreV1Api, type V1Pod } from "@kubernetes/client-node";

import type { RealNodeCluster } from "../../kit/testenv/realnode/cluster.js";
import { listCgroups } from "../../kit/testenv/realnode/sandbox.js";
import { diffSnapshots, snapshotHost, type HostSnapshot } from "../../kit/testenv/realnode/snapshot.js";
import { eventually, sleep } from "../kit/kube.js";
import {
  applyWebWorkload,
  BRUPOP_NAMESPACE,
  HOST_SNAPSHOT_OPTIONS,
  listShadows,
  NEW,
  REALNODES_SKIP as SKIP,
  run,
  runInstallBlock,
  startSimulatedHosts,
  startBrupopRealNodes,
} from "../kit/realnode.js";

const NS = BRUPOP_NAMESPACE;
const snapshotOpts = HOST_SNAPSHOT_OPTIONS;

describe(
  "real nodes: install with helm and roll a release through real pods",
  { skip: SKIP, timeout: 1_500_000 },
  () => {
    let cluster: RealNodeCluster;
    let before0: HostSnapshot;
    let core: CoreV1Api;
    const pdbViolations: string[] = [];
    let watching = true;

    const withLogs = (fn: () => Promise<void>) => async (): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        process.stderr.write(await cluster.dumpLogs(40).catch(() => ""));
        throw err;
      }
    };

    before(async () => {
      before0 = await snapshotHost(snapshotOpts);
      cluster = await startBrupopRealNodes(2);
      core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    });

    after(async () => {
      watching = false;
      await cluster?.stop();
    });

    it(
      "installs both charts as docs/install.md says and updates every node through real pods",
      withLogs(async () => {
        await startSimulatedHosts(cluster, { logLevel: "info" });

        // A workload under a PDB that the drains must respect.
        await applyWebWorkload(cluster);
        // docs/install.md, "Without cert-manager", as written (kubectl, helm, openssl on PATH).
        await runInstallBlock(cluster);

        const apps = cluster.kubeConfig.makeApiClient(AppsV1Api);
        await eventually(
          "brupop's apiserver and controller available, agents on both nodes",
          300_000,
          async () => {
            const [api, ctl, agent, web] = await Promise.all([
              apps.readNamespacedDeployment({ name: "brupop-apiserver", namespace: NS }),
              apps.readNamespacedDeployment({ name: "brupop-controller-deployment", namespace: NS }),
              apps.readNamespacedDaemonSet({ name: "brupop-agent", namespace: NS }),
              apps.readNamespacedDeployment({ name: "web", namespace: "default" }),
            ]);
            return (
              (api.status?.availableReplicas ?? 0) >= 1 &&
              (ctl.status?.availableReplicas ?? 0) === 1 &&
              (agent.status?.numberReady ?? 0) === 2 &&
              (web.status?.availableReplicas ?? 0) === 2
            );
          },
        );

        // The PDB must hold all along: at least one Ready web pod at every look.
        const watcher = (async () => {
          while (watching) {
            const pods = await core
              .listNamespacedPod({ namespace: "default", labelSelector: "app=web" })
              .catch(() => undefined);
            if (pods !== undefined) {
              const ready = pods.items.filter(isReady).length;
              if (ready < 1)
                pdbViolations.push(`${new Date().toISOString()}: ${String(ready)} ready web pods`);
            }
            await sleep(250);
          }
        })();

        await eventually("every node on the new version, Idle, uncordoned", 900_000, async () => {
          const [list, nodes] = await Promise.all([listShadows(cluster), core.listNode()]);
          const done = list.filter(
            (s) => s.status?.current_version === NEW && s.status.current_state === "Idle",
          );
          return done.length === 2 && nodes.items.every((n) => n.spec?.unschedulable !== true);
        });
        watching = false;
        await watcher;

        assert.deepEqual(cluster.rebootErrors(), []);
        for (const n of cluster.nodes) assert.equal(cluster.reboots(n.name), 1, `${n.name} rebooted once`);
        // The reboot was real to Kubernetes: the agent's container died and was started again.
        const agents = await core.listNamespacedPod({
          namespace: NS,
          labelSelector: "brupop.bottlerocket.aws/component=agent",
        });
        assert.equal(agents.items.length, 2);
        for (const p of agents.items) {
          assert.ok(
            (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1,
            `${p.metadata?.name ?? "?"} restarted`,
          );
          assert.ok(isReady(p));
        }
        assert.deepEqual(pdbViolations, []);

        // Footprint as shipped: each brupop pod's working set (what kubelet and `kubectl top` use).
        const usage = (await cluster.podUsage()).filter((u) => u.namespace === NS);
        assert.equal(usage.length, 6, "3 apiservers, 1 controller, 2 agents");
        for (const u of usage) {
          const mib = u.workingSetBytes / 2 ** 20;
          process.stderr.write(
            `footprint ${u.name}: working set ${mib.toFixed(1)} MiB, cpu ${u.cpuSeconds.toFixed(2)} s\n`,
          );
          assert.ok(mib > 10 && mib < 384, `${u.name}: ${mib.toFixed(1)} MiB`);
        }
      }),
    );

    it("leaves the host as it found it after stop()", async () => {
      const cgroupName = cluster.nodes[0]?.cgroupRoot.split("/")[1] ?? "";
      await cluster.stop();
      assert.deepEqual(await listCgroups(cgroupName), []);
      assert.deepEqual(diffSnapshots(before0, await snapshotHost(snapshotOpts)), []);
    });

    it("leaves the host as it found it after its owner is SIGKILLed (the reaper undoes the journal)", async () => {
      const start = await snapshotHost(snapshotOpts);
      const child = spawn(
        process.execPath,
        ["--import", "tsx", join(import.meta.dirname, "..", "kit", "realnode-child.ts")],
        {
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      const dir = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (b: Buffer) => {
          out += b.toString();
          const m = /READY (\S+)/.exec(out);
          if (m?.[1] !== undefined) resolve(m[1]);
        });
        child.once("exit", (code) => reject(new Error(`child exited early with ${String(code)}`)));
      });
      const running = await snapshotHost(snapshotOpts);
      assert.ok(
        diffSnapshots(start, running).some((d) => d.startsWith("cgroups: +")),
        "the cluster made its cgroups",
      );
      child.kill("SIGKILL");
      await eventually(
        "the reaper restored the host",
        60_000,
        async () =>
          diffSnapshots(start, await snapshotHost(snapshotOpts)).length === 0 && !(await exists(dir)),
        1_000,
      );
    });
  },
);

function isReady(p: V1Pod): boolean {
  return (
    p.metadata?.deletionTimestamp === undefined &&
    (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await run("test", ["-e", path]);
    return true;
  } catch {
    return false;
  }
}
