import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { documentedEvents, notePattern } from "../../../test/kit/event-docs.js";
import { CONTROLLER_EVENTS } from "./event-reasons.js";
import { describeChange, specChangeEvent } from "./spec-write.js";
import type { SpecChange } from "../decide/decisions.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const documented = documentedEvents(ROOT);

describe("the documented Event reasons are the controller's catalogue", () => {
  it("finds the tables (controller.md and policy.md)", () => {
    assert.deepEqual([...new Set(documented.map((d) => d.doc))].sort(), [
      "docs/controller.md",
      "docs/policy.md",
    ]);
  });

  it("documents every reason the controller records, and no other", () => {
    assert.deepEqual(
      [...new Set(documented.map((d) => d.reason))].sort(),
      Object.keys(CONTROLLER_EVENTS).sort(),
    );
  });

  for (const d of documented) {
    it(`${d.reason} (${d.doc}): type and action as recorded, on objects brupop knows`, () => {
      const kind = CONTROLLER_EVENTS[d.reason as keyof typeof CONTROLLER_EVENTS];
      assert.deepEqual([d.type, d.action], [kind.type, kind.action]);
      assert.ok(d.regarding.length > 0);
      for (const k of d.regarding) assert.ok(["BottlerocketShadow", "Node", "UpdatePolicy"].includes(k), k);
    });
  }

  it("a documented note matches the text the controller writes", () => {
    const progress = documented.filter((d) => d.reason === "Progress").map((d) => d.pattern);
    const text = describeChange({
      name: "brs-n1",
      resourceVersion: "1",
      from: { state: "MonitoringUpdate", version: "1.20.0", state_transition_timestamp: null },
      to: { state: "Idle", version: "1.20.0", state_transition_timestamp: null },
      reason: "progress",
    });
    assert.ok(
      progress.some((p) => p.test(text)),
      text,
    );
    assert.ok(notePattern("a <x> (b)").test("a anything (b)"));
    assert.ok(!notePattern("a <x> (b)").test("a anything b"));
  });

  it("only the steps a person looks for earn an Event (issue 30: each one is a write per update)", () => {
    const spec = (state: string) => ({ state, version: "1.20.0", state_transition_timestamp: null });
    const cases: [SpecChange["reason"], string, string, string | undefined][] = [
      ["start", "Idle", "StagedAndPerformedUpdate", "StartUpdate"],
      ["progress", "StagedAndPerformedUpdate", "RebootedIntoUpdate", undefined],
      ["progress", "RebootedIntoUpdate", "MonitoringUpdate", undefined],
      ["progress", "MonitoringUpdate", "Idle", "Progress"],
      ["recover", "RebootedIntoUpdate", "Idle", "Recover"],
      ["initialise", "StagedAndPerformedUpdate", "Idle", "Initialise"],
      ["reset", "Idle", "Idle", undefined],
    ];
    for (const [reason, from, to, want] of cases) {
      const change = {
        name: "brs-n1",
        resourceVersion: "1",
        from: spec(from),
        to: spec(to),
        reason,
      } as SpecChange;
      assert.equal(specChangeEvent(change), want, `${reason} ${from} → ${to}`);
    }
  });
});
