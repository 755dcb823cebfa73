// The README's first command, run the way a newcomer runs it (non-interactive here): `brupop demo`
// must bring every node from the old version to the new one and exit 0.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";

function runCli(
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
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
      resolve({ code, stdout, stderr });
    });
  });
}

describe("brupop demo", () => {
  // The README's command with --nodes 3 --speed. (--fail-host is left out: the failed node's first
  // retry waits out the controller's real 2-minute crash back-off.)
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
    // Plain progress lines (no TTY): nodes start, are cordoned for their reboot, end Idle.
    assert.match(stdout, /^\d\d:\d\d demo-node-0: Idle → StagedAndPerformedUpdate, 1\.19\.0 → 1\.20\.0$/m);
    assert.match(stdout, /\(cordoned\)$/m);
    assert.match(stdout, /^\d\d:\d\d demo-node-2: Idle, 1\.20\.0$/m);
  });

  it("refuses a --fail-host that is not one of its nodes, naming the flag", async () => {
    const { code, stderr } = await runCli(
      ["demo", "--nodes", "1", "--speed", "--fail-host", "nope"],
      120_000,
    );
    assert.equal(code, 2);
    assert.match(stderr, /BRUPOP_E_CONFIG: --fail-host: no node "nope"/);
  });
});
