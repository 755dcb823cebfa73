import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BottlerocketShadow } from "../../model/shadow.js";
import type { ShadowState } from "../../model/state.js";
import { formatSilence, SilenceWatch, trackSilence, type SilenceEntry, type Silent } from "./silence.js";
import { brs as shadow } from "../../../test/kit/shadows.js";

const brs = (node: string, spec: ShadowState, state: ShadowState, cur = "1.19.0"): BottlerocketShadow =>
  shadow(node, { spec, state, cur, resourceVersion: undefined });

const LIMIT = 60_000;
const names = (s: Silent[]): string[] => s.map((x) => `${x.shadow} ${x.state} ${x.forMs}`);

describe("trackSilence", () => {
  it("an active node whose status does not change past the limit is silent; warned once", () => {
    const track = new Map<string, SilenceEntry>();
    const a = brs("a", "RebootedIntoUpdate", "StagedAndPerformedUpdate");
    assert.deepEqual(trackSilence(track, [a], 0, LIMIT), { silent: [], newlySilent: [] });
    assert.deepEqual(
      trackSilence(track, [a], LIMIT, LIMIT),
      { silent: [], newlySilent: [] },
      "at the limit: not yet",
    );
    const past = trackSilence(track, [a], LIMIT + 1, LIMIT);
    assert.deepEqual(names(past.silent), ["brs-a StagedAndPerformedUpdate 60001"]);
    assert.deepEqual(names(past.newlySilent), ["brs-a StagedAndPerformedUpdate 60001"]);
    const later = trackSilence(track, [a], 2 * LIMIT, LIMIT);
    assert.deepEqual(names(later.silent), ["brs-a StagedAndPerformedUpdate 120000"]);
    assert.deepEqual(later.newlySilent, [], "warned once per silence");
  });

  it("a status change restarts the clock; a new silence warns again", () => {
    const track = new Map<string, SilenceEntry>();
    trackSilence(track, [brs("a", "RebootedIntoUpdate", "StagedAndPerformedUpdate")], 0, LIMIT);
    trackSilence(track, [brs("a", "RebootedIntoUpdate", "StagedAndPerformedUpdate")], LIMIT + 1, LIMIT);
    const moved = brs("a", "RebootedIntoUpdate", "RebootedIntoUpdate", "1.20.0");
    assert.deepEqual(trackSilence(track, [moved], LIMIT + 2, LIMIT).silent, []);
    assert.equal(trackSilence(track, [moved], 2 * LIMIT + 3, LIMIT).newlySilent.length, 1);
  });

  it("Idle nodes are never silent, and leave the track; so do vanished ones", () => {
    const track = new Map<string, SilenceEntry>();
    trackSilence(
      track,
      [brs("i", "Idle", "Idle"), brs("a", "RebootedIntoUpdate", "StagedAndPerformedUpdate")],
      0,
      LIMIT,
    );
    assert.deepEqual([...track.keys()], ["brs-a"]);
    assert.deepEqual(trackSilence(track, [brs("i", "Idle", "Idle")], LIMIT * 10, LIMIT).silent, []);
    assert.equal(track.size, 0);
  });
});

describe("SilenceWatch", () => {
  it("warns through its callback, keeps the last verdicts, and restarts with a new term", () => {
    const warned: Silent[] = [];
    const w = new SilenceWatch(LIMIT, { warn: (s) => warned.push(s) });
    const a = brs("a", "MonitoringUpdate", "RebootedIntoUpdate", "1.20.0");
    const term1 = {};
    w.observe(term1, [a], 0);
    w.observe(term1, [a], LIMIT + 5);
    assert.deepEqual(names(warned), ["brs-a RebootedIntoUpdate 60005"]);
    assert.equal(w.last.get("brs-a")?.forMs, LIMIT + 5);
    w.observe({}, [a], LIMIT * 3);
    assert.equal(w.last.size, 0, "a new leader starts the clock again");
  });
});

describe("formatSilence", () => {
  it("reads like the status view", () => {
    assert.deepEqual(
      [formatSilence(42_000), formatSilence(125_000), formatSilence(3_725_000)],
      ["42s", "2m05s", "1h02m"],
    );
  });
});
