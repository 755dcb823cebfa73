// The opt-in check against Bottlerocket's REAL host API (`npm run test:realhost`): v1.20.5's
// apiserver + thar-be-updates built by tools/realhost/build.sh, run by ./harness.ts in a private
// mount namespace with shims for updog, thar-be-settings and the reboot. Skipped, saying why, when
// the build is absent. It replays the recorded transcripts (kit/simulator/transcripts) against the
// real API, and runs our client through the cases that matter to the agent. With
// BRUPOP_REALHOST_RECORD=1 it writes what the real API answered to
// kit/simulator/transcripts/recorded/*.json (full bodies), which `npm test` then replays against the
// simulator.
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { isBrupopError } from "../../src/errors.js";
import { BottlerocketApiClient } from "../../src/bottlerocket/client.js";
import { raw } from "../../kit/simulator/test-helpers.js";
import {
  parseTranscript,
  record,
  replay,
  type RawAnswer,
  type Transcript,
  type TranscriptDriver,
  type TranscriptStep,
} from "../../kit/simulator/transcript.js";
import { RealHost, realHostUnavailable } from "./harness.js";

const TRANSCRIPTS = join(fileURLToPath(new URL(".", import.meta.url)), "../../kit/simulator/transcripts");
const RECORD = process.env.BRUPOP_REALHOST_RECORD === "1";
const skip = realHostUnavailable();
if (skip !== undefined) process.stderr.write(`test:realhost skipped: ${skip}\n`);

async function transcripts(): Promise<{ name: string; t: Transcript }[]> {
  const names = (await readdir(TRANSCRIPTS)).filter((n) => n.endsWith(".json")).sort();
  return Promise.all(
    names.map(async (name) => ({
      name,
      t: parseTranscript(name, JSON.parse(await readFile(join(TRANSCRIPTS, name), "utf8")) as unknown),
    })),
  );
}

/** Polls the status until no command holds the update lock (at most 60 s). */
async function untilUnlocked(socketPath: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if ((await raw(socketPath, "GET", "/updates/status")).status !== 423) return;
    assert.ok(Date.now() < deadline, "the update lock was held for over 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

function driverFor(host: RealHost, answers: RawAnswer[]): TranscriptDriver {
  return {
    request: async (r) => {
      const a = await raw(
        host.socketPath,
        r.method,
        r.path,
        r.body,
        r.headers ?? (r.body === undefined ? {} : { "content-type": "application/json" }),
      );
      answers.push({ status: a.status, body: a.body });
      return a;
    },
    waitForCommand: () => untilUnlocked(host.socketPath),
    fault: (f) => host.failNext(f.fail, f.stderr, f.exitStatus),
    boot: async (seeded) => {
      assert.ok(seeded, "the harness always seeds the status (thar-be-updates must not load signpost)");
      assert.ok(await host.rebootRequested(), "a boot without a reboot request");
      await host.reboot();
    },
  };
}

/** The transcript with the real answers in place of the recorded ones. */
function recorded(t: Transcript, answers: RawAnswer[]): Transcript {
  let i = 0;
  const steps: TranscriptStep[] = t.steps.map((s) =>
    "request" in s ? { ...s, answer: record(answers[i++] ?? { status: 0, body: "" }) } : s,
  );
  return {
    ...t,
    title: `${t.title} (recorded run)`,
    source: `recorded from the real Bottlerocket v1.20.5 API by test/realhost on ${new Date().toISOString().slice(0, 10)}`,
    steps,
  };
}

describe("the real Bottlerocket host API (v1.20.5)", { skip }, () => {
  const hosts: RealHost[] = [];
  async function host(releases = ["1.21.0"], prepareSeconds = 2): Promise<RealHost> {
    const h = await RealHost.start({ version: "1.20.5", releases, prepareSeconds });
    hosts.push(h);
    return h;
  }
  after(async () => {
    for (const h of hosts) await h.stop();
  });

  it("answers every recorded transcript as recorded", async () => {
    for (const { name, t } of await transcripts()) {
      // Without a seeded status a command would make thar-be-updates load signpost (real disks):
      // only the requests before the first command are replayed for such a transcript.
      const steps = t.host.seeded
        ? t.steps
        : t.steps.slice(
            0,
            t.steps.findIndex((s) => "request" in s && s.request.method !== "GET"),
          );
      const h = await host(t.host.releases);
      // Unseeded: no status.json (reads only: a GET never runs thar-be-updates).
      if (!t.host.seeded) await rm(join(h.dir, "run/cache/thar-be-updates/status.json"));
      const answers: RawAnswer[] = [];
      const failures = await replay({ ...t, steps }, driverFor(h, answers));
      assert.deepEqual(failures, [], `${name}\n${await h.log()}`);
      if (RECORD && t.host.seeded) {
        await mkdir(join(TRANSCRIPTS, "recorded"), { recursive: true });
        await writeFile(
          join(TRANSCRIPTS, "recorded", name),
          `${JSON.stringify(recorded(t, answers), null, 2)}\n`,
        );
      }
    }
  });

  it("our client: a whole update with the 423 wait, and the reboot into it", async () => {
    const h = await host();
    const client = new BottlerocketApiClient({ socketPath: h.socketPath });
    assert.equal((await client.osInfo()).version_id, "1.20.5");
    const refreshed = await client.refresh();
    assert.equal(refreshed.chosen_update?.version, "1.21.0");
    assert.deepEqual(refreshed.available_updates, ["1.21.0", "1.20.5"]);
    const preparing = client.prepare();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await client.updateStatus())?.update_state, "Staged", "updateStatus waited through 423");
    assert.equal((await preparing).update_state, "Staged");
    assert.equal((await client.activate()).update_state, "Ready");
    await client.reboot();
    assert.equal((await client.osInfo()).version_id, "1.20.5", "the API answers until the host goes down");
    assert.ok(await h.rebootRequested());
    await h.reboot();
    assert.equal((await client.osInfo()).version_id, "1.21.0");
    const after = await client.refresh();
    assert.equal(after.update_state, "Idle");
    assert.equal(after.staging_partition, null);
    assert.deepEqual(after.available_updates, ["1.21.0", "1.20.5"]);
  });

  it("our client: a failed prepare is HOST_COMMAND_FAILED, the state stays, a retry stages", async () => {
    const h = await host(["1.21.0"], 1);
    const client = new BottlerocketApiClient({ socketPath: h.socketPath });
    await client.refresh();
    await h.failNext("prepare", "no space left on device\n", 1);
    await assert.rejects(
      client.prepare(),
      (e: unknown) => isBrupopError(e, "BRUPOP_E_HOST_COMMAND_FAILED") && /no space left/.test(e.message),
    );
    assert.equal((await client.updateStatus())?.update_state, "Available");
    assert.equal((await client.prepare()).update_state, "Staged");
  });

  it("our client: a pin (and a pin to a version not offered); a new release while Ready", async () => {
    const h = await host(["1.21.0", "1.22.0"], 1);
    const client = new BottlerocketApiClient({ socketPath: h.socketPath });
    await client.setVersionLock("v1.21.0");
    assert.equal(await client.versionLock(), "v1.21.0");
    assert.equal((await client.refresh()).chosen_update?.version, "1.21.0", "exactly the pinned version");
    await client.prepare();
    await client.setVersionLock("v1.19.0");
    const none = await client.refresh();
    assert.equal(none.chosen_update, null);
    await assert.rejects(
      client.prepare(),
      (e: unknown) => isBrupopError(e, "BRUPOP_E_HOST_API") && e.details.status === 404,
    );
    await client.setVersionLock("latest");
    assert.equal((await client.refresh()).chosen_update?.version, "1.22.0");
    await client.prepare();
    assert.equal((await client.activate()).update_state, "Ready");
    await h.setReleases(["1.21.0", "1.22.0", "1.23.0"]);
    const ready = await client.refresh();
    assert.equal(ready.update_state, "Ready", "a refresh keeps Ready");
    assert.equal(ready.chosen_update?.version, "1.23.0", "and chooses the new release");
    assert.equal(ready.staging_partition?.image.version, "1.22.0");
  });

  it("a SIGKILLed apiserver: the forked prepare still finishes; the new apiserver answers 423 until then", async () => {
    const h = await host(["1.21.0"], 3);
    const client = new BottlerocketApiClient({ socketPath: h.socketPath });
    await client.refresh();
    assert.equal((await raw(h.socketPath, "POST", "/actions/prepare-update")).status, 204);
    await h.killAndRestart();
    assert.equal((await raw(h.socketPath, "GET", "/updates/status")).status, 423, "still preparing");
    const s = await client.updateStatus();
    assert.equal(s?.update_state, "Staged", "prepared once, by the first request");
    assert.equal(s?.most_recent_command?.cmd_type, "prepare");
  });
});
