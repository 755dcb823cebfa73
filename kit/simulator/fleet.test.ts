import assert from "node:assert/strict";
import { once } from "node:events";
import { access } from "node:fs/promises";
import { afterEach, describe, it } from "node:test";
import { BottlerocketApiClient } from "../../src/bottlerocket/client.js";
import type { RebootEvent, RebootedEvent } from "./host.js";
import { SimulatedFleet } from "./fleet.js";
import { measureFleetMemory } from "./measure-memory.js";

describe("SimulatedFleet", () => {
  let fleet: SimulatedFleet | undefined;
  afterEach(async () => fleet?.close());

  it("serves many hosts on their own sockets, sharing one release list", async () => {
    fleet = await SimulatedFleet.create({ durations: { refresh: 1, prepare: 2, activate: 1, reboot: 10 } });
    await fleet.addHosts(
      Array.from({ length: 20 }, (_, i) => ({ id: `n${i}`, version: "1.19.0", seed: i * 100 })),
      8,
    );
    assert.equal(fleet.size, 20);
    // Seeds below 1000 see it now; the rest only after a minute.
    fleet.releases.add({
      version: "1.20.0",
      waves: [
        { seed: 1000, startAfterMs: 0 },
        { seed: 2048, startAfterMs: 60_000 },
      ],
    });
    const states = await Promise.all(
      [...fleet.members()].map(async (m) => {
        const client = new BottlerocketApiClient({ socketPath: m.socketPath, pollIntervalMs: 1 });
        return [m.host.seed, (await client.refresh()).update_state] as const;
      }),
    );
    for (const [seed, state] of states)
      assert.equal(state, seed < 1000 ? "Available" : "Idle", `seed ${seed}`);
  });

  it("reports reboots with host id and versions, and 'rebooted' once the socket answers again", async () => {
    fleet = await SimulatedFleet.create({
      durations: { refresh: 1, prepare: 2, activate: 1, reboot: 20 },
      releases: [{ version: "1.20.0", releasedAt: 0 }],
    });
    const { socketPath } = await fleet.addHost({ id: "node-b", version: "1.19.0" });
    const client = new BottlerocketApiClient({ socketPath, pollIntervalMs: 1 });
    await client.refresh();
    await client.prepare();
    await client.activate();
    const reboot = once(fleet, "reboot") as Promise<[RebootEvent]>;
    const rebooted = once(fleet, "rebooted") as Promise<[RebootedEvent]>;
    await client.reboot();
    const [down] = await reboot;
    assert.deepEqual(down, {
      hostId: "node-b",
      fromVersion: "1.19.0",
      toVersion: "1.20.0",
      rollback: false,
      downMs: 20,
    });
    const [up] = await rebooted;
    assert.equal(up.version, "1.20.0");
    assert.equal((await client.osInfo()).version_id, "1.20.0", "answers as soon as 'rebooted' fires");
  });

  it("rejects duplicate ids and ids that are not file names; close removes its directory", async () => {
    fleet = await SimulatedFleet.create();
    await fleet.addHost({ id: "a", version: "1.19.0" });
    await assert.rejects(fleet.addHost({ id: "a", version: "1.19.0" }), /already exists/);
    await assert.rejects(fleet.addHost({ id: "../x", version: "1.19.0" }), /not a file name/);
    const dir = fleet.dir;
    await fleet.close();
    fleet = undefined;
    await assert.rejects(access(dir), { code: "ENOENT" });
  });

  it("keeps memory per host far below 1 MiB (docs/bottlerocket.md has the 1,000-host figure)", async () => {
    const r = await measureFleetMemory(200);
    assert.ok(r.heapBytesPerHost < 256 * 1024, `heap ${r.heapBytesPerHost} B/host`);
  });
});
