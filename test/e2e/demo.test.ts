// The README's first command, run the way a newcomer runs it (non-interactive here): `brupop demo`
// must bring every node from the old version to the new one and exit 0; when it cannot, it must
// say why for each node (the reasons `brupop status` computes), on the real control plane.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runCli(args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGINT");
      reject(new Error(`demo did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describe("brupop demo", () => {
  // The README's command with --nodes 3 --speed.
  it("updates 3 nodes and exits 0 with a summary", async () => {
    const { code, stdout, stderr } = await runCli(
      ["demo", "--nodes", "3", "--speed", "--max-concurrent", "2"],
      180_000,
    );
    assert.equal(code, 0, `exit code\n${stdout}\n${stderr}`);
    assert.match(stdout, /^All 3 nodes run 1\.20\.0\. Total time [\d.]+ s\.$/m);
    for (const node of ["demo-node-0", "demo-node-1", "demo-node-2"]) {
      assert.match(stdout, new RegExp(`^${node} +\\d\\d:\\d\\d +\\d\\d:\\d\\d +[\\d.]+ s$`, "m"));
    }
    // Plain progress lines (no TTY): nodes start, are cordoned for their reboot, end Idle; a waiting
    // node says why.
    assert.match(stdout, /^\d\d:\d\d demo-node-0: Idle → StagedAndPerformedUpdate, 1\.19\.0 → 1\.20\.0 — /m);
    assert.match(stdout, /\(cordoned\) — /m);
    assert.match(stdout, /^\d\d:\d\d demo-node-\d: .* — concurrency full \(2 of 2 updating\)$/m);
    assert.match(stdout, /^\d\d:\d\d demo-node-2: Idle, 1\.20\.0$/m);
  });

  it("says why each node is stuck (back-off with the failure's text, PDB-blocked drains) and names them at --timeout", async () => {
    // Every node starts at once (unlimited): demo-node-0's first prepare fails (back-off 2 min), the
    // others reach their drain, which a PDB allowing 0 disruptions blocks. (Slot full: the test above.)
    const { code, stdout, stderr } = await runCli(
      [
        "demo",
        "--nodes",
        "3",
        "--speed",
        "--max-concurrent",
        "unlimited",
        "--fail-host",
        "demo-node-0",
        "--pdb-max-unavailable",
        "0",
        "--timeout",
        "25",
      ],
      180_000,
    );
    const all = `${stdout}\n${stderr}`;
    assert.equal(code, 1, all);
    // The failure, with the host's own text, as it happens.
    assert.match(stdout, /^\d\d:\d\d demo-node-0: prepare failed: demo: injected prepare failure$/m, all);
    // The timeout report: every unfinished node and why.
    assert.match(stdout, /^The rollout did not finish within 25 s: 3 of 3 nodes not done\.$/m, all);
    assert.match(
      stdout,
      // The agent's own account (status.failure): reason, state, and the host's text.
      /^ {2}demo-node-0: .*back-off until \S+Z \(in \S+\) after 1 failed attempt; last: HostCommandFailed reaching StagedAndPerformedUpdate: host prepare failed .*demo: injected prepare failure$/m,
      all,
    );
    for (const node of ["demo-node-1", "demo-node-2"]) {
      assert.match(
        stdout,
        new RegExp(
          `^ {2}${node}: .*drain blocked by PodDisruptionBudget default/demo-web \\(0 disruptions allowed; pods? default/demo-web-`,
          "m",
        ),
        all,
      );
    }
  });

  it("a schedule that cannot open before --timeout: said at start, named at the end", async () => {
    const { code, stdout, stderr } = await runCli(
      ["demo", "--nodes", "1", "--speed", "--cron", "* * * 1 1 * 2099", "--timeout", "15"],
      120_000,
    );
    const all = `${stdout}\n${stderr}`;
    assert.equal(code, 1, all);
    const first = stdout.split("\n")[0] ?? "";
    assert.match(
      first,
      /^note: the schedule "\* \* \* 1 1 \* 2099" first lets updates start at 2099-01-01T00:00:00Z, after --timeout \(15 s\)/,
      all,
    );
    assert.match(
      stdout,
      /^ {2}demo-node-0: Idle, 1\.19\.0 → 1\.20\.0: window closed until 2099-01-01T00:00:00Z/m,
      all,
    );
  });

  // The playground without a terminal (issue 32): a paused UpdatePolicy holds every start until the
  // script resumes it; a release offered mid-run rolls the fleet on to it.
  it("--policy and --script: pause holds new starts, resume and a new release roll on", async () => {
    const dir = await mkdtemp(join(tmpdir(), "brupop-demo-script-"));
    try {
      await writeFile(
        join(dir, "policy.yaml"),
        "apiVersion: brupop.bottlerocket.aws/v1alpha1\nkind: UpdatePolicy\nmetadata:\n  name: default\nspec:\n  paused: true\n",
      );
      // The release comes well after the resume: offered in the same second, it could reach a host
      // between the controller's start (spec 1.20.0) and the agent's prepare, and that node failed
      // with HostNotReady ("host offers 1.21.0, spec wants 1.20.0") into a 2 min back-off past the
      // timeout (a CI run, 2026-12-08; docs/NEXT.md).
      await writeFile(join(dir, "script.txt"), "# hold, then go\n6 resume\n15 release 1.21.0\n");
      const { code, stdout, stderr } = await runCli(
        [
          "demo",
          "--nodes",
          "2",
          "--speed",
          "--max-concurrent",
          "unlimited",
          "--policy",
          join(dir, "policy.yaml"),
          "--script",
          join(dir, "script.txt"),
          "--timeout",
          "150",
        ],
        240_000,
      );
      const all = `${stdout}\n${stderr}`;
      assert.equal(code, 0, all);
      assert.match(stdout, /^kubeconfig: \S+\n {2}kubectl --kubeconfig \S+ get brs -n \S+$/m, all);
      assert.match(stdout, /^UpdatePolicy default applied/m, all);
      // Held while paused: the nodes say so, and none starts before the resume.
      assert.match(stdout, /^00:0[0-5] demo-node-0: Idle, 1\.19\.0 → 1\.20\.0 — .*paused/m, all);
      assert.match(stdout, /^00:0[6-9] UpdatePolicy default: spec\.paused=false$/m, all);
      assert.match(stdout, /^00:1[5-9] release 1\.21\.0 offered to every host$/m, all);
      const starts = [...stdout.matchAll(/^(\d\d):(\d\d) demo-node-\d: Idle → StagedAndPerformedUpdate/gm)];
      assert.ok(starts.length > 0, all);
      for (const [, m = "", sec = ""] of starts)
        assert.ok(Number(m) * 60 + Number(sec) >= 6, `started while paused\n${all}`);
      assert.match(stdout, /^All 2 nodes run 1\.21\.0\. Total time [\d.]+ s\./m, all);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  // The health gate in the playground (issue 32): `unhealthy NODE` makes the node's DaemonSet pod not
  // Ready after its reboot; its agent fails it on the new version naming the pod, quarantines it, and
  // the view says so and how to end it.
  // It was flaky (2 of 4 runs passed the gate): the kit's kubelet play marked the pod Ready again when the
  // node came back from its reboot; a pod failing its readiness is now left so (pod-readiness.ts).
  it("--script unhealthy: the health gate fails the node after its reboot and the view names the pod", async () => {
    const dir = await mkdtemp(join(tmpdir(), "brupop-demo-unhealthy-"));
    try {
      await writeFile(join(dir, "script.txt"), "0 unhealthy demo-node-0\n");
      const { code, stdout, stderr } = await runCli(
        ["demo", "--nodes", "1", "--speed", "--script", join(dir, "script.txt"), "--timeout", "75"],
        240_000,
      );
      const all = `${stdout}\n${stderr}`;
      assert.equal(code, 1, all); // never done: it failed on the new version
      assert.match(
        stdout,
        /^00:0\d demo-node-0: its DaemonSet pod will not be Ready after its next reboot \(health gate\)$/m,
        all,
      );
      assert.match(stdout, /^The rollout did not finish within 75 s: 1 of 1 node not done\.$/m, all);
      assert.match(
        stdout,
        /^ {2}demo-node-0: .*failed on 1\.20\.0 after the reboot \(Unhealthy reaching MonitoringUpdate: .*DaemonSet pod default\/demo-node-agent-\S+.*\); quarantined: kept cordoned until a newer release updates it or the failure is accepted \(brupop accept demo-node-0\)/m,
        all,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("checks its flags before building or starting anything: bad --fail-host, --help", async () => {
    // An empty cache: had it tried to build, it would have printed the build's progress and taken minutes.
    const cache = await mkdtemp(join(tmpdir(), "brupop-demo-nocache-"));
    try {
      const env = { ...process.env, BRUPOP_TESTENV_CACHE: cache, BRUPOP_TESTENV_BIN_DIR: "" };
      const bad = await runCli(["demo", "--nodes", "2", "--fail-host", "demo-node-2"], 30_000, env);
      assert.equal(bad.code, 2);
      assert.equal(bad.stdout, "");
      assert.equal(
        bad.stderr,
        'error: --fail-host: no node "demo-node-2" (nodes: demo-node-0, demo-node-1)\n',
      );
      const script = join(cache, "bad-script.txt");
      await writeFile(script, "0 pause\n3 fail-host demo-node-7\n");
      const badScript = await runCli(["demo", "--nodes", "2", "--script", script], 30_000, env);
      assert.equal(badScript.code, 2);
      assert.equal(badScript.stdout, "");
      assert.match(
        badScript.stderr,
        /^error: --script \S+bad-script\.txt:2: fail-host needs one of the demo's nodes \(demo-node-0, demo-node-1\)/,
      );
      const help = await runCli(["demo", "--help"], 30_000, env);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /--timeout <seconds> +give up after this long \(exit 1\) \(default:\s+900\)/);
      assert.match(help.stdout, /--fail-host <node>/);
      assert.equal(help.stderr, "");
      assert.ok(bad.ms < 15_000 && help.ms < 15_000, `took ${bad.ms} / ${help.ms} ms`);
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });
});
