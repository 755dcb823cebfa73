import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { buildFleetStatus } from "./core.js";
import { formatDuration, formatTime, timeWithRelative } from "./format.js";
import { changeKey, renderStatus } from "./output.js";
import { alignColumns, renderTable, summaryLine } from "./table.js";
import { ago, asked, input, node, NOW, settings, shadow, upToDate } from "../../test/kit/status-fixtures.js";

describe("format", () => {
  it("formatDuration like kubectl ages", () => {
    const cases: [number, string][] = [
      [0, "0s"],
      [45_400, "45s"],
      [60_000, "1m"],
      [12 * 60_000 + 59_000, "12m"],
      [2 * 3600_000, "2h"],
      [2 * 3600_000 + 13 * 60_000, "2h13m"],
      [3 * 86400_000, "3d"],
      [3 * 86400_000 + 4 * 3600_000, "3d4h"],
      [-5_000, "0s"],
    ];
    for (const [ms, want] of cases) assert.equal(formatDuration(ms), want, String(ms));
  });

  it("formatTime rounds up to whole seconds (an 'until' is never shown early)", () => {
    assert.equal(formatTime("2030-06-01T12:00:00.000Z"), "2030-06-01T12:00:00Z");
    assert.equal(formatTime("2030-06-01T12:00:00.001Z"), "2030-06-01T12:00:01Z");
    assert.equal(formatTime("garbage"), "garbage");
  });

  it("timeWithRelative", () => {
    assert.equal(timeWithRelative("2030-06-01T12:07:00.000Z", NOW), "2030-06-01T12:07:00Z (in 7m)");
    assert.equal(timeWithRelative("2030-06-01T11:50:00.000Z", NOW), "2030-06-01T11:50:00Z (10m ago)");
  });
});

describe("alignColumns (kubectl tabwriter: minwidth 10, padding 3)", () => {
  it("pads every column but the last to its widest cell + 3, at least 10", () => {
    const out = alignColumns([
      ["NODE", "WHY"],
      ["a-very-long-node-name", "x"],
      ["b", "something long"],
    ]);
    assert.equal(
      out,
      [
        "NODE                    WHY",
        "a-very-long-node-name   x",
        "b                       something long",
      ].join("\n"),
    );
    assert.equal(alignColumns([["A", "B"]]), "A         B");
  });
});

describe("renderTable", () => {
  const fleet = buildFleetStatus(
    input(
      [
        upToDate("node-a"),
        asked("node-b", "StagedAndPerformedUpdate", 60, "Idle"),
        shadow("node-c", {}, { crash_count: 3, state_transition_failure_timestamp: ago(60) }),
        shadow("node-d", {}, null),
      ],
      [node("node-a"), node("node-b", { cordoned: true }), node("node-c"), node("node-d")],
    ),
  );

  it("header, one aligned row per node, then the summary", () => {
    const lines = renderTable(fleet, NOW).split("\n");
    assert.deepEqual(lines, [
      "NODE      STATE                              VERSION            CRASHES   CORDONED   WHY",
      "node-a    Idle                               1.20.0             0         no         up to date",
      "node-b    Idle -> StagedAndPerformedUpdate   1.19.0 -> 1.20.0   0         yes        updating to 1.20.0: Idle -> StagedAndPerformedUpdate",
      "node-c    Idle                               1.19.0 -> 1.20.0   3         no         back-off until 2030-06-01T12:08:00Z (in 8m) after 3 failed attempts",
      "node-d    -                                  -                  -         no         waiting for the agent's first status report",
      "",
      '4 nodes: 1 up to date, 1 updating, 1 waiting, 1 failed; schedule: window "* * * * * * *" open; limit 2 (1 active)',
      "",
    ]);
  });

  it("says when the settings are defaults, and when there is nothing to show", () => {
    const empty = buildFleetStatus(input([], [], { state: null }));
    assert.equal(
      renderTable(empty, NOW),
      [
        "No managed nodes in namespace ns.",
        "",
        '0 nodes: 0 up to date, 0 updating, 0 waiting; schedule: window "* * * * * * *" open; limit 1 (0 active)',
        "controller settings unknown (controller not running?); assuming the defaults shown",
        "",
      ].join("\n"),
    );
  });

  it("summary line: attention, closed window, trigger rounds", () => {
    const closed = buildFleetStatus(
      input([asked("a", "StagedAndPerformedUpdate", 3600, "Idle")], [node("a")], {
        state: settings({ schedule: "* * 3 * * * *", maxConcurrent: "unlimited" }),
      }),
    );
    assert.equal(
      summaryLine(closed, NOW),
      '1 node: 0 up to date, 1 updating, 0 waiting, 1 needs attention; schedule: window "* * 3 * * * *" closed until 2030-06-02T03:00:00Z (in 15h); limit unlimited (1 active)',
    );
    const trigger = (open: boolean) =>
      summaryLine(
        buildFleetStatus(
          // A round stays open only while some node still waits for the update.
          input([shadow("a")], [node("a")], {
            state: settings({ schedule: "0 0 3 * * * *" }, { lastFire: "2030-06-01T03:00:00.000Z", open }),
          }),
        ),
        NOW,
      );
    assert.match(trigger(true), /schedule: trigger "0 0 3 \* \* \* \*": round open;/);
    assert.match(
      trigger(false),
      /schedule: trigger "0 0 3 \* \* \* \*": next round at 2030-06-02T03:00:00Z \(in 15h\);/,
    );
  });
});

describe("renderStatus -o json|yaml", () => {
  const fleet = buildFleetStatus(input([upToDate("a"), shadow("b")], [node("a"), node("b")]));

  it("json and yaml carry the same versioned document", () => {
    const json = JSON.parse(renderStatus(fleet, "json", NOW)) as unknown;
    const yaml = parse(renderStatus(fleet, "yaml", NOW)) as unknown;
    assert.deepEqual(json, fleet);
    assert.deepEqual(yaml, fleet);
    assert.equal((json as { apiVersion: string }).apiVersion, "brupop.bottlerocket.aws/status-v1");
  });

  it("watch mode: one JSON document per line, YAML documents separated by ---", () => {
    const line = renderStatus(fleet, "json", NOW, true);
    assert.equal(line.split("\n").length, 2);
    assert.deepEqual(JSON.parse(line), fleet);
    assert.ok(renderStatus(fleet, "yaml", NOW, true).startsWith("---\n"));
  });

  it("changeKey ignores generatedAt and messages (relative times), not facts", () => {
    const later = buildFleetStatus({
      ...input([upToDate("a"), shadow("b")], [node("a"), node("b")]),
      now: new Date(NOW.getTime() + 1000),
    });
    assert.notEqual(later.generatedAt, fleet.generatedAt);
    assert.equal(changeKey(later), changeKey(fleet));
    const changed = buildFleetStatus(input([upToDate("a"), upToDate("b")], [node("a"), node("b")]));
    assert.notEqual(changeKey(changed), changeKey(fleet));
  });
});
