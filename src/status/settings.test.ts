import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { roundStateToData } from "../controller/decide/gate.js";
import { settingsFromData, settingsToData, type PublishedSettings } from "../controller/act/round-store.js";
import { resolveSettings, SETTINGS_UNKNOWN_NOTE } from "./settings.js";
import { NOW } from "../../test/kit/status-fixtures.js";

const published: PublishedSettings = {
  maxConcurrent: 3,
  schedule: "0 0 3 * * * *",
  controllerNode: "ip-10-0-0-1",
  leader: "brupop-controller-7d9f-abcde",
  leaderSince: "2030-06-01T10:00:00.000Z",
};

describe("published controller settings (ConfigMap encoding)", () => {
  it("round-trips through ConfigMap data, next to the round keys", () => {
    const data = {
      ...roundStateToData({ lastFire: null, open: false }, published.schedule),
      ...settingsToData(published),
    };
    assert.deepEqual(settingsFromData(data), published);
    assert.deepEqual(settingsToData(published), {
      "max-concurrent": "3",
      schedule: "0 0 3 * * * *",
      "controller-node": "ip-10-0-0-1",
      leader: "brupop-controller-7d9f-abcde",
      "leader-since": "2030-06-01T10:00:00.000Z",
    });
    const unlimited = settingsToData({ ...published, maxConcurrent: "unlimited", controllerNode: null });
    assert.deepEqual(settingsFromData(unlimited), {
      ...published,
      maxConcurrent: "unlimited",
      controllerNode: null,
    });
  });

  it("no or broken settings → null (a round-only ConfigMap from an older controller included)", () => {
    assert.equal(settingsFromData(undefined), null);
    assert.equal(settingsFromData(roundStateToData({ lastFire: null, open: false }, "* * * * * * *")), null);
    for (const limit of ["0", "-1", "two", "1.5", ""]) {
      assert.equal(settingsFromData({ ...settingsToData(published), "max-concurrent": limit }), null, limit);
    }
    assert.equal(settingsFromData({ ...settingsToData(published), schedule: " " }), null);
  });
});

describe("resolveSettings", () => {
  it("uses what the controller published, with the round state", () => {
    const data = {
      ...roundStateToData({ lastFire: "2030-06-01T03:00:00.000Z", open: true }, published.schedule),
      ...settingsToData(published),
    };
    const s = resolveSettings(data, undefined, NOW);
    assert.equal(s.known, true);
    assert.equal(s.note, null);
    assert.equal(s.maxConcurrent, 3);
    assert.equal(s.schedule.kind, "trigger");
    assert.equal(s.controllerNode, "ip-10-0-0-1");
    assert.equal(s.leader, published.leader);
    assert.deepEqual(s.round, { lastFire: "2030-06-01T03:00:00.000Z", open: true });
  });

  it("falls back to the controller defaults with a note", () => {
    const s = resolveSettings(null, undefined, NOW);
    assert.equal(s.known, false);
    assert.equal(s.note, SETTINGS_UNKNOWN_NOTE);
    assert.equal(s.maxConcurrent, 1);
    assert.equal(s.schedule.expression, "* * * * * * *");
    assert.equal(s.schedule.kind, "window");
    assert.equal(s.leader, null);

    const bad = resolveSettings({ ...settingsToData(published), schedule: "not a cron" }, undefined, NOW);
    assert.equal(bad.known, false);
    assert.match(bad.note ?? "", /published schedule unusable: .*not a cron/);

    const forbidden = resolveSettings(null, "forbidden: nope", NOW);
    assert.equal(forbidden.note, `${SETTINGS_UNKNOWN_NOTE}: forbidden: nope`);
  });
});
