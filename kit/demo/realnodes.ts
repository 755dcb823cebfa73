// `brupop demo --real-nodes`: the same rollout on real pods. A control plane plus 1–3 real nodes
// (containerd + kubelet + kube-proxy + CoreDNS in a network namespace of their own, see
// docs/testenv.md "Real nodes"), the project's image and both charts pushed to an OCI registry
// (kit/testenv/registry.ts) and installed from it as docs/install.md says (the nodes pull the
// image by reference), each node's Bottlerocket host API served by `brupop simulate-host` on the
// socket the agent DaemonSet mounts (its reboots are real to Kubernetes: the node's containers die and restart),
// a workload under a PodDisruptionBudget, and the live view of `brupop demo`.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BrupopError } from "../../src/errors.js";
import { parseSchedule } from "../../src/controller/decide/schedule.js";
import { startRealNodeCluster, type RealNodeCluster } from "../testenv/realnode/cluster.js";
import { BRUPOP_NAMESPACE, buildImage, installBrupop, setBrupopValues } from "../testenv/realnode/install.js";
import { requireRealNodeBinaries } from "../testenv/realnode/paths.js";
import { imagePulls } from "../testenv/registry.js";
import { checkRealNodeDemo, FROM_VERSION, TO_VERSION } from "./plan.js";
import { demoTitle, hostDurations, watchRollout, type DemoOptions, type RolloutSource } from "./run.js";
import { scheduleNotice } from "./view.js";
import { RawKubeRest } from "../testenv/raw-rest.js";

const WORKLOAD_NAMESPACE = "default";
const PAUSE_IMAGE = "registry.k8s.io/pause:brupop-testenv";

/** `brupop simulate-host` flags for a demo node. */
export function hostApiArgs(speed: boolean, failPrepare: boolean): string[] {
  const d = hostDurations(speed);
  const ms = (n: number) => `${n}ms`;
  return [
    ...["--current-version", FROM_VERSION, "--release", TO_VERSION, "--seed", "0"],
    ...["--refresh-time", ms(d.refresh), "--prepare-time", ms(d.prepare)],
    ...["--activate-time", ms(d.activate), "--deactivate-time", ms(d.deactivate)],
    // A real node needs a few seconds to come back whatever the host says.
    ...["--reboot-time", ms(Math.max(d.reboot, 2_000))],
    ...(failPrepare ? ["--fail", "prepare:1"] : []),
    ...["--log-level", "info"],
  ];
}

/** The demo workload: one pause pod per node under a PDB (the image every real node has). */
export function workloadManifest(replicas: number, maxUnavailable: number): unknown {
  const labels = { app: "demo-web" };
  return {
    apiVersion: "v1",
    kind: "List",
    items: [
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "demo-web", namespace: WORKLOAD_NAMESPACE },
        spec: {
          replicas,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              terminationGracePeriodSeconds: 1,
              containers: [
                {
                  name: "web",
                  image: PAUSE_IMAGE,
                  imagePullPolicy: "Never",
                  resources: { limits: { memory: "16Mi" } },
                },
              ],
              topologySpreadConstraints: [
                {
                  maxSkew: 1,
                  topologyKey: "kubernetes.io/hostname",
                  whenUnsatisfiable: "ScheduleAnyway",
                  labelSelector: { matchLabels: labels },
                },
              ],
            },
          },
        },
      },
      {
        apiVersion: "policy/v1",
        kind: "PodDisruptionBudget",
        metadata: { name: "demo-web", namespace: WORKLOAD_NAMESPACE },
        spec: { maxUnavailable, selector: { matchLabels: labels } },
      },
    ],
  };
}

interface Rollout {
  status?: { availableReplicas?: number; numberReady?: number };
}

/** Waits until brupop's deployments and agents (one per node) are available. */
async function waitForBrupop(rest: RawKubeRest, nodes: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + 300_000;
  const get = async (path: string) => {
    const res = await rest.request<Rollout>("GET", path);
    return res.status === 200 ? res.body.status : undefined;
  };
  const apps = `/apis/apps/v1/namespaces/${BRUPOP_NAMESPACE}`;
  while (!signal.aborted) {
    const [api, ctl, agents] = await Promise.all([
      get(`${apps}/deployments/brupop-apiserver`),
      get(`${apps}/deployments/brupop-controller-deployment`),
      get(`${apps}/daemonsets/brupop-agent`),
    ]);
    if (
      (api?.availableReplicas ?? 0) >= 1 &&
      (ctl?.availableReplicas ?? 0) >= 1 &&
      (agents?.numberReady ?? 0) >= nodes
    ) {
      return;
    }
    if (Date.now() > deadline) {
      throw new BrupopError("BRUPOP_E_TIMEOUT", "brupop's pods did not become ready within 5 minutes");
    }
    await sleep(1_000, undefined, { signal }).catch(() => undefined);
  }
}

export async function runRealNodeDemo(opts: DemoOptions): Promise<number> {
  checkRealNodeDemo(opts.nodes, process.getuid?.());
  requireRealNodeBinaries();
  const say = (line: string) => opts.out.write(`${line}\n`);
  const now = new Date();
  const schedule = parseSchedule(opts.cron, now, "--cron");
  const title = demoTitle(opts, schedule.kind, "real ");
  const notice = scheduleNotice(schedule.msUntilOpen(now), opts.timeoutMs, opts.cron, now);
  if (notice !== undefined) say(notice);
  say("building the image (npm run image; cached after the first time)…");
  await buildImage();
  say(
    `starting a control plane, an OCI registry and ${opts.nodes} real node(s) (containerd, kubelet, kube-proxy, CoreDNS)…`,
  );
  let cluster: RealNodeCluster | undefined;
  try {
    cluster = await startRealNodeCluster({
      nodes: opts.nodes,
      registry: true, // brupop's image and charts are pushed there; the nodes pull them by reference
      nodeLabels: { "bottlerocket.aws/updater-interface-version": "2.0.0" },
    });
    const names = cluster.nodes.map((n) => n.name);
    if (opts.failHost !== undefined && !names.includes(opts.failHost)) {
      throw new BrupopError(
        "BRUPOP_E_CONFIG",
        `--fail-host: no node "${opts.failHost}" (nodes: ${names.join(", ")})`,
      );
    }
    for (const name of names) {
      await cluster.startHostApi(name, { args: hostApiArgs(opts.speed, name === opts.failHost) });
    }
    say("a workload under a PodDisruptionBudget, then both charts as docs/install.md says…");
    const rest = new RawKubeRest(cluster.kubeConfig);
    const manifest = join(cluster.dir, "demo-workload.json");
    await writeFile(manifest, JSON.stringify(workloadManifest(names.length, opts.pdbMaxUnavailable)));
    await cluster.kubectl(["apply", "-f", manifest]);
    // Paused (MAX_CONCURRENT_UPDATE=0, upstream's switch) until every agent runs: the hosts offer
    // the release at once, and a node must not start before the view does.
    await installBrupop(cluster, { max_concurrent_updates: "0", scheduler_cron_expression: opts.cron });
    say("waiting for brupop's pods (apiserver, controller, one agent per node)…");
    await waitForBrupop(rest, names.length, opts.signal);
    for (const p of await imagePulls(cluster)) say(`  ${p.pod}: ${p.message}`);
    say(`releasing the pause: max_concurrent_updates=${String(opts.maxConcurrent)}`);
    await setBrupopValues(cluster, { max_concurrent_updates: String(opts.maxConcurrent) });
    const source: RolloutSource = {
      rest,
      namespace: BRUPOP_NAMESPACE,
      server: cluster.server,
      kubeconfigPath: cluster.kubeconfigPath,
      // The hosts are other processes; their failures show in the shadows' states.
      lastCommand: () => null,
    };
    return await watchRollout(opts, source, title, names, notice);
  } finally {
    if (!opts.signal.aborted) say("stopping the real nodes and the control plane (restoring the host)…");
    await cluster?.stop();
  }
}
