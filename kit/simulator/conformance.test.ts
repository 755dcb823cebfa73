// Conformance of the simulator to SPEC §6 and to what Bottlerocket's own API (v1.20.5, run for real;
// docs/bottlerocket.md) answered, over real HTTP on a Unix socket. Time is manual: a command
// finishes only when the test advances the timers, so nothing here is timing-bound. The recorded
// exchanges themselves are replayed by transcripts.test.ts.
import assert from "node:assert/strict";
import { access } from "node:fs/promises";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { HostAction, UpdateCommand, UpdateStatus } from "../../src/bottlerocket/types.js";
import { HOST_ERROR_TEXT, type RebootEvent, type RebootedEvent } from "./host.js";
import { raw, serveManualHost } from "./test-helpers.js";

const DURATIONS = { refresh: 100, prepare: 1000, activate: 50, deactivate: 50, shutdown: 200, reboot: 500 };
const PATHS: Record<HostAction, string> = {
  refresh: "/actions/refresh-updates",
  prepare: "/actions/prepare-update",
  activate: "/actions/activate-update",
  deactivate: "/actions/deactivate-update",
  reboot: "/actions/reboot",
};

type Env = Awaited<ReturnType<typeof serveManualHost>>;

async function status(env: Env): Promise<UpdateStatus> {
  const res = await raw(env.socketPath, "GET", "/updates/status");
  assert.equal(res.status, 200, res.body);
  assert.match(String(res.headers["content-type"]), /application\/json/);
  return res.json() as UpdateStatus;
}

async function post(env: Env, action: HostAction): Promise<number> {
  return (await raw(env.socketPath, "POST", PATHS[action])).status;
}

/** POST, check it is accepted and locked while running, let it finish; returns the new status. */
async function run(env: Env, cmd: UpdateCommand): Promise<UpdateStatus> {
  assert.equal(await post(env, cmd), 204, `${cmd} accepted`);
  assert.equal((await raw(env.socketPath, "GET", "/updates/status")).status, 423);
  env.timers.advance(DURATIONS[cmd]);
  return status(env);
}

async function reboot(env: Env): Promise<void> {
  assert.equal(await post(env, "reboot"), 204);
  env.timers.advance(DURATIONS.shutdown);
  await env.server.settled();
  env.timers.advance(DURATIONS.reboot);
  await env.server.settled();
}

async function socketExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

describe("simulator conformance (SPEC §6)", () => {
  let env: Env;
  beforeEach(async () => {
    env = await serveManualHost({ durations: DURATIONS, releases: [{ version: "1.20.0", releasedAt: 0 }] });
  });
  afterEach(async () => env.close());

  it("GET /os describes the booted image", async () => {
    const res = await raw(env.socketPath, "GET", "/os");
    assert.equal(res.status, 200);
    const os = res.json() as Record<string, unknown>;
    assert.deepEqual(Object.keys(os).sort(), ["arch", "build_id", "pretty_name", "variant_id", "version_id"]);
    assert.equal(os.version_id, "1.19.0");
    assert.equal(os.arch, "x86_64");
  });

  it("status is 404 (uninitialized) after boot; a refused action still creates it, Idle", async () => {
    const before = await raw(env.socketPath, "GET", "/updates/status");
    assert.equal(before.status, 404);
    assert.equal(before.body, HOST_ERROR_TEXT.uninitialized);
    const refused = await raw(env.socketPath, "POST", PATHS.prepare);
    assert.equal(refused.status, 409);
    assert.equal(refused.body, HOST_ERROR_TEXT.disallowed);
    assert.deepEqual(await status(env), {
      update_state: "Idle",
      available_updates: [],
      chosen_update: null,
      active_partition: {
        image: { arch: "x86_64", version: "1.19.0", variant: "aws-k8s-1.33" },
        next_to_boot: true,
      },
      staging_partition: null,
      most_recent_command: null,
    });
    assert.equal(await post(env, "activate"), 409);
    assert.equal(await post(env, "deactivate"), 409);
  });

  it("while a command runs, status and every update action answer 423 with the real texts", async () => {
    assert.equal(await post(env, "refresh"), 204);
    env.timers.advance(DURATIONS.refresh - 1);
    const read = await raw(env.socketPath, "GET", "/updates/status");
    assert.equal(read.status, 423);
    assert.equal(read.body, HOST_ERROR_TEXT.statusLocked);
    for (const action of ["refresh", "prepare", "activate", "deactivate"] as const) {
      const res = await raw(env.socketPath, "POST", PATHS[action]);
      assert.equal(res.status, 423, action);
      assert.equal(res.body, HOST_ERROR_TEXT.lockHeld, action);
    }
    assert.equal((await raw(env.socketPath, "GET", "/os")).status, 200, "/os is not behind the update lock");
    env.timers.advance(1);
    assert.equal((await status(env)).update_state, "Available");
  });

  it("a reboot is not behind the update lock: accepted while a command runs, which dies with the host", async () => {
    assert.equal(await post(env, "refresh"), 204);
    assert.equal(await post(env, "reboot"), 204);
    env.timers.advance(DURATIONS.shutdown);
    await env.server.settled();
    env.timers.advance(DURATIONS.reboot);
    await env.server.settled();
    assert.equal(
      (await raw(env.socketPath, "GET", "/updates/status")).status,
      404,
      "the refresh never finished",
    );
  });

  it("refresh: Idle → Available with the chosen update, newest first", async () => {
    env.releases.add({ version: "1.19.5", releasedAt: 0 });
    const s = await run(env, "refresh");
    assert.equal(s.update_state, "Available");
    assert.deepEqual(s.available_updates, ["1.20.0", "1.19.5", "1.19.0"], "the running version too");
    assert.deepEqual(s.chosen_update, { arch: "x86_64", version: "1.20.0", variant: "aws-k8s-1.33" });
    assert.deepEqual(s.active_partition, {
      image: { arch: "x86_64", version: "1.19.0", variant: "aws-k8s-1.33" },
      next_to_boot: true,
    });
    assert.equal(s.staging_partition, null);
    assert.equal(s.most_recent_command?.cmd_type, "refresh");
    assert.equal(s.most_recent_command?.cmd_status, "Success");
    assert.equal(s.most_recent_command?.exit_status, 0);
    assert.equal(s.most_recent_command?.stderr, "");
    assert.ok(!Number.isNaN(Date.parse(s.most_recent_command?.timestamp ?? "")));
  });

  it("refresh with nothing newer: Idle stays Idle; the repository still lists the running version", async () => {
    env.releases.remove("1.20.0");
    const s = await run(env, "refresh");
    assert.equal(s.update_state, "Idle");
    assert.equal(s.chosen_update, null);
    assert.deepEqual(s.available_updates, ["1.19.0"]);
  });

  it("the command stamp is taken when it ends", async () => {
    const start = env.clock.now().getTime();
    const s = await run(env, "refresh");
    assert.equal(Date.parse(s.most_recent_command?.timestamp ?? ""), start + DURATIONS.refresh);
  });

  it("prepare from Idle is 409 and leaves most_recent_command alone", async () => {
    env.releases.remove("1.20.0");
    const before = await run(env, "refresh");
    assert.equal(await post(env, "prepare"), 409);
    assert.deepEqual(await status(env), before);
  });

  it("walks Available → Staged → Ready → Staged → Ready with the right partitions and refusals", async () => {
    assert.equal((await run(env, "refresh")).update_state, "Available");
    assert.equal(await post(env, "activate"), 409, "activate from Available");
    assert.equal(await post(env, "deactivate"), 409, "deactivate from Available");

    let s = await run(env, "prepare");
    assert.equal(s.update_state, "Staged");
    assert.deepEqual(s.staging_partition, {
      image: { arch: "x86_64", version: "1.20.0", variant: "aws-k8s-1.33" },
      next_to_boot: false,
    });
    assert.equal(s.active_partition?.next_to_boot, true);
    assert.equal(await post(env, "deactivate"), 409, "deactivate from Staged");
    assert.equal((await run(env, "prepare")).update_state, "Staged", "prepare again from Staged");
    assert.equal((await run(env, "refresh")).update_state, "Staged", "refresh keeps Staged");

    s = await run(env, "activate");
    assert.equal(s.update_state, "Ready");
    assert.equal(s.staging_partition?.next_to_boot, true);
    assert.equal(s.active_partition?.next_to_boot, false);
    const ready = s;
    assert.equal(await post(env, "prepare"), 409, "prepare from Ready");
    assert.equal(await post(env, "activate"), 409, "activate from Ready");
    assert.deepEqual(await status(env), ready, "refusals do not touch the status");
    assert.equal((await run(env, "refresh")).update_state, "Ready", "refresh keeps Ready");

    s = await run(env, "deactivate");
    assert.equal(s.update_state, "Staged");
    assert.equal(s.staging_partition?.next_to_boot, false);
    assert.equal(s.active_partition?.next_to_boot, true);
    assert.equal((await run(env, "activate")).update_state, "Ready");
  });

  it("refresh from Available stays Available", async () => {
    await run(env, "refresh");
    assert.equal((await run(env, "refresh")).update_state, "Available");
  });

  it("prepare with no chosen update is 404", async () => {
    await run(env, "refresh");
    await run(env, "prepare");
    env.host.versionLock = "1.19.0"; // pin the running version: refresh chooses nothing
    const s = await run(env, "refresh");
    assert.equal(s.update_state, "Staged");
    assert.equal(s.chosen_update, null);
    const res = await raw(env.socketPath, "POST", PATHS.prepare);
    assert.equal(res.status, 404);
    assert.equal(res.body, HOST_ERROR_TEXT.noChosenUpdate);
    assert.deepEqual(await status(env), s);
  });

  it("reboot boots the next_to_boot partition and the status starts over, with no staging partition", async () => {
    const events: (RebootEvent | RebootedEvent)[] = [];
    env.host.on("reboot", (e) => events.push(e));
    env.host.on("rebooted", (e) => events.push(e));
    await run(env, "refresh");
    await run(env, "prepare");
    await run(env, "activate");

    assert.equal(await post(env, "reboot"), 204);
    // The host shuts down after the answer: until then the API still answers as before.
    const os = await raw(env.socketPath, "GET", "/os");
    assert.equal(os.status, 200);
    assert.equal((os.json() as { version_id: string }).version_id, "1.19.0");
    assert.equal((await status(env)).update_state, "Ready");
    assert.equal(await post(env, "reboot"), 204, "asking again changes nothing");
    assert.deepEqual(events, [], "not down yet");
    env.timers.advance(DURATIONS.shutdown);
    await env.server.settled();
    assert.equal(await socketExists(env.socketPath), false, "the socket is gone while rebooting");
    await assert.rejects(raw(env.socketPath, "GET", "/os"), { code: "ENOENT" });
    env.timers.advance(DURATIONS.reboot);
    await env.server.settled();

    assert.equal((await raw(env.socketPath, "GET", "/updates/status")).status, 404);
    assert.equal(
      (JSON.parse((await raw(env.socketPath, "GET", "/os")).body) as { version_id: string }).version_id,
      "1.20.0",
    );
    const s = await run(env, "refresh");
    assert.equal(s.update_state, "Idle");
    assert.equal(s.active_partition?.image.version, "1.20.0");
    assert.equal(s.active_partition?.next_to_boot, true);
    assert.equal(s.staging_partition, null, "the status is rebuilt at boot: the old image is not listed");
    assert.deepEqual(s.available_updates, ["1.20.0", "1.19.0"]);
    assert.deepEqual(events, [
      { hostId: "node-a", fromVersion: "1.19.0", toVersion: "1.20.0", rollback: false, downMs: 500 },
      { hostId: "node-a", fromVersion: "1.19.0", version: "1.20.0", rolledBack: false },
    ]);
  });

  it("reboot from any state is accepted; without activation the version stays", async () => {
    await reboot(env); // uninitialised
    assert.equal(env.host.version, "1.19.0");
    await run(env, "refresh");
    await run(env, "prepare");
    await reboot(env); // Staged, not activated
    assert.equal(env.host.version, "1.19.0");
    assert.equal((await raw(env.socketPath, "GET", "/updates/status")).status, 404);
    assert.equal((await run(env, "refresh")).update_state, "Available");
  });

  it("a failed command records Failed with stderr and keeps the state", async () => {
    await run(env, "refresh");
    env.host.failCommand("prepare", { times: 1, stderr: "download failed", exitStatus: 3 });
    const s = await run(env, "prepare");
    assert.equal(s.update_state, "Available");
    assert.equal(s.staging_partition, null);
    assert.deepEqual(
      { ...s.most_recent_command, timestamp: undefined },
      {
        cmd_type: "prepare",
        cmd_status: "Failed",
        exit_status: 3,
        stderr: "download failed",
        timestamp: undefined,
      },
    );
    const again = await run(env, "prepare");
    assert.equal(again.update_state, "Staged", "the failure was armed once");
    assert.equal(again.most_recent_command?.cmd_status, "Success");
  });

  it("a failed refresh drops Available back to Idle and keeps the rest", async () => {
    const available = await run(env, "refresh");
    env.host.failCommand("refresh", { times: 1, stderr: "no metadata" });
    const s = await run(env, "refresh");
    assert.equal(s.update_state, "Idle");
    assert.deepEqual(s.chosen_update, available.chosen_update);
    assert.deepEqual(s.available_updates, available.available_updates);
    assert.equal(s.most_recent_command?.cmd_status, "Failed");
  });

  it("a failure without a count repeats until cleared", async () => {
    env.host.failCommand("refresh");
    assert.equal((await run(env, "refresh")).most_recent_command?.cmd_status, "Failed");
    const s = await run(env, "refresh");
    assert.equal(s.most_recent_command?.cmd_status, "Failed");
    assert.equal(s.update_state, "Idle");
    env.host.clearFailure("refresh");
    assert.equal((await run(env, "refresh")).update_state, "Available");
  });

  it("command timestamps strictly increase even when the clock stands still", async () => {
    assert.equal(await post(env, "refresh"), 204);
    env.timers.advance(DURATIONS.refresh);
    const first = (await status(env)).most_recent_command?.timestamp ?? "";
    env.host.setDurations({ refresh: 0 });
    assert.equal(await post(env, "refresh"), 204);
    env.timers.advance(0);
    const second = (await status(env)).most_recent_command?.timestamp ?? "";
    assert.ok(Date.parse(second) > Date.parse(first), `${second} > ${first}`);
  });

  it("unknown path → 404, wrong method → 405 with Allow", async () => {
    assert.equal((await raw(env.socketPath, "GET", "/nope")).status, 404);
    assert.equal((await raw(env.socketPath, "GET", "/actions")).status, 404);
    const get = await raw(env.socketPath, "GET", "/actions/refresh-updates");
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, "POST");
    const postOs = await raw(env.socketPath, "POST", "/os");
    assert.equal(postOs.status, 405);
    assert.equal(postOs.headers.allow, "GET");
    assert.equal((await raw(env.socketPath, "PUT", "/updates/status")).status, 405);
    assert.equal((await raw(env.socketPath, "GET", "/os?x=1")).status, 200, "a query string is ignored");
  });
});

describe("simulator waves and version-lock", () => {
  let env: Env | undefined;
  afterEach(async () => env?.close());

  const waves = [
    { seed: 512, startAfterMs: 0 },
    { seed: 1024, startAfterMs: 60_000 },
    { seed: 2048, startAfterMs: 120_000 },
  ];

  it("a host whose wave has not started sees no update; later it does", async () => {
    env = await serveManualHost({ durations: DURATIONS, seed: 700 });
    env.releases.add({ version: "1.20.0", waves }); // released now
    assert.equal((await run(env, "refresh")).update_state, "Idle");
    // Visibility is decided when the refresh finishes: the next one ends 1 ms before the wave.
    env.timers.advance(60_000 - 1 - 2 * DURATIONS.refresh);
    assert.equal((await run(env, "refresh")).update_state, "Idle", "just before the wave");
    const s = await run(env, "refresh");
    assert.equal(s.update_state, "Available");
    assert.deepEqual(s.available_updates, ["1.20.0", "1.19.0"]);
  });

  it("an early seed sees the release at once; a release in the future is invisible", async () => {
    env = await serveManualHost({ durations: DURATIONS, seed: 3 });
    env.releases.add({ version: "1.20.0", waves });
    env.releases.add({ version: "1.21.0", releasedAt: env.clock.now().getTime() + 10_000 });
    const s = await run(env, "refresh");
    assert.deepEqual(s.available_updates, ["1.20.0", "1.19.0"]);
    assert.equal(s.chosen_update?.version, "1.20.0");
  });

  it("version-lock picks a pinned version; latest picks the newest", async () => {
    env = await serveManualHost({
      durations: DURATIONS,
      versionLock: "1.20.0",
      releases: [
        { version: "1.20.0", releasedAt: 0 },
        { version: "1.21.0", releasedAt: 0 },
        { version: "1.21.0-rc.1", releasedAt: 0 },
      ],
    });
    let s = await run(env, "refresh");
    assert.deepEqual(s.available_updates, ["1.21.0", "1.21.0-rc.1", "1.20.0", "1.19.0"]);
    assert.equal(s.chosen_update?.version, "1.20.0");
    env.host.versionLock = "latest";
    s = await run(env, "refresh");
    assert.equal(s.chosen_update?.version, "1.21.0");
    env.host.versionLock = "9.9.9";
    s = await run(env, "refresh");
    assert.equal(s.chosen_update, null, "a pinned version that is not released chooses nothing");
    assert.equal(s.update_state, "Idle", "Available falls back to Idle");
  });
});

describe("simulator settings API: the update settings (Bottlerocket's openapi.yaml and real answers)", () => {
  let env: Env;
  const LOCK = "/settings?keys=settings.updates.version-lock";
  const releases = [
    { version: "1.20.0", releasedAt: 0 },
    { version: "1.21.0", releasedAt: 0 },
  ];
  beforeEach(async () => {
    env = await serveManualHost({ durations: DURATIONS, releases });
  });
  afterEach(async () => env.close());

  async function lock(): Promise<unknown> {
    const res = await raw(env.socketPath, "GET", LOCK);
    assert.equal(res.status, 200, res.body);
    assert.match(String(res.headers["content-type"]), /application\/json/);
    return res.json();
  }

  async function patch(body: unknown): Promise<number> {
    return (await raw(env.socketPath, "PATCH", "/settings", JSON.stringify(body))).status;
  }

  async function commit(): Promise<{ status: number; body: string }> {
    return raw(env.socketPath, "POST", "/tx/commit_and_apply");
  }

  it("GET /settings answers the Settings object with the keys asked for; latest by default", async () => {
    assert.deepEqual(await lock(), { updates: { "version-lock": "latest" } });
    assert.deepEqual((await raw(env.socketPath, "GET", "/settings")).json(), {
      updates: { "version-lock": "latest", seed: 0 },
    });
    assert.deepEqual((await raw(env.socketPath, "GET", "/settings?prefix=settings.updates")).json(), {
      updates: { "version-lock": "latest", seed: 0 },
    });
    assert.deepEqual((await raw(env.socketPath, "GET", "/settings?keys=settings.motd")).json(), {});
  });

  it("PATCH stages (204, nothing changes yet); commit_and_apply commits and says which keys changed", async () => {
    assert.equal(await patch({ updates: { "version-lock": "v1.20.0" } }), 204);
    assert.deepEqual(await lock(), { updates: { "version-lock": "latest" } }, "not committed yet");
    let s = await run(env, "refresh");
    assert.equal(s.chosen_update?.version, "1.21.0", "an uncommitted lock does not count");
    const committed = await raw(env.socketPath, "POST", "/tx/commit_and_apply");
    assert.equal(committed.status, 200);
    assert.deepEqual(committed.json(), ["settings.updates.version-lock"]);
    assert.deepEqual(await lock(), { updates: { "version-lock": "v1.20.0" } });
    s = await run(env, "refresh");
    assert.equal(s.chosen_update?.version, "1.20.0", "locked: exactly the pinned version, not the newest");
    const again = await commit();
    assert.equal(again.status, 422, "nothing pending");
    assert.equal(again.body, HOST_ERROR_TEXT.noPendingChanges);
    assert.equal(await patch({ updates: { "version-lock": "v1.20.0" } }), 204);
    const same = await commit();
    assert.equal(same.status, 200, "the same value again");
    assert.deepEqual(
      JSON.parse(same.body),
      ["settings.updates.version-lock"],
      "every pending key, changed or not",
    );
  });

  it("a lock waits for its wave and never goes past it; latest again picks the newest", async () => {
    await env.close();
    env = await serveManualHost({ durations: DURATIONS, seed: 1000 });
    const now = env.clock.now().getTime();
    env.releases.add({ version: "1.20.0", releasedAt: now, waves: [{ seed: 2048, startAfterMs: 60_000 }] });
    env.releases.add({ version: "1.21.0", releasedAt: 0 });
    assert.equal(await patch({ updates: { "version-lock": "1.20.0" } }), 204);
    assert.equal((await raw(env.socketPath, "POST", "/tx/commit_and_apply")).status, 200);
    let s = await run(env, "refresh");
    assert.equal(s.chosen_update, null, "the pinned release's wave has not reached this host");
    assert.equal(s.update_state, "Idle");
    env.timers.advance(60_000);
    s = await run(env, "refresh");
    assert.equal(s.chosen_update?.version, "1.20.0");
    assert.equal(await patch({ updates: { "version-lock": "latest" } }), 204);
    await raw(env.socketPath, "POST", "/tx/commit_and_apply");
    s = await run(env, "refresh");
    assert.equal(s.chosen_update?.version, "1.21.0");
  });

  it("other valid settings (motd, updates.seed) are staged too (204) and committed by key", async () => {
    assert.equal(await patch({ motd: "hi" }), 204);
    assert.equal(await patch({ updates: { seed: 7, "ignore-waves": false } }), 204);
    const res = await commit();
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), [
      "settings.motd",
      "settings.updates.ignore-waves",
      "settings.updates.seed",
    ]);
    assert.equal(env.host.seed, 7, "the seed is the host's wave seed");
    assert.deepEqual((await raw(env.socketPath, "GET", "/settings?keys=settings.motd")).json(), {
      motd: "hi",
    });
  });

  it("settings answer while an update command holds the lock", async () => {
    assert.equal(await post(env, "prepare"), 409);
    assert.equal(await post(env, "refresh"), 204);
    assert.equal((await raw(env.socketPath, "GET", "/updates/status")).status, 423);
    assert.deepEqual(await lock(), { updates: { "version-lock": "latest" } });
    assert.equal(await patch({ updates: { "version-lock": "1.20.0" } }), 204);
  });

  it("a bad PATCH is 400 with the real texts and stages nothing; a wrong method is 405", async () => {
    const bad = await raw(env.socketPath, "PATCH", "/settings", '{"updates":{"version-lock":"soon"}}');
    assert.equal(bad.status, 400);
    assert.ok(
      bad.body.startsWith(
        "Json deserialize error: Unable to deserialize into FriendlyVersion: Invalid version string 'soon'",
      ),
      bad.body,
    );
    const unknown = await raw(env.socketPath, "PATCH", "/settings", '{"updates":{"nope":1}}');
    assert.equal(unknown.status, 400);
    assert.ok(unknown.body.startsWith("Json deserialize error: unknown field `nope`"), unknown.body);
    assert.equal(await patch({ updates: { seed: -1 } }), 400);
    assert.equal((await raw(env.socketPath, "PATCH", "/settings", "{")).status, 400);
    const noType = await raw(env.socketPath, "PATCH", "/settings", '{"motd":"hi"}', {});
    assert.equal(noType.status, 400);
    assert.equal(noType.body, "Content type error");
    const textType = await raw(env.socketPath, "PATCH", "/settings", '{"motd":"hi"}', {
      "content-type": "text/plain",
    });
    assert.equal(textType.status, 400);
    assert.equal((await commit()).status, 422, "nothing was staged");
    assert.deepEqual(await lock(), { updates: { "version-lock": "latest" } });
    const res = await raw(env.socketPath, "POST", "/settings");
    assert.equal(res.status, 405);
    assert.equal(res.headers.allow, "GET, PATCH");
  });
});

describe("simulator faults over the socket", () => {
  let env: Env;
  beforeEach(async () => {
    env = await serveManualHost({ durations: DURATIONS, releases: [{ version: "1.20.0", releasedAt: 0 }] });
  });
  afterEach(async () => env.close());

  it("a hung command answers 423 until the hang is cleared", async () => {
    env.host.hang("prepare");
    await run(env, "refresh");
    assert.equal(await post(env, "prepare"), 204);
    env.timers.advance(3_600_000);
    assert.equal((await raw(env.socketPath, "GET", "/updates/status")).status, 423);
    assert.equal(await post(env, "activate"), 423);
    env.host.unhang("prepare");
    assert.equal((await status(env)).update_state, "Staged");
  });

  it("a rollback reboot comes back on the old version", async () => {
    const events: RebootEvent[] = [];
    env.host.on("reboot", (e) => events.push(e));
    await run(env, "refresh");
    await run(env, "prepare");
    await run(env, "activate");
    env.host.rollbackNextReboot();
    await reboot(env);
    assert.equal(env.host.version, "1.19.0");
    assert.equal(events[0]?.rollback, true);
    assert.equal(events[0]?.toVersion, "1.19.0");
    const s = await run(env, "refresh");
    assert.equal(s.update_state, "Available");
    assert.equal(s.active_partition?.image.version, "1.19.0");
    assert.equal(s.staging_partition, null, "the rebuilt status shows no trace of the failed boot");
    assert.equal(s.chosen_update?.version, "1.20.0");
  });

  it("disconnect removes the socket; reconnect brings it back with state intact", async () => {
    await run(env, "refresh");
    env.host.disconnect();
    await env.server.settled();
    assert.equal(await socketExists(env.socketPath), false);
    await assert.rejects(raw(env.socketPath, "GET", "/updates/status"), { code: "ENOENT" });
    env.host.reconnect();
    await env.server.settled();
    assert.equal((await status(env)).update_state, "Available");
  });
});
