import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { isBrupopError } from "../errors.js";
import { InClusterAccess, kubeconfigProblem, loadKubeAccess } from "./access.js";

describe("InClusterAccess", () => {
  const dir = mkdtempSync(join(tmpdir(), "brupop-sa-"));
  writeFileSync(join(dir, "ca.crt"), "CA-PEM");
  writeFileSync(join(dir, "token"), "token-1\n");
  after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" };

  it("addresses the API service and adds the CA and bearer token", async () => {
    const access = new InClusterAccess(env, dir);
    assert.deepEqual(access.getCurrentCluster(), { server: "https://10.0.0.1:443" });
    const opts: https.RequestOptions = { headers: { Accept: "application/json" } };
    await access.applyToHTTPSOptions(opts);
    assert.equal(String(opts.ca), "CA-PEM");
    assert.deepEqual(opts.headers, { Accept: "application/json", Authorization: "Bearer token-1" });
  });

  it("brackets an IPv6 service address", () => {
    const access = new InClusterAccess({ ...env, KUBERNETES_SERVICE_HOST: "fd00::1" }, dir);
    assert.equal(access.getCurrentCluster().server, "https://[fd00::1]:443");
  });

  it("refuses to start outside a pod, naming the variable", () => {
    assert.throws(
      () => new InClusterAccess({}, dir),
      (err: unknown) =>
        isBrupopError(err, "BRUPOP_E_CONFIG") && err.message.startsWith("KUBERNETES_SERVICE_HOST"),
    );
  });

  it("refuses a missing service-account CA, naming the file", () => {
    assert.throws(
      () => new InClusterAccess(env, join(dir, "nope")),
      /ca\.crt: cannot read the service-account CA/,
    );
  });

  it("is what loadKubeAccess picks inside a pod", async () => {
    // A pod env with no kubeconfig flag: the service account, without loading client-node.
    await assert.rejects(loadKubeAccess(undefined, env), /ca\.crt/);
  });
});

describe("kubeconfigProblem", () => {
  const kc = (
    context: string,
    cluster: { name: string; server: string; skipTLSVerify?: boolean } | null,
  ) => ({
    getCurrentContext: () => context,
    getCurrentCluster: () => cluster,
  });
  const table: { name: string; kc: ReturnType<typeof kc>; explicit: boolean; problem: RegExp | undefined }[] =
    [
      {
        name: "client-node's last resort (nothing found)",
        kc: kc("loaded-context", { name: "cluster", server: "http://localhost:8080" }),
        explicit: false,
        problem: /no Kubernetes configuration found.*KUBERNETES_SERVICE_HOST.*KUBECONFIG/,
      },
      { name: "no current cluster", kc: kc("", null), explicit: true, problem: /no current context/ },
      {
        name: "plain http without skip-tls-verify",
        kc: kc("c", { name: "c", server: "http://10.0.0.1:8080" }),
        explicit: true,
        problem: /plain HTTP/,
      },
      {
        name: "not a URL",
        kc: kc("c", { name: "c", server: "::nope" }),
        explicit: true,
        problem: /is not a URL/,
      },
      {
        name: "https",
        kc: kc("c", { name: "c", server: "https://10.0.0.1:6443" }),
        explicit: true,
        problem: undefined,
      },
      {
        name: "http with skip-tls-verify (a local test cluster)",
        kc: kc("c", { name: "c", server: "http://127.0.0.1:8080", skipTLSVerify: true }),
        explicit: true,
        problem: undefined,
      },
    ];
  for (const row of table) {
    it(row.name, () => {
      const got = kubeconfigProblem(row.kc, row.explicit);
      if (row.problem === undefined) assert.equal(got, undefined);
      else assert.match(got ?? "", row.problem);
    });
  }
});

describe("loadKubeAccess refuses configuration that cannot work", () => {
  const dir = mkdtempSync(join(tmpdir(), "brupop-kc-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("an explicit kubeconfig that does not exist, naming it", async () => {
    const file = join(dir, "missing");
    await assert.rejects(
      loadKubeAccess(file, {}),
      (err: unknown) => isBrupopError(err, "BRUPOP_E_CONFIG") && err.message.includes(file),
    );
  });

  it("a kubeconfig without a current context", async () => {
    const file = join(dir, "empty");
    writeFileSync(file, "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n");
    await assert.rejects(loadKubeAccess(file, {}), /no current context/);
  });
});

// The components, started as a user would: one line naming what is missing, exit status 2, at once.
describe("components refuse to start without usable cluster access", () => {
  const dir = mkdtempSync(join(tmpdir(), "brupop-cli-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const main = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
  writeFileSync(join(dir, "token"), "t");
  writeFileSync(join(dir, "ca.crt"), "ca");
  const base = { PATH: process.env.PATH ?? "", HOME: join(dir, "home") };

  const cases: { name: string; args: string[]; env: Record<string, string>; line: RegExp }[] = [
    {
      name: "controller, empty environment",
      args: ["controller", "--namespace", "brupop"],
      env: { MY_NODE_NAME: "node-1" },
      line: /^error: no Kubernetes configuration found.*--kubeconfig$/,
    },
    {
      name: "controller, KUBECONFIG names a missing file",
      args: ["controller", "--namespace", "brupop"],
      env: { MY_NODE_NAME: "node-1", KUBECONFIG: join(dir, "nope.yaml") },
      line: /^error: cannot load kubeconfig .*nope\.yaml/,
    },
    {
      name: "apiserver, empty environment",
      args: ["apiserver", "--namespace", "brupop", "--tls-dir", dir],
      env: {},
      line: /^error: no Kubernetes configuration found/,
    },
    {
      name: "agent, empty environment",
      args: [
        "agent",
        "--namespace",
        "brupop",
        "--token-path",
        join(dir, "token"),
        "--ca-path",
        join(dir, "ca.crt"),
      ],
      env: { MY_NODE_NAME: "node-1" },
      line: /^error: no Kubernetes configuration found/,
    },
  ];
  // Started together (each pays for loading tsx and client-node), checked one by one.
  const runs = new Map<string, Promise<{ status: number | null; stderr: string }>>();
  before(() => {
    for (const c of cases) {
      runs.set(
        c.name,
        new Promise((resolve) => {
          const child = spawn(process.execPath, ["--import", "tsx", main, ...c.args], {
            env: { ...base, ...c.env },
            stdio: ["ignore", "ignore", "pipe"],
            timeout: 180_000, // five tsx start-ups at once on a busy 2-core machine took ~40 s
          });
          let stderr = "";
          child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
          child.on("close", (status) => resolve({ status, stderr }));
        }),
      );
    }
  });

  for (const c of cases) {
    it(c.name, async () => {
      const res = await runs.get(c.name);
      assert.ok(res !== undefined);
      const lines = res.stderr.split("\n").filter((l) => l.trim() !== "");
      assert.equal(res.status, 2, `exit status (stderr: ${res.stderr.slice(0, 500)})`);
      assert.equal(lines.length, 1, `one line on stderr, got:\n${res.stderr.slice(0, 1000)}`);
      assert.match(lines[0] ?? "", c.line);
    });
  }
});
