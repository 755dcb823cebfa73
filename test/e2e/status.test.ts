// `brupop status` / `kubectl brupop` against a real control plane (etcd, kube-apiserver,
// controller-manager for PDB status, kwok for nodes and pods). The test writes the fleet the way
// the agents and the controller would (shadows, statuses through the status subresource, the
// controller's state ConfigMap, a cordoned node with a PDB-protected pod), then runs the real CLI as
// a child process and checks that each node gets the right WHY. One cluster for the whole file;
// every scenario has its own namespace.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse as parseYaml } from "yaml";

import { BLOCKERS_CONFIGMAP } from "../../src/controller/act/blockers-publish.js";
import { Controller } from "../../src/controller/run/controller.js";
import { inProcessSettings } from "../../src/controller/run/settings.js";
import { roundStateToData } from "../../src/controller/decide/gate.js";
import {
  DEFAULT_STATE_CONFIGMAP,
  settingsToData,
  type PublishedSettings,
} from "../../src/controller/act/round-store.js";
import { parseSchedule } from "../../src/controller/decide/schedule.js";
import { silentLogger } from "../../src/log.js";
import {
  API_GROUP,
  API_VERSION_V2,
  KIND,
  PLURAL,
  UPDATER_INTERFACE_LABEL,
  UPDATER_INTERFACE_VERSION,
} from "../../src/model/constants.js";
import { buildCrd } from "../../src/model/crd.js";
import type { ShadowSpec, ShadowStatus } from "../../src/model/shadow.js";
import type { FleetStatus, NodeRow } from "../../src/status/model.js";
import { freePorts, type TestCluster } from "../../kit/testenv/cluster.js";
import { renderKubeconfig } from "../../kit/testenv/kubeconfig.js";
import { issueCert } from "../../kit/testenv/pki.js";
import { bindKube, createWithStatus, crdEstablished, eventually, exactly, kube } from "../kit/kube.js";
import { shadowStatus } from "../kit/fixtures.js";
import { REPO, runCli, statusJsonNodeArgs, type CliResult } from "../kit/cli.js";
import { E2eCluster } from "../kit/e2e.js";
import type { RawKubeRest } from "../../kit/testenv/raw-rest.js";

const FROM = "1.19.0";
const TO = "1.20.0";
const HOUR_MS = 3_600_000;

const brupop = (args: readonly string[]) => runCli("src/cli/main.ts", ["status", ...args]);

function json(res: CliResult): FleetStatus {
  assert.equal(res.code, 0, `exit ${String(res.code)}; stderr: ${res.stderr}`);
  return JSON.parse(res.stdout) as FleetStatus;
}

function row(status: FleetStatus, node: string): NodeRow {
  const r = status.nodes.find((n) => n.node === node);
  assert.ok(r, `no row for ${node} in ${status.nodes.map((n) => n.node).join(", ")}`);
  return r;
}

/** The WHY cell of a node in the table output (the last column). */
function why(table: string, node: string): string {
  const lines = table.split("\n");
  const header = lines[0] ?? "";
  const at = header.indexOf("WHY");
  assert.ok(at > 0, `no WHY column in ${header}`);
  const line = lines.find((l) => l.startsWith(`${node} `));
  assert.ok(line, `no line for ${node} in\n${table}`);
  return line.slice(at);
}

/** Next time (after now) the UTC hour is `hour`, at :00:00. */
function nextHourStart(hour: number, now: Date): Date {
  const d = new Date(now);
  d.setUTCHours(hour, 0, 0, 0);
  if (d.getTime() <= now.getTime()) d.setTime(d.getTime() + 24 * HOUR_MS);
  return d;
}

const shadowsPath = (ns: string) => `/apis/${API_GROUP}/v2/namespaces/${ns}/${PLURAL}`;
const status = shadowStatus;
const agoIso = (ms: number) => new Date(Date.now() - ms).toISOString();

describe("brupop status (real control plane, real CLI)", { timeout: 600_000 }, () => {
  const e2e = new E2eCluster({ cluster: { scheduler: false } });
  let cluster: TestCluster;
  let rest: RawKubeRest;
  let kubeconfig: string;
  let noCrd: CliResult;
  let scratch: string;
  /** Nodes by role. */
  const n: Record<string, string> = {};
  const windowHour = (new Date().getUTCHours() + 12) % 24;

  async function namespace(name: string): Promise<void> {
    await kube(rest, "POST", "/api/v1/namespaces", { metadata: { name } });
  }

  /** A shadow as the agent creates it, then its status through the status subresource. */
  async function brs(
    ns: string,
    node: string,
    spec: Partial<ShadowSpec>,
    st: ShadowStatus | null,
  ): Promise<void> {
    await createWithStatus(
      bindKube(rest),
      shadowsPath(ns),
      {
        apiVersion: API_VERSION_V2,
        kind: KIND,
        metadata: { name: `brs-${node}` },
        spec: { state: "Idle", state_transition_timestamp: null, version: null, ...spec },
      },
      st ?? undefined,
    );
  }

  /** The state ConfigMap exactly as the controller writes it (same encoding functions). */
  async function controllerState(ns: string, data: Record<string, string>): Promise<void> {
    await kube(rest, "POST", `/api/v1/namespaces/${ns}/configmaps`, {
      metadata: { name: DEFAULT_STATE_CONFIGMAP },
      data,
    });
  }

  const settings = (over: Partial<PublishedSettings>): Record<string, string> =>
    settingsToData({
      maxConcurrent: 3,
      schedule: "* * * * * * *",
      controllerNode: null,
      leader: "brupop-controller-e2e",
      leaderSince: agoIso(HOUR_MS),
      ...over,
    });

  async function installCrd(): Promise<void> {
    const crd = buildCrd() as { metadata: { name: string }; spec: Record<string, unknown> };
    crd.spec["conversion"] = { strategy: "None" }; // no conversion webhook runs here
    await kube(rest, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
    await crdEstablished(bindKube(rest), crd.metadata.name, 20_000);
  }

  /** st-main: one node per reason, limit 3, schedule always open. */
  async function mainFleet(): Promise<void> {
    const ns = "st-main";
    await namespace(ns);
    const names = await cluster.addNodes(9, {
      namePrefix: "m-",
      labels: { [UPDATER_INTERFACE_LABEL]: UPDATER_INTERFACE_VERSION },
    });
    const [updating, silent, pdb, full, backoff, upToDate, notReady, noShadow, noStatus] = exactly(names, 9);
    Object.assign(n, { updating, silent, pdb, full, backoff, upToDate, notReady, noShadow, noStatus });
    const now = new Date().toISOString();
    await Promise.all([
      brs(
        ns,
        updating,
        { state: "StagedAndPerformedUpdate", state_transition_timestamp: now, version: TO },
        status(),
      ),
      brs(
        ns,
        silent,
        { state: "StagedAndPerformedUpdate", state_transition_timestamp: agoIso(30 * 60_000), version: TO },
        status(),
      ),
      brs(
        ns,
        pdb,
        { state: "RebootedIntoUpdate", state_transition_timestamp: now, version: TO },
        status({ current_state: "StagedAndPerformedUpdate" }),
      ),
      brs(ns, full, {}, status()),
      brs(ns, backoff, {}, status({ crash_count: 3, state_transition_failure_timestamp: now })),
      brs(ns, upToDate, {}, status({ current_version: TO })),
      brs(ns, notReady, {}, status({ current_version: TO })),
      brs(ns, noStatus, {}, null),
      controllerState(ns, settings({ controllerNode: upToDate })),
      cluster.setNodeReady(notReady, false),
      drainBlockedByPdb(pdb),
    ]);
  }

  /** The node is cordoned (the agent's drain started) and holds a pod whose PDB allows no disruption. */
  async function drainBlockedByPdb(node: string): Promise<void> {
    const ns = "st-web";
    await namespace(ns);
    await kube(rest, "POST", `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`, {
      metadata: { name: "web-pdb" },
      spec: { minAvailable: 1, selector: { matchLabels: { app: "web" } } },
    });
    // The namespace's default ServiceAccount appears shortly after the namespace (admission needs it).
    await eventually("pod web-0 created", 20_000, async () => {
      await kube(rest, "POST", `/api/v1/namespaces/${ns}/pods`, {
        metadata: { name: "web-0", labels: { app: "web" } },
        spec: { nodeName: node, containers: [{ name: "web", image: "registry.invalid/web:1" }] },
      });
      return true;
    });
    await kube(
      rest,
      "PATCH",
      `/api/v1/nodes/${node}`,
      { spec: { unschedulable: true } },
      {
        contentType: "application/merge-patch+json",
      },
    );
    await eventually("PDB status computed", 30_000, async () => {
      const got = await kube<{
        metadata: { generation: number };
        status?: { observedGeneration?: number; disruptionsAllowed?: number };
      }>(rest, "GET", `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/web-pdb`);
      return (
        got.status?.observedGeneration === got.metadata.generation && got.status.disruptionsAllowed === 0
      );
    });
  }

  /** Window, trigger and no-settings namespaces share one unlabelled node (shadows are per namespace). */
  async function scheduleFleets(): Promise<void> {
    const [x] = (await cluster.addNodes(1, { namePrefix: "x-" })) as [string];
    n["x"] = x;
    const now = new Date();
    const next = nextHourStart(windowHour, now);
    await Promise.all(
      ["st-window", "st-trigger", "st-nocm", "st-watch"].map(async (ns) => {
        await namespace(ns);
        await brs(ns, x, {}, status());
      }),
    );
    await controllerState("st-window", settings({ schedule: `* * ${windowHour} * * * *` }));
    const trigger = `0 0 ${windowHour} * * * *`;
    const lastFire = new Date(next.getTime() - 24 * HOUR_MS).toISOString();
    await controllerState("st-trigger", {
      ...roundStateToData({ lastFire, open: false }, trigger),
      ...settings({ schedule: trigger }),
    });
  }

  before(async () => {
    const t0 = performance.now();
    cluster = await e2e.start();
    rest = e2e.rest;
    kubeconfig = cluster.kubeconfigPath;
    scratch = await mkdtemp(join(tmpdir(), "brupop-status-e2e-"));
    noCrd = await brupop(["--kubeconfig", kubeconfig, "-n", "st-main"]);
    await installCrd();
    await Promise.all([mainFleet(), scheduleFleets()]);
    process.stderr.write(
      `status e2e: cluster + fleet ready in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
    );
  });

  after(async () => {
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
    await e2e.stop();
  });

  it("a cluster without the CRD: one clear line, exit 1", () => {
    assert.equal(noCrd.code, 1);
    assert.equal(noCrd.stdout, "");
    assert.equal(
      noCrd.stderr,
      `error: the BottlerocketShadow CRD (bottlerocketshadows.brupop.bottlerocket.aws, version v2) is not installed in the cluster at ${cluster.server}; is brupop installed?\n`,
    );
  });

  it("table: each node's WHY, aligned like kubectl, with a summary line", async () => {
    const res = await brupop(["--kubeconfig", kubeconfig, "-n", "st-main"]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stderr, "");
    const table = res.stdout;
    if (process.env["BRUPOP_E2E_SHOW"] === "1") process.stderr.write(table);
    assert.match(table.split("\n")[0] ?? "", /^NODE {2,}STATE {2,}VERSION {2,}CRASHES {2,}CORDONED {2,}WHY$/);
    assert.match(why(table, n["updating"] ?? ""), /^updating to 1\.20\.0: Idle -> StagedAndPerformedUpdate$/);
    assert.match(
      why(table, n["silent"] ?? ""),
      /^agent silent: asked for StagedAndPerformedUpdate 30m ago, allowance 12m; still Idle$/,
    );
    assert.match(
      why(table, n["pdb"] ?? ""),
      /^drain blocked by PodDisruptionBudget st-web\/web-pdb \(0 disruptions allowed; pod st-web\/web-0\)$/,
    );
    assert.equal(why(table, n["full"] ?? ""), "concurrency full (3 of 3 updating)");
    assert.match(
      why(table, n["backoff"] ?? ""),
      /^back-off until \S+Z \(in [89]m\) after 3 failed attempts$/,
    );
    assert.equal(why(table, n["upToDate"] ?? ""), "up to date");
    assert.match(why(table, n["notReady"] ?? ""), /^agent silent: node NotReady since \S+Z \(\d+[sm] ago\)$/);
    assert.match(why(table, n["noShadow"] ?? ""), /^no BottlerocketShadow yet/);
    assert.equal(why(table, n["noStatus"] ?? ""), "waiting for the agent's first status report");
    // Cordoned column for the draining node; state and version columns for an updating one.
    assert.match(
      table,
      new RegExp(
        `^${n["pdb"]} +StagedAndPerformedUpdate -> RebootedIntoUpdate +1\\.19\\.0 -> 1\\.20\\.0 +0 +yes `,
        "m",
      ),
    );
    assert.match(table, new RegExp(`^${n["backoff"]} +Idle +1\\.19\\.0 -> 1\\.20\\.0 +3 +no `, "m"));
    // Other namespaces' unlabelled node x is not listed here.
    assert.doesNotMatch(table, new RegExp(`^${n["x"]} `, "m"));
    const summary = table.trimEnd().split("\n").at(-1) ?? "";
    assert.equal(
      summary,
      '9 nodes: 2 up to date, 3 updating, 3 waiting, 1 failed, 3 need attention; schedule: window "* * * * * * *" open; limit 3 (3 active)',
    );
  });

  it("-o json: the versioned shape, with every reason's facts", async () => {
    const s = json(await brupop(["--kubeconfig", kubeconfig, "-n", "st-main", "-o", "json"]));
    assert.equal(s.apiVersion, "brupop.bottlerocket.aws/status-v1");
    assert.equal(s.kind, "FleetStatus");
    assert.equal(s.namespace, "st-main");
    assert.equal(s.controller.settingsKnown, true);
    assert.equal(s.controller.leader, "brupop-controller-e2e");
    assert.equal(s.controller.node, n["upToDate"]);
    assert.equal(s.controller.maxConcurrent, 3);
    assert.equal(s.controller.schedule.updatesAllowed, true);
    assert.equal(row(s, n["updating"] ?? "").reason.kind, "updating");
    assert.deepEqual(row(s, n["pdb"] ?? "").reason, {
      kind: "pdb-blocking",
      pdbs: [{ namespace: "st-web", name: "web-pdb" }],
      pods: [{ namespace: "st-web", name: "web-0" }],
    });
    assert.equal(row(s, n["pdb"] ?? "").cordoned, true);
    assert.deepEqual(row(s, n["full"] ?? "").reason, { kind: "concurrency-full", active: 3, limit: 3 });
    const backoff = row(s, n["backoff"] ?? "").reason;
    assert.equal(backoff.kind, "backoff");
    if (backoff.kind === "backoff") {
      const left = Date.parse(backoff.until) - Date.now();
      assert.ok(left > 7 * 60_000 && left <= 9 * 60_000, `back-off ends in ${left} ms`);
    }
    const silent = row(s, n["silent"] ?? "").reason;
    assert.equal(silent.kind === "agent-silent" && silent.cause, "timeout");
    const down = row(s, n["notReady"] ?? "");
    assert.equal(down.reason.kind === "agent-silent" && down.reason.cause, "node-not-ready");
    assert.equal(down.ready, false);
    assert.equal(row(s, n["upToDate"] ?? "").reason.kind, "up-to-date");
    assert.equal(row(s, n["noShadow"] ?? "").reason.kind, "no-shadow");
    assert.equal(row(s, n["noStatus"] ?? "").reason.kind, "no-status");
    assert.deepEqual(s.summary, {
      nodes: 9,
      upToDate: 2,
      updating: 3,
      waiting: 3,
      // m-5, in its back-off after failed attempts (issue 25: a failed node is not "waiting").
      failed: 1,
      needAttention: 3,
      active: 3,
      limit: 3,
    });
  });

  it("-o yaml parses to the same document", async () => {
    const [y, j] = await Promise.all([
      brupop(["--kubeconfig", kubeconfig, "-n", "st-main", "-o", "yaml"]),
      brupop(["--kubeconfig", kubeconfig, "-n", "st-main", "-o", "json"]),
    ]);
    assert.equal(y.code, 0, y.stderr);
    const fromYaml = parseYaml(y.stdout) as FleetStatus;
    const fromJson = json(j);
    const strip = (s: FleetStatus) => ({
      ...s,
      generatedAt: "",
      nodes: s.nodes.map((r) => ({ ...r, message: r.message.replace(/\(.*?\)/g, "") })),
    });
    assert.deepEqual(strip(fromYaml), strip(fromJson));
  });

  it("window closed until T", async () => {
    const next = nextHourStart(windowHour, new Date());
    const s = json(await brupop(["--kubeconfig", kubeconfig, "-n", "st-window", "-o", "json"]));
    assert.deepEqual(row(s, n["x"] ?? "").reason, {
      kind: "schedule-closed",
      schedule: "window",
      until: next.toISOString(),
    });
    assert.equal(s.controller.schedule.updatesAllowed, false);
    const table = await brupop(["--kubeconfig", kubeconfig, "-n", "st-window"]);
    const at = next.toISOString().replace(".000Z", "Z");
    assert.match(
      why(table.stdout, n["x"] ?? ""),
      new RegExp(`^window closed until ${at} \\(in \\d+h(\\d+m)?\\)$`),
    );
  });

  it("waiting for the next trigger round at T", async () => {
    const next = nextHourStart(windowHour, new Date());
    const s = json(await brupop(["--kubeconfig", kubeconfig, "-n", "st-trigger", "-o", "json"]));
    assert.deepEqual(row(s, n["x"] ?? "").reason, {
      kind: "schedule-closed",
      schedule: "trigger",
      until: next.toISOString(),
    });
    assert.deepEqual(s.controller.schedule.round, {
      lastFire: new Date(next.getTime() - 24 * HOUR_MS).toISOString(),
      open: false,
    });
    const table = await brupop(["--kubeconfig", kubeconfig, "-n", "st-trigger"]);
    const at = next.toISOString().replace(".000Z", "Z");
    assert.match(
      why(table.stdout, n["x"] ?? ""),
      new RegExp(`^waiting for the next trigger round at ${at} `),
    );
  });

  it("no controller settings: says so and uses the defaults", async () => {
    const res = await brupop(["--kubeconfig", kubeconfig, "-n", "st-nocm"]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stdout,
      /\ncontroller settings unknown \(controller not running\?\); assuming the defaults shown\n$/,
    );
    assert.match(res.stdout, /limit 1 \(0 active\)/);
    assert.equal(why(res.stdout, n["x"] ?? ""), "starts updating to 1.20.0 at the controller's next tick");
  });

  it("kubectl brupop: the plugin through kubectl's own discovery, flags passed through", async () => {
    const plugin = join(scratch, "kubectl-brupop");
    await writeFile(
      plugin,
      `#!/bin/sh\ncd '${REPO}' && exec '${process.execPath}' --import tsx '${join(REPO, "src/cli/kubectl-brupop.ts")}' "$@"\n`,
    );
    await chmod(plugin, 0o755);
    const kubectl = join(cluster.binDir, "kubectl");
    const env = { ...process.env, PATH: `${scratch}:${process.env["PATH"] ?? ""}` };
    const run = (args: string[]) =>
      new Promise<CliResult>((done) =>
        execFile(kubectl, args, { env, timeout: 60_000 }, (err, stdout, stderr) =>
          done({ code: err === null ? 0 : typeof err.code === "number" ? err.code : null, stdout, stderr }),
        ),
      );
    const plain = await run(["brupop", "--kubeconfig", kubeconfig, "-n", "st-main"]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(why(plain.stdout, n["full"] ?? ""), "concurrency full (3 of 3 updating)");
    const withVerb = json(
      await run(["brupop", "status", "--kubeconfig", kubeconfig, "--namespace", "st-window", "-o", "json"]),
    );
    assert.equal(row(withVerb, n["x"] ?? "").reason.kind, "schedule-closed");
    const failing = await run(["brupop", "--kubeconfig", kubeconfig, "-n", "st-main", "--context", "nope"]);
    assert.equal(failing.code, 1);
    assert.match(failing.stderr, /^error: context "nope" not found in the kubeconfig\n/);
  });

  it("forbidden and unreachable clusters: one clear line, exit 1", async () => {
    const cert = await issueCert({ ca: cluster.ca, commonName: "status-nobody", usage: "client" });
    const nobody = join(scratch, "nobody.kubeconfig");
    await writeFile(
      nobody,
      renderKubeconfig({
        server: cluster.server,
        caCertPem: cluster.caCertPem,
        clientCertPem: cert.certPem,
        clientKeyPem: cert.keyPem,
      }),
    );
    const forbidden = await brupop(["--kubeconfig", nobody, "-n", "st-main"]);
    assert.equal(forbidden.code, 1);
    assert.equal(forbidden.stdout, "");
    assert.match(
      forbidden.stderr,
      /^error: forbidden: bottlerocketshadows\.brupop\.bottlerocket\.aws is forbidden: User "status-nobody" cannot list resource "bottlerocketshadows" .*\n$/,
    );

    const [port] = await freePorts(1);
    const gone = join(scratch, "gone.kubeconfig");
    const server = `https://127.0.0.1:${String(port)}`;
    await writeFile(
      gone,
      renderKubeconfig({
        server,
        caCertPem: cluster.caCertPem,
        clientCertPem: cert.certPem,
        clientKeyPem: cert.keyPem,
      }),
    );
    const unreachable = await brupop(["--kubeconfig", gone]);
    assert.equal(unreachable.code, 1);
    assert.match(
      unreachable.stderr,
      new RegExp(`^error: cannot reach the Kubernetes API server at ${server}: .*ECONNREFUSED.*\\n$`),
    );
    assert.equal(unreachable.stderr.split("\n").length, 2); // one line, no stack trace
  });

  it("--watch re-renders when a shadow changes, and Ctrl-C ends it with 130 (docs/cli.md)", async () => {
    const child = spawn(process.execPath, statusJsonNodeArgs(kubeconfig, "st-watch", "--watch"), {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const docs: FleetStatus[] = [];
    let buffered = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        docs.push(JSON.parse(buffered.slice(0, nl)) as FleetStatus);
        buffered = buffered.slice(nl + 1);
      }
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    try {
      await eventually("first frame", 30_000, () => docs.length >= 1);
      assert.equal(row(docs[0] as FleetStatus, n["x"] ?? "").reason.kind, "starting");
      await kube(
        rest,
        "PATCH",
        `${shadowsPath("st-watch")}/brs-${n["x"]}/status`,
        { status: status({ current_version: TO }) },
        {
          contentType: "application/merge-patch+json",
        },
      );
      await eventually("a frame showing the node up to date", 15_000, () =>
        docs.some((d) => d.nodes.find((r) => r.node === n["x"])?.reason.kind === "up-to-date"),
      );
      // Facts changed once: exactly one more document, not one per refresh.
      assert.equal(
        docs.filter((d) => d.nodes.find((r) => r.node === n["x"])?.reason.kind === "up-to-date").length,
        1,
      );
    } finally {
      child.kill("SIGINT");
    }
    assert.equal(await exited, 130, stderr);
    assert.equal(stderr, "");
  });

  it("piping: npx's launcher (bin/brupop.js) writes only JSON; a closed pipe ends it quietly with 0", async () => {
    // What `npx brupop status -o json | jq` runs: the launcher, no npm banner on stdout.
    const once = await new Promise<CliResult>((done) =>
      execFile(
        process.execPath,
        [join(REPO, "bin/brupop.js"), "status", "--kubeconfig", kubeconfig, "-n", "st-main", "-o", "json"],
        { cwd: REPO, timeout: 60_000 },
        (err, stdout, stderr) =>
          done({ code: err === null ? 0 : typeof err.code === "number" ? err.code : null, stdout, stderr }),
      ),
    );
    assert.equal(json(once).kind, "FleetStatus");
    // `brupop status -o json --watch | head -c 1`: the reader goes away after the first bytes.
    const child = spawn(
      process.execPath,
      [
        join(REPO, "bin/brupop.js"),
        "status",
        "--kubeconfig",
        kubeconfig,
        "-n",
        "st-watch",
        "-o",
        "json",
        "-w",
      ],
      { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    await new Promise<void>((done) =>
      child.stdout.once("data", () => {
        child.stdout.destroy();
        done();
      }),
    );
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    // A change makes the watch write again, into the closed pipe.
    await kube(
      rest,
      "PATCH",
      `${shadowsPath("st-watch")}/brs-${n["x"]}/status`,
      { status: status({ current_version: FROM }) },
      { contentType: "application/merge-patch+json" },
    );
    const code = await exited;
    clearTimeout(timer);
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /EPIPE|Error/);
  });

  it("usage errors: one `error:` line and exit 2", async () => {
    const bad = await brupop(["-o", "xml"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: option '-o, --output <format>' argument 'xml' is invalid\./);
    const unknown = await brupop(["--nope"]);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, "error: unknown option '--nope'\n");
  });

  it("a running controller publishes its settings; status explains with them", async () => {
    const ns = "st-live";
    await namespace(ns);
    const node = n["upToDate"] ?? ""; // labelled: the controller keeps shadows of labelled nodes only
    await brs(ns, node, {}, status());
    const cron = `* * ${windowHour} * * * *`;
    const controller = new Controller(
      inProcessSettings({
        namespace: ns,
        maxConcurrent: 4,
        schedule: parseSchedule(cron, new Date()),
        controllerNodeName: node,
        tickIntervalMs: 500,
      }),
      { rest, logger: silentLogger() },
      { http: null },
    );
    await controller.start();
    try {
      await eventually("settings published", 20_000, async () => {
        const cm = await kube<{ data?: Record<string, string> }>(
          rest,
          "GET",
          `/api/v1/namespaces/${ns}/configmaps/${DEFAULT_STATE_CONFIGMAP}`,
        );
        return cm.data?.["leader"] === controller.identity;
      });
      const s = json(await brupop(["--kubeconfig", kubeconfig, "-n", ns, "-o", "json"]));
      assert.equal(s.controller.settingsKnown, true);
      assert.equal(s.controller.maxConcurrent, 4);
      assert.equal(s.controller.leader, controller.identity);
      assert.equal(s.controller.node, node);
      assert.equal(s.controller.schedule.expression, cron);
      assert.equal(row(s, node).reason.kind, "schedule-closed");
    } finally {
      await controller.stop();
    }
  });
  it("blockers: status names the pod the controller holds a node back for, until it is gone (issue 32)", async () => {
    const ns = "st-block";
    await namespace(ns);
    const node = n["full"] ?? ""; // labelled, 1.19.0 offered 1.20.0 (its st-main shadow is another object)
    await brs(ns, node, {}, status());
    await eventually("blocking pod created", 20_000, async () => {
      await kube(rest, "POST", `/api/v1/namespaces/${ns}/pods`, {
        metadata: { name: "backup-0", labels: { "e2e.brupop/block": "true" } },
        spec: { nodeName: node, containers: [{ name: "backup", image: "registry.invalid/backup:1" }] },
      });
      return true;
    });
    const controller = new Controller(
      inProcessSettings({
        namespace: ns,
        maxConcurrent: 1,
        schedule: parseSchedule("* * * * * * *", new Date()),
        tickIntervalMs: 300,
        extras: {
          blockers: { podSelector: "e2e.brupop/block=true" },
        },
      }),
      { rest, logger: silentLogger() },
      { http: null },
    );
    const statusOf = async (): Promise<NodeRow> => {
      const res = await brupop(["--kubeconfig", kubeconfig, "-n", ns, "-o", "json"]);
      assert.equal(res.code, 0, res.stderr);
      return row(json(res), node);
    };
    // --watch too, started before the verdict exists: it must come through the watch's informer.
    const watch = spawn(process.execPath, statusJsonNodeArgs(kubeconfig, ns, "-w"), {
      cwd: REPO,
      stdio: ["ignore", "pipe", "ignore"],
    });
    const frames: FleetStatus[] = [];
    let buffered = "";
    watch.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        frames.push(JSON.parse(buffered.slice(0, nl)) as FleetStatus);
        buffered = buffered.slice(nl + 1);
      }
    });
    const watchExited = new Promise<number | null>((done) => watch.on("exit", (code) => done(code)));
    try {
      await eventually("the watch's first frame", 60_000, () => frames.length >= 1);
      assert.equal(row(frames[0] as FleetStatus, node).reason.kind, "starting");
      await controller.start();
      await eventually("verdict published", 20_000, async () => {
        const cm = await kube<{ data?: Record<string, string> }>(
          rest,
          "GET",
          `/api/v1/namespaces/${ns}/configmaps/${BLOCKERS_CONFIGMAP}`,
        ).catch(() => undefined);
        return cm?.data?.["leader"] === controller.identity && cm.data["blocked"] !== "{}";
      });
      const held = await statusOf();
      assert.deepEqual(held.reason, {
        kind: "blocked",
        by: "pods",
        pods: [{ namespace: ns, name: "backup-0" }],
        alerts: [],
        error: null,
      });
      assert.equal(
        held.message,
        `blocked by pod ${ns}/backup-0 on the node; starts updating to ${TO} once that clears`,
      );
      await eventually("the watch shows it blocked", 30_000, () =>
        frames.some((f) => row(f, node).reason.kind === "blocked"),
      );
      await kube(rest, "DELETE", `/api/v1/namespaces/${ns}/pods/backup-0?gracePeriodSeconds=0`);
      await eventually("the node starts once the pod is gone", 30_000, async () => {
        const r = await statusOf();
        return r.reason.kind === "updating";
      });
      await eventually("the verdict is rewritten when it changes", 10_000, async () => {
        const cm = await kube<{ data?: Record<string, string> }>(
          rest,
          "GET",
          `/api/v1/namespaces/${ns}/configmaps/${BLOCKERS_CONFIGMAP}`,
        );
        return cm.data?.["blocked"] === "{}";
      });
    } finally {
      watch.kill("SIGINT");
      await controller.stop();
    }
    assert.equal(await watchExited, 130);
  });
});
