// `brupop simulate-host`: flag errors name the flag; a run serves the socket and removes it on stop.
import assert from "node:assert/strict";
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Command, CommanderError } from "commander";
import { registerSimulateHost, toStandaloneConfig } from "./command.js";
import { isBrupopError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { BottlerocketApiClient } from "../../src/bottlerocket/client.js";
import { parseReleaseSpec } from "./options.js";
import { startStandaloneHost } from "./standalone.js";

function program(): { cmd: Command; stderr: () => string } {
  let err = "";
  const cmd = new Command("brupop").exitOverride().configureOutput({
    writeErr: (s) => (err += s),
    writeOut: () => {},
  });
  registerSimulateHost(cmd);
  for (const sub of cmd.commands)
    sub.exitOverride().configureOutput({ writeErr: (s) => (err += s), writeOut: () => {} });
  return { cmd, stderr: () => err };
}

describe("brupop simulate-host", () => {
  const bad: [string[], RegExp][] = [
    [["--seed", "5000"], /--seed/],
    [["--current-version", "1.2"], /--current-version/],
    [["--release", "1.20.0:512"], /--release/],
    [["--version-lock", "newest"], /--version-lock/],
    [["--prepare-time", "soon"], /--prepare-time/],
    [["--fail", "reboot"], /--fail/],
    [["--tcp", "x:y"], /--tcp/],
    [["--log-level", "loud"], /--log-level/],
  ];
  for (const [args, flag] of bad) {
    it(`rejects ${args.join(" ")} naming the flag`, async () => {
      const { cmd, stderr } = program();
      await assert.rejects(cmd.parseAsync(["simulate-host", ...args], { from: "user" }), CommanderError);
      assert.match(stderr(), flag);
    });
  }

  it("rejects the same release twice", () => {
    assert.throws(
      () =>
        toStandaloneConfig({
          socket: "/tmp/x.sock",
          currentVersion: "1.19.0",
          release: [parseReleaseSpec("1.20.0"), parseReleaseSpec("1.20.0@1s")],
          variant: "v",
          arch: "x86_64",
          versionLock: "latest",
          logLevel: "silent",
        }),
      (err: unknown) => isBrupopError(err, "BRUPOP_E_CONFIG") && /--release/.test(err.message),
    );
  });

  it("serves the configured host until stopped, then removes its socket", async () => {
    const dir = await mkdtemp(join(tmpdir(), "brupop-cli-"));
    const socketPath = join(dir, "api.sock");
    const config = toStandaloneConfig({
      socket: socketPath,
      currentVersion: "1.19.0",
      release: [parseReleaseSpec("1.20.0"), parseReleaseSpec("1.21.0@1h")],
      seed: 7,
      variant: "aws-k8s-1.33",
      arch: "aarch64",
      versionLock: "latest",
      refreshTime: 1,
      prepareTime: 1,
      fail: [{ cmd: "prepare", times: 1 }],
      logLevel: "silent",
    });
    const ac = new AbortController();
    try {
      const running = await startStandaloneHost(config, ac.signal, silentLogger());
      const client = new BottlerocketApiClient({ socketPath, pollIntervalMs: 1 });
      assert.equal((await client.osInfo()).arch, "aarch64");
      const s = await client.refresh();
      assert.deepEqual(s.available_updates, ["1.20.0", "1.19.0"], "the delayed release is not out yet");
      await assert.rejects(client.prepare(), (e: unknown) =>
        isBrupopError(e, "BRUPOP_E_HOST_COMMAND_FAILED"),
      );
      assert.equal((await client.prepare()).update_state, "Staged");
      ac.abort();
      await running.done;
      await assert.rejects(access(socketPath), { code: "ENOENT" });
    } finally {
      ac.abort();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
