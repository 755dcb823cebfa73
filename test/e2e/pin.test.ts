// The version pin (issue 18), agent side, on a REAL control plane with real agents and simulated
// hosts: the fleet is offered 1.20.0 and 1.21.0; a node whose brs carries the pin annotation
// (written here as the controller's fleet policy would) sets its host's version lock, reports the
// pinned version as its target, updates to exactly it and stays there; an unpinned node goes to the
// newest. The TEST plays the controller (spec = the status's target_version).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { shadowNameForNode, VERSION_LOCK_ANNOTATION } from "../../src/model/constants.js";
import { shadowsPath } from "../../src/agent/objects.js";
import { e2eLogger } from "../kit/e2e.js";
import { kube, sleep } from "../kit/kube.js";
import { BrupopTestbed } from "../kit/testbed.js";

const OLD = "1.19.0";
const PINNED = "1.20.0";
const NEWEST = "1.21.0";

describe("version pin on a real control plane", { timeout: 240_000 }, () => {
  let tb: BrupopTestbed;

  before(async () => {
    tb = await BrupopTestbed.start({
      releases: [
        { version: PINNED, releasedAt: 0 },
        { version: NEWEST, releasedAt: 0 },
      ],
      hostDurations: { refresh: 100, prepare: 300, activate: 100, reboot: 400 },
      // Update checks every second, so "stays" is checked many times below.
      agentTimings: { loopIntervalMs: 500, updateCheckIntervalMs: 1_000 },
      logger: e2eLogger,
    });
  });

  after(async () => {
    await tb?.stop();
  });

  async function pin(node: string, version: string | null): Promise<void> {
    await kube(
      tb.rest,
      "PATCH",
      `${shadowsPath(tb.namespace)}/${shadowNameForNode(node)}`,
      { metadata: { annotations: { [VERSION_LOCK_ANNOTATION]: version } } },
      { contentType: "application/merge-patch+json" },
    );
  }

  it("a pinned node goes to exactly the pinned version and stays; an unpinned one to the newest", async () => {
    const [pinned, free] = (await tb.addNodes(2, { version: OLD, namePrefix: "pin-" })) as [string, string];
    await tb.waitForAll([pinned, free], "initial status", (s) => s.target_version === NEWEST);
    assert.equal(
      tb.fleet.host(pinned).versionLock,
      "latest",
      "no annotation: the host lock is untouched (latest)",
    );

    await pin(pinned, PINNED);
    const target = await tb.waitForStatus(pinned, "target = the pin", (s) => s.target_version === PINNED);
    assert.equal(target.current_state, "Idle");
    assert.equal(tb.fleet.host(pinned).versionLock, `v${PINNED}`, "the host's version lock is the pin");

    // The controller's part: update each node to the target its agent reports.
    const [a, b] = await Promise.all([tb.playController(pinned, PINNED), tb.playController(free, NEWEST)]);
    assert.equal(a.current_version, PINNED);
    assert.equal(b.current_version, NEWEST);

    // Stays: several update checks later the pinned node still reports no newer target.
    await sleep(3_500);
    const after = (await tb.shadow(pinned)).status;
    assert.equal(after?.current_version, PINNED);
    assert.equal(after?.target_version, PINNED, "1.21.0 is offered but never chosen past the pin");
    assert.equal(tb.fleet.host(pinned).version, PINNED);
    assert.equal(tb.fleet.host(pinned).versionLock, `v${PINNED}`, "the lock survived the reboot");
    assert.deepEqual(
      tb.reboots.filter((r) => r.hostId === pinned).map((r) => [r.fromVersion, r.toVersion]),
      [[OLD, PINNED]],
    );

    // Unpinned ("latest", as the controller writes when a pin is lifted): the next check goes back.
    await pin(pinned, "latest");
    await tb.waitForStatus(pinned, "target = newest again", (s) => s.target_version === NEWEST);
    assert.equal(tb.fleet.host(pinned).versionLock, "latest");
    assert.deepEqual(tb.errors, []);
  });
});
