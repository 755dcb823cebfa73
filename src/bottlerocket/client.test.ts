// The client against the simulator over a real socket (real time, short durations), plus a
// scripted transport for answers the simulator never gives (malformed bodies, stale commands).
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { afterEach, describe, it } from "node:test";
import { systemClock } from "../clock.js";
import { isBrupopError, type ErrorCode } from "../errors.js";
import { BottlerocketApiClient, completed, type BottlerocketClientOptions } from "./client.js";
import type { RebootedEvent } from "../../kit/simulator/host.js";
import { raw, serveHost, type Served } from "../../kit/simulator/test-helpers.js";
import type { HostResponse, HostTransport } from "./transport.js";
import type { UpdateStatus } from "./types.js";

const FAST = { refresh: 5, prepare: 20, activate: 5, deactivate: 5, shutdown: 10, reboot: 30 };
const CLIENT: BottlerocketClientOptions = { pollIntervalMs: 2, maxPollIntervalMs: 10 };

function rejectsWith(
  p: Promise<unknown>,
  code: ErrorCode,
  check?: (details: Record<string, unknown>) => void,
) {
  return assert.rejects(p, (err: unknown) => {
    assert.ok(isBrupopError(err, code), `expected ${code}, got ${String(err)}`);
    check?.(err.details);
    return true;
  });
}

describe("BottlerocketApiClient against the simulator", () => {
  let env: Served | undefined;
  afterEach(async () => env?.close());

  async function setup(extra: Partial<Parameters<typeof serveHost>[0]> = {}) {
    env = await serveHost({
      clock: systemClock,
      durations: FAST,
      releases: [{ version: "1.20.0", releasedAt: 0 }],
      ...extra,
    });
    return { env, client: new BottlerocketApiClient({ ...CLIENT, socketPath: env.socketPath }) };
  }

  it("runs a full refresh → prepare → activate → reboot cycle", async () => {
    // Shutdown and boot long enough that "still up" and "down" are observable on a loaded machine.
    const { env, client } = await setup({ durations: { ...FAST, shutdown: 500, reboot: 1_000 } });
    assert.equal((await client.osInfo()).version_id, "1.19.0");
    assert.equal(await client.updateStatus(), null, "uninitialised after boot");

    const refreshed = await client.refresh();
    assert.equal(refreshed.update_state, "Available");
    assert.equal(refreshed.chosen_update?.version, "1.20.0");
    assert.equal((await client.prepare()).update_state, "Staged");
    assert.equal((await client.activate()).update_state, "Ready");
    assert.equal((await client.deactivate()).update_state, "Staged");
    assert.equal((await client.activate()).update_state, "Ready");

    const down = once(env.host, "down");
    const booted = once(env.host, "rebooted") as Promise<[RebootedEvent]>;
    await client.reboot();
    // Like the real host: the API answers until the host shuts down.
    assert.equal((await client.osInfo()).version_id, "1.19.0", "still up right after the reboot request");
    await down;
    await env.server.settled();
    await rejectsWith(client.osInfo(), "BRUPOP_E_HOST_UNREACHABLE");
    const [event] = await booted;
    assert.equal(event.version, "1.20.0");
    await env.server.settled();
    assert.equal((await client.osInfo()).version_id, "1.20.0");
    assert.equal(await client.updateStatus(), null, "uninitialised again after the reboot");
    assert.equal((await client.refresh()).update_state, "Idle");
  });

  it("works over TCP with a base URL", async () => {
    const { env } = await setup({ tcp: true });
    const client = new BottlerocketApiClient({
      ...CLIENT,
      baseUrl: `http://127.0.0.1:${env.server.tcpPort}`,
    });
    assert.equal((await client.refresh()).update_state, "Available");
  });

  it("a failed command is BRUPOP_E_HOST_COMMAND_FAILED with the host's stderr and exit status", async () => {
    const { env, client } = await setup();
    await client.refresh();
    env.host.failCommand("prepare", { times: 1, stderr: "no space left", exitStatus: 7 });
    await rejectsWith(client.prepare(), "BRUPOP_E_HOST_COMMAND_FAILED", (d) => {
      assert.equal(d.command, "prepare");
      assert.equal(d.exit_status, 7);
      assert.equal(d.stderr, "no space left");
    });
    assert.equal((await client.updateStatus())?.update_state, "Available", "state unchanged");
    assert.equal((await client.prepare()).update_state, "Staged", "succeeds once the fault is spent");
  });

  for (const cmd of ["refresh", "activate", "deactivate"] as const) {
    it(`a failed ${cmd} is never a silent pass`, async () => {
      const { env, client } = await setup();
      if (cmd !== "refresh") {
        await client.refresh();
        await client.prepare();
        if (cmd === "deactivate") await client.activate();
      }
      env.host.failCommand(cmd);
      await rejectsWith(client[cmd](), "BRUPOP_E_HOST_COMMAND_FAILED", (d) => assert.equal(d.command, cmd));
    });
  }

  it("a hung command hits its time limit (BRUPOP_E_HOST_TIMEOUT)", async () => {
    const { env } = await setup();
    const client = new BottlerocketApiClient({
      ...CLIENT,
      socketPath: env.socketPath,
      limits: { prepare: 80 },
    });
    await client.refresh();
    env.host.hang("prepare");
    const started = Date.now();
    await rejectsWith(client.prepare(), "BRUPOP_E_HOST_TIMEOUT", (d) => {
      assert.equal(d.command, "prepare");
      assert.equal(d.limitMs, 80);
    });
    const took = Date.now() - started;
    assert.ok(took >= 70 && took < 1_000, `gave up after ${took} ms`);
  });

  it("updateStatus waits through 423, and gives up after statusWaitMs", async () => {
    const { env } = await setup();
    const client = new BottlerocketApiClient({ ...CLIENT, socketPath: env.socketPath, statusWaitMs: 60 });
    env.host.hang("refresh");
    assert.equal((await raw(env.socketPath, "POST", "/actions/refresh-updates")).status, 204);
    await rejectsWith(client.updateStatus(), "BRUPOP_E_HOST_TIMEOUT");
    setTimeout(() => env.host.unhang("refresh"), 20);
    const patient = new BottlerocketApiClient({ ...CLIENT, socketPath: env.socketPath, statusWaitMs: 2_000 });
    assert.equal((await patient.updateStatus())?.update_state, "Available");
  });

  it("an action that meets a running command waits for it, then runs its own", async () => {
    const { env, client } = await setup();
    env.host.hang("refresh");
    assert.equal((await raw(env.socketPath, "POST", "/actions/refresh-updates")).status, 204);
    setTimeout(() => env.host.unhang("refresh"), 30);
    // Whoever else ran refresh, our own refresh must still run and be the one we report.
    const s = await client.refresh();
    assert.equal(s.update_state, "Available");
    assert.equal(env.host.runningCommand, null);
  });

  it("a refused action is BRUPOP_E_HOST_API with the HTTP status and body", async () => {
    const { client } = await setup();
    await rejectsWith(client.prepare(), "BRUPOP_E_HOST_API", (d) => {
      assert.equal(d.status, 409);
      assert.equal(d.body, "Update action not allowed according to update state");
    });
    await rejectsWith(client.activate(), "BRUPOP_E_HOST_API", (d) => assert.equal(d.status, 409));
    await rejectsWith(client.deactivate(), "BRUPOP_E_HOST_API", (d) => assert.equal(d.status, 409));
  });

  it("reads and sets the version lock over the socket (GET /settings, PATCH, commit_and_apply)", async () => {
    const { env, client } = await setup({
      releases: [
        { version: "1.20.0", releasedAt: 0 },
        { version: "1.21.0", releasedAt: 0 },
      ],
    });
    assert.equal(await client.versionLock(), "latest");
    await client.setVersionLock("v1.20.0");
    assert.equal(env.host.versionLock, "v1.20.0", "committed, not only staged");
    assert.equal(await client.versionLock(), "v1.20.0");
    assert.equal((await client.refresh()).chosen_update?.version, "1.20.0");
    await rejectsWith(client.setVersionLock("soon"), "BRUPOP_E_HOST_API", (d) => assert.equal(d.status, 400));
  });

  it("prepare with no chosen update is BRUPOP_E_HOST_API 404", async () => {
    const { env, client } = await setup();
    await client.refresh();
    await client.prepare();
    env.host.versionLock = "1.19.0";
    assert.equal((await client.refresh()).chosen_update, null);
    await rejectsWith(client.prepare(), "BRUPOP_E_HOST_API", (d) => assert.equal(d.status, 404));
  });

  it("a vanished socket is BRUPOP_E_HOST_UNREACHABLE, and the host is usable again after reconnect", async () => {
    const { env, client } = await setup();
    env.host.disconnect();
    await env.server.settled();
    await rejectsWith(client.osInfo(), "BRUPOP_E_HOST_UNREACHABLE", (d) => assert.equal(d.errno, "ENOENT"));
    await rejectsWith(client.refresh(), "BRUPOP_E_HOST_UNREACHABLE");
    await rejectsWith(client.updateStatus(), "BRUPOP_E_HOST_UNREACHABLE");
    await rejectsWith(client.reboot(), "BRUPOP_E_HOST_UNREACHABLE");
    env.host.reconnect();
    await env.server.settled();
    assert.equal((await client.refresh()).update_state, "Available");
  });

  it("a reboot that comes back on the old version is visible in /os", async () => {
    const { env, client } = await setup();
    await client.refresh();
    await client.prepare();
    await client.activate();
    env.host.rollbackNextReboot();
    const booted = once(env.host, "rebooted");
    await client.reboot();
    await booted;
    await env.server.settled();
    assert.equal((await client.osInfo()).version_id, "1.19.0");
    assert.equal((await client.refresh()).update_state, "Available");
  });
});

describe("BottlerocketApiClient transport limits", () => {
  it("a socket that accepts but never answers hits the request timeout", async () => {
    const silent = net.createServer(() => {}); // holds connections open, says nothing
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const client = new BottlerocketApiClient({ baseUrl: `http://127.0.0.1:${port}`, requestTimeoutMs: 50 });
      await rejectsWith(client.osInfo(), "BRUPOP_E_HOST_TIMEOUT", (d) => assert.equal(d.phase, "request"));
      const limited = new BottlerocketApiClient({
        baseUrl: `http://127.0.0.1:${port}`,
        limits: { refresh: 60 },
      });
      await rejectsWith(limited.refresh(), "BRUPOP_E_HOST_TIMEOUT");
    } finally {
      silent.close();
      // node:net keeps accepted sockets; the client destroyed its ends already.
    }
  });

  it("a refused TCP connection is BRUPOP_E_HOST_UNREACHABLE", async () => {
    const probe = net.createServer();
    probe.listen(0, "127.0.0.1");
    await once(probe, "listening");
    const port = (probe.address() as net.AddressInfo).port;
    probe.close();
    await once(probe, "close");
    const client = new BottlerocketApiClient({ baseUrl: `http://127.0.0.1:${port}` });
    await rejectsWith(client.osInfo(), "BRUPOP_E_HOST_UNREACHABLE", (d) =>
      assert.equal(d.errno, "ECONNREFUSED"),
    );
  });
});

/** Answers from a script, one per request; records what was asked. */
class ScriptedTransport implements HostTransport {
  readonly calls: string[] = [];
  constructor(private readonly answers: HostResponse[]) {}
  request(method: "GET" | "POST", path: string): Promise<HostResponse> {
    this.calls.push(`${method} ${path}`);
    const next = this.answers.shift();
    if (next === undefined) throw new Error(`unexpected ${method} ${path}`);
    return Promise.resolve(next);
  }
}

function statusBody(over: Partial<UpdateStatus> = {}): HostResponse {
  const s: UpdateStatus = {
    update_state: "Idle",
    available_updates: [],
    chosen_update: null,
    active_partition: null,
    staging_partition: null,
    most_recent_command: null,
    ...over,
  };
  return { status: 200, body: JSON.stringify(s) };
}

const cmdAt = (cmd: "refresh" | "prepare", timestamp: string, failed = false) => ({
  cmd_type: cmd,
  cmd_status: failed ? ("Failed" as const) : ("Success" as const),
  timestamp,
  exit_status: failed ? 1 : 0,
  stderr: failed ? "bad" : "",
});

describe("BottlerocketApiClient protocol details (scripted host)", () => {
  const noSleep = { sleep: () => Promise.resolve(), pollIntervalMs: 1 };

  it("ignores an older command of the same type and waits for a newer timestamp", async () => {
    const old = cmdAt("refresh", "2025-01-01T00:00:00.000000001Z");
    const transport = new ScriptedTransport([
      statusBody({ most_recent_command: old }), // baseline
      { status: 204, body: "" },
      statusBody({ most_recent_command: old }), // not ours yet
      { status: 423, body: "locked" },
      statusBody({
        update_state: "Available",
        most_recent_command: cmdAt("refresh", "2025-01-01T00:00:00.000000002Z"),
      }),
    ]);
    const client = new BottlerocketApiClient({ transport, ...noSleep });
    assert.equal((await client.refresh()).update_state, "Available");
    assert.deepEqual(transport.calls, [
      "GET /updates/status",
      "POST /actions/refresh-updates",
      "GET /updates/status",
      "GET /updates/status",
      "GET /updates/status",
    ]);
  });

  it("with no baseline (404), any command of the right type completes it", async () => {
    const transport = new ScriptedTransport([
      { status: 404, body: "uninitialized" },
      { status: 204, body: "" },
      statusBody({ most_recent_command: cmdAt("refresh", "2025-01-01T00:00:00Z", true) }),
    ]);
    const client = new BottlerocketApiClient({ transport, ...noSleep });
    await rejectsWith(client.refresh(), "BRUPOP_E_HOST_COMMAND_FAILED");
  });

  it("a status that goes back to uninitialised mid-command is an error", async () => {
    const transport = new ScriptedTransport([
      { status: 404, body: "" },
      { status: 204, body: "" },
      { status: 404, body: "" },
    ]);
    await rejectsWith(new BottlerocketApiClient({ transport, ...noSleep }).prepare(), "BRUPOP_E_HOST_API");
  });

  it("malformed answers are BRUPOP_E_HOST_API naming the problem", async () => {
    const bad: HostResponse[] = [
      { status: 200, body: "not json" },
      { status: 200, body: JSON.stringify({ update_state: "Sideways" }) },
      statusBody({ available_updates: ["latest"] }),
      statusBody({ most_recent_command: { ...cmdAt("refresh", "yesterday") } }),
    ];
    for (const answer of bad) {
      const client = new BottlerocketApiClient({ transport: new ScriptedTransport([answer]), ...noSleep });
      await rejectsWith(client.updateStatus(), "BRUPOP_E_HOST_API", (d) =>
        assert.equal(d.reason, "malformed-response"),
      );
    }
    const os = new BottlerocketApiClient({
      transport: new ScriptedTransport([{ status: 200, body: JSON.stringify({ pretty_name: "x" }) }]),
    });
    await rejectsWith(os.osInfo(), "BRUPOP_E_HOST_API");
  });

  it("an unexpected status code on a read is BRUPOP_E_HOST_API with that status", async () => {
    const client = new BottlerocketApiClient({
      transport: new ScriptedTransport([{ status: 500, body: "boom" }]),
      ...noSleep,
    });
    await rejectsWith(client.updateStatus(), "BRUPOP_E_HOST_API", (d) => {
      assert.equal(d.status, 500);
      assert.equal(d.body, "boom");
    });
  });

  it("the deadline is measured on the injected clock", async () => {
    let now = 0;
    const transport = new ScriptedTransport([
      { status: 404, body: "" },
      { status: 204, body: "" },
      ...Array.from({ length: 50 }, () => ({ status: 423, body: "" })),
    ]);
    const client = new BottlerocketApiClient({
      transport,
      now: () => now,
      sleep: (ms) => {
        now += ms;
        return Promise.resolve();
      },
      pollIntervalMs: 100,
      maxPollIntervalMs: 1_000,
    });
    // activate's default limit is 5 s of (virtual) time.
    await rejectsWith(client.activate(), "BRUPOP_E_HOST_TIMEOUT", (d) => assert.equal(d.limitMs, 5_000));
    assert.ok(now <= 5_000, `never slept past the deadline (${now})`);
    assert.ok(transport.calls.length < 20, `backed off (${transport.calls.length} calls)`);
  });
});

describe("completed()", () => {
  const base = statusBody({ most_recent_command: cmdAt("prepare", "2025-01-01T00:00:01Z") });
  const s = JSON.parse(base.body) as UpdateStatus;
  it("needs the same type and a newer timestamp", () => {
    assert.equal(completed("prepare", null, s), true);
    assert.equal(completed("prepare", "2025-01-01T00:00:00.999999999Z", s), true);
    assert.equal(completed("prepare", "2025-01-01T00:00:01Z", s), false);
    assert.equal(completed("refresh", null, s), false);
  });
});

describe("BottlerocketApiClient on virtual time (in-process host)", () => {
  it("waits out a 10-minute prepare and times out a hung one without real waiting", async () => {
    const { ManualClock } = await import("../clock.js");
    const { ManualTimers } = await import("../../kit/simulator/timers.js");
    const { ReleaseCatalog } = await import("../../kit/simulator/releases.js");
    const { SimulatedHost } = await import("../../kit/simulator/host.js");
    const { InProcessTransport } = await import("../../kit/simulator/routes.js");
    const clock = new ManualClock("2025-01-01T00:00:00Z");
    const timers = new ManualTimers(clock);
    const host = new SimulatedHost({
      id: "v",
      version: "1.19.0",
      releases: new ReleaseCatalog([{ version: "1.20.0", releasedAt: 0 }]),
      durations: { refresh: 2_000, prepare: 540_000 },
      clock,
      timers,
    });
    const client = new BottlerocketApiClient({
      transport: new InProcessTransport(host),
      now: () => clock.now().getTime(),
      sleep: (ms) => {
        timers.advance(ms);
        return Promise.resolve();
      },
    });
    const started = clock.now().getTime();
    await client.refresh();
    assert.equal((await client.prepare()).update_state, "Staged");
    const took = clock.now().getTime() - started;
    assert.ok(took >= 542_000 && took < 560_000, `virtual ${took} ms`);

    host.hang("activate");
    await rejectsWith(client.activate(), "BRUPOP_E_HOST_TIMEOUT", (d) => assert.equal(d.limitMs, 5_000));
    host.unhang("activate");
    assert.equal((await client.updateStatus())?.update_state, "Ready");
    host.disconnect();
    await rejectsWith(client.osInfo(), "BRUPOP_E_HOST_UNREACHABLE");
  });
});
