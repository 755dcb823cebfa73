// What the real-node e2e files share (test/e2e/realnodes.test.ts, realnode-single.test.ts,
// chaos-realnodes.test.ts): the skip switch, the image build, the simulated host's arguments,
// docs/install.md's "Without cert-manager" block run as a user would paste it, and the workload the
// drains must respect.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import { CustomObjectsApi } from "@kubernetes/client-node";

import { UPDATER_INTERFACE_LABEL, UPDATER_INTERFACE_VERSION } from "../../src/model/constants.js";
import { startRealNodeCluster, type RealNodeCluster } from "../../kit/testenv/realnode/cluster.js";
import { installBrupop } from "../../kit/testenv/realnode/install.js";
import { imageCacheRoot } from "../../kit/testenv/realnode/paths.js";
import type { ShadowObject } from "../../kit/testbed/testbed.js";

export const run = promisify(execFile);
export const ROOT = join(import.meta.dirname, "..", "..");

/** The skip reason when BRUPOP_SKIP_REALNODES=1 (never skipped silently), else false. */
export const REALNODES_SKIP =
  process.env["BRUPOP_SKIP_REALNODES"] === "1" ? "BRUPOP_SKIP_REALNODES=1" : false;

/** The namespace the charts install brupop in. */
export const BRUPOP_NAMESPACE = "brupop-bottlerocket-aws";
/** The version the simulated hosts start on, and the release they are offered. */
export const OLD = "1.19.0";
export const NEW = "1.20.0";

/**
 * What a host snapshot leaves out: other jobs on this machine come and go meanwhile (buildah's
 * storage mounts under the image cache, the machine's session cgroups, bench/footprint.ts's
 * `brupop-footprint` and `brupop-start-<pid>` cgroups); everything else must be exactly as before.
 */
export const HOST_SNAPSHOT_OPTIONS = {
  ignoreMounts: [`${imageCacheRoot()}/`],
  ignoreCgroups: ["process_api", "brupop-footprint", "brupop-start"],
};

/** `nodes` real nodes labelled for brupop, with the registry brupop's image and charts are pulled from. */
export function startBrupopRealNodes(nodes: number): Promise<RealNodeCluster> {
  return startRealNodeCluster({
    nodes,
    registry: true,
    nodeLabels: { [UPDATER_INTERFACE_LABEL]: UPDATER_INTERFACE_VERSION },
  });
}

/** Builds (or reuses) brupop's image with tools/image/build.sh; returns its archive path. */
export { buildImage } from "../../kit/testenv/realnode/install.js";

/**
 * A `brupop simulate-host` on every node of `cluster`, on OLD and offering NEW, with short host
 * command times; `logLevel` its log level, `onLine` each of its log lines.
 */
export async function startSimulatedHosts(
  cluster: RealNodeCluster,
  o: { logLevel?: string; onLine?: (node: string, line: string) => void } = {},
): Promise<void> {
  const extra = o.logLevel === undefined ? [] : ["--log-level", o.logLevel];
  for (const n of cluster.nodes) {
    const onLine = o.onLine;
    await cluster.startHostApi(n.name, {
      args: simulatedHostArgs(OLD, NEW, extra),
      ...(onLine !== undefined && { onLine: (line: string) => onLine(n.name, line) }),
    });
  }
}

/** `brupop simulate-host` arguments: on `from`, offering `to`, with short host command times. */
function simulatedHostArgs(from: string, to: string, extra: readonly string[] = []): string[] {
  return [
    "--current-version",
    from,
    "--release",
    to,
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
    ...extra,
  ];
}

/** Runs docs/install.md's "Without cert-manager" block against `cluster`, as a user would paste it. */
export function runInstallBlock(cluster: RealNodeCluster): Promise<void> {
  return installBrupop(cluster);
}

/** The label of the web workload's pods (`app=web`). */
export const WEB_LABELS = { app: "web" } as const;

/**
 * The workload the real-node rolls drain, in `default`: Deployment `web`, two pause pods (the image is
 * on every node already), under PodDisruptionBudget `web` minAvailable 1.
 */
export function webWorkload(): object[] {
  return [
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "default" },
      spec: {
        replicas: 2,
        selector: { matchLabels: WEB_LABELS },
        template: {
          metadata: { labels: WEB_LABELS },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: "web",
                image: "registry.k8s.io/pause:brupop-testenv",
                imagePullPolicy: "Never",
                resources: { limits: { memory: "16Mi" } },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name: "web", namespace: "default" },
      spec: { minAvailable: 1, selector: { matchLabels: WEB_LABELS } },
    },
  ];
}

/** Applies webWorkload() with the cluster's kubectl (it does not wait for the pods). */
export async function applyWebWorkload(cluster: RealNodeCluster): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "brupop-web-"));
  try {
    const file = join(dir, "web.json");
    await writeFile(file, JSON.stringify({ apiVersion: "v1", kind: "List", items: webWorkload() }));
    await cluster.kubectl(["apply", "-f", file]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The BottlerocketShadows (v2) in brupop's namespace. */
export async function listShadows(cluster: RealNodeCluster): Promise<ShadowObject[]> {
  const custom = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
  const list = (await custom.listNamespacedCustomObject({
    group: "brupop.bottlerocket.aws",
    version: "v2",
    namespace: BRUPOP_NAMESPACE,
    plural: "bottlerocketshadows",
  })) as { items: ShadowObject[] };
  return list.items;
}

/** The kubelets' pulls of images from the cluster's registry (kit/testenv/registry.ts). */
export { imagePulls, type ImagePull } from "../../kit/testenv/registry.js";
