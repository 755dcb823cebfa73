import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { buildFleetStatus } from "../../src/status/core.js";
import {
  ago,
  asked,
  input,
  node,
  NOW,
  pdb,
  pod,
  settings,
  shadow,
  TO,
  upToDate,
} from "../../test/kit/status-fixtures.js";
import { LiveScreen, ENTER_ALT_SCREEN, HOME, LEAVE_ALT_SCREEN } from "../../src/status/screen.js";
import {
  demoRows,
  diffLines,
  fitTable,
  formatElapsed,
  progressBar,
  renderFrame,
  renderSummary,
  renderTimeout,
  scheduleNotice,
  truncate,
  type DemoRow,
  type Frame,
  type SeenFailure,
} from "./view.js";
import { KEY_FOOTER } from "./script.js";

const TITLE = '6 nodes 1.19.0 → 1.20.0, max concurrent 2, schedule "* * * * * * *" (window)';

/** A fleet with one node in each situation the demo must explain. */
function mixedFleet(failures = new Map<string, SeenFailure>()): DemoRow[] {
  const webPod = pod("default", "demo-web-1", { app: "demo-web" });
  const status = buildFleetStatus(
    input(
      [
        upToDate("demo-node-0"),
        asked("demo-node-1", "StagedAndPerformedUpdate", 5, "Idle"),
        shadow(
          "demo-node-2",
          { state: "RebootedIntoUpdate", state_transition_timestamp: ago(30), version: TO },
          { current_state: "StagedAndPerformedUpdate" },
        ),
        shadow(
          "demo-node-3",
          {},
          { crash_count: 1, state_transition_failure_timestamp: ago(20), current_state: "Idle" },
        ),
        shadow("demo-node-4"),
        shadow("demo-node-5"),
      ],
      [
        node("demo-node-0"),
        node("demo-node-1"),
        node("demo-node-2", { cordoned: true }),
        node("demo-node-3"),
        node("demo-node-4"),
        node("demo-node-5"),
      ],
      {
        state: settings({ maxConcurrent: 2 }),
        drain: {
          "demo-node-2": { pods: [webPod], pdbs: [pdb("default", "demo-web", { app: "demo-web" }, 0)] },
        },
      },
    ),
  );
  return demoRows(status, TO, failures);
}

const injected: SeenFailure = { command: "prepare", text: "demo: injected prepare failure" };

/** Frames of many nodes: 30 nodes, 12 done, 2 updating, the rest waiting for a slot. */
function bigFleet(count: number): DemoRow[] {
  const shadows = Array.from({ length: count }, (_, i) => {
    const n = `demo-node-${i}`;
    if (i < 12) return upToDate(n);
    if (i < 14) return asked(n, "StagedAndPerformedUpdate", 3, "Idle");
    return shadow(n);
  });
  const nodes = shadows.map((s) => node((s.metadata?.name ?? "").replace(/^brs-/, "")));
  return demoRows(buildFleetStatus(input(shadows, nodes)), TO);
}

function frameOf(rows: DemoRow[], events: string[] = []): Frame {
  return { title: TITLE, elapsedMs: 83_000, rows, events };
}

const GOLDEN_DIR = new URL("./testdata/", import.meta.url);

/** Compares with testdata/<name>.txt; BRUPOP_UPDATE_GOLDEN=1 rewrites it. */
function golden(name: string, lines: string[]): void {
  const file = new URL(`${name}.txt`, GOLDEN_DIR);
  const text = `${lines.join("\n")}\n`;
  if (process.env["BRUPOP_UPDATE_GOLDEN"] === "1") writeFileSync(file, text);
  assert.equal(text, readFileSync(file, "utf8"), `golden frame ${name} (BRUPOP_UPDATE_GOLDEN=1 to rewrite)`);
}

function assertFits(lines: string[], columns: number, rows: number): void {
  assert.ok(lines.length <= rows, `${lines.length} lines > ${rows}`);
  for (const l of lines)
    assert.ok([...l].length <= columns, `too wide (${[...l].length} > ${columns}): ${l}`);
}

describe("demo rows", () => {
  const rows = mixedFleet(new Map([["demo-node-3", injected]]));
  const why = (n: string) => rows.find((r) => r.node === n)?.why ?? "";

  it("say why each node waits or is stuck, with brupop status's reasons", () => {
    assert.equal(why("demo-node-0"), "up to date");
    assert.match(
      why("demo-node-2"),
      /^drain blocked by PodDisruptionBudget default\/demo-web \(0 disruptions/,
    );
    assert.match(why("demo-node-3"), /^back-off until 2030-06-01T12:02:40Z \(in 2m\) after 1 failed attempt/);
    assert.match(why("demo-node-4"), /^concurrency full \(2 of 2 updating\)$/);
  });

  it("add the cause of a failure the demo saw to the back-off reason", () => {
    assert.match(why("demo-node-3"), /; last: prepare failed: demo: injected prepare failure$/);
  });

  it("prefer the agent's own failure (status.failure) to the host stderr the demo saw", () => {
    const status = buildFleetStatus(
      input(
        [
          shadow(
            "demo-node-3",
            {},
            {
              crash_count: 1,
              state_transition_failure_timestamp: ago(20),
              failure: {
                state: "StagedAndPerformedUpdate",
                reason: "HostCommandFailed",
                message: "host prepare failed (exit 1): demo: injected prepare failure",
                timestamp: ago(20),
              },
            },
          ),
        ],
        [node("demo-node-3")],
        { state: settings({ maxConcurrent: 2 }) },
      ),
    );
    const [row] = demoRows(status, TO, new Map([["demo-node-3", injected]]));
    assert.match(
      row?.why ?? "",
      /after 1 failed attempt; last: HostCommandFailed reaching StagedAndPerformedUpdate: host prepare failed \(exit 1\): demo: injected prepare failure$/,
    );
  });

  it("mark done and active nodes", () => {
    assert.deepEqual(
      rows.map((r) => [r.node, r.done, r.active]),
      [
        ["demo-node-0", true, false],
        ["demo-node-1", false, true],
        ["demo-node-2", false, true],
        ["demo-node-3", false, false],
        ["demo-node-4", false, false],
        ["demo-node-5", false, false],
      ],
    );
  });
});

describe("demo frames (golden)", () => {
  const events = [
    "00:01 demo-node-1: Idle → StagedAndPerformedUpdate, 1.19.0 → 1.20.0 — updating to 1.20.0",
    "00:04 demo-node-3: prepare failed: demo: injected prepare failure",
  ];
  const cases: [string, DemoRow[], number, number][] = [
    ["mixed-80x24", mixedFleet(new Map([["demo-node-3", injected]])), 80, 24],
    ["mixed-160x45", mixedFleet(new Map([["demo-node-3", injected]])), 160, 45],
    ["30-nodes-160x45", bigFleet(30), 160, 45],
    ["30-nodes-80x24", bigFleet(30), 80, 24],
  ];
  for (const [name, rows, columns, height] of cases) {
    it(`${name}: fits the terminal, title kept`, () => {
      const lines = renderFrame(frameOf(rows, events), { columns, rows: height });
      assertFits(lines, columns, height);
      assert.ok(lines[0]?.startsWith("brupop demo  01:23  6 nodes"), "title first");
      golden(name, lines);
    });
  }

  // The playground (issue 32): the UpdatePolicy's line under the title, the keys on the last line.
  it("playground-80x24: the policy line under the title, the keys' footer on the last line", () => {
    const frame: Frame = {
      ...frameOf(mixedFleet(new Map([["demo-node-3", injected]])), events),
      policy: "UpdatePolicy default: paused (spec.paused); limit 2",
      footer: KEY_FOOTER,
    };
    const lines = renderFrame(frame, { columns: 80, rows: 24 });
    assertFits(lines, 80, 24);
    assert.equal(lines.length, 24, "the footer sits on the terminal's last line");
    assert.equal(lines[1], "UpdatePolicy default: paused (spec.paused); limit 2");
    assert.equal(lines.at(-1), KEY_FOOTER);
    golden("playground-80x24", lines);
  });

  it("never cuts a version; narrow terminals get the WHY on a line of its own", () => {
    for (const columns of [60, 80, 100, 160]) {
      const { header, rows } = fitTable(mixedFleet(new Map([["demo-node-3", injected]])), columns);
      assertFits([header, ...rows.flat()], columns, 100);
      for (const [row] of rows) assert.match(row ?? "", /1\.(19|20)\.0( → 1\.20\.0)?(\s|$)/);
    }
    const withFailure = fitTable(mixedFleet(new Map([["demo-node-3", injected]])), 80).rows[3] ?? [];
    assert.deepEqual(withFailure.slice(1), [
      "  └ back-off until 2030-06-01T12:02:40Z (in 2m) after 1 failed attempt; last:",
      "    prepare failed: demo: injected prepare failure",
    ]);
    const narrow = fitTable(mixedFleet(), 80);
    assert.match(narrow.rows[2]?.[1] ?? "", /^ {2}└ drain blocked by PodDisruptionBudget default\/demo-web/);
  });

  it("shows unfinished nodes first when not all fit, and says how many are hidden", () => {
    const lines = renderFrame(frameOf(bigFleet(30)), { columns: 100, rows: 12 });
    assert.ok(lines.length <= 12);
    assert.ok(!lines.some((l) => /^demo-node-0 /.test(l)), "a done node is hidden first");
    assert.ok(
      lines.some((l) => /^demo-node-12 /.test(l)),
      "an updating node is shown",
    );
    assert.ok(lines.some((l) => /^… \d+ more nodes \(12 done\)$/.test(l)));
  });

  it("shows a schedule note under the title", () => {
    const lines = renderFrame(
      { ...frameOf(mixedFleet()), notes: ["note: closed"] },
      { columns: 80, rows: 24 },
    );
    assert.equal(lines[1], "note: closed");
  });
});

describe("LiveScreen", () => {
  it("enters the alternate screen, draws from the home position, skips unchanged frames, leaves", () => {
    const out: string[] = [];
    const screen = new LiveScreen((t) => out.push(t));
    screen.enter();
    assert.equal(screen.draw(["a", "b"]), true);
    assert.equal(screen.draw(["a", "b"]), false, "unchanged: nothing written");
    assert.equal(screen.draw(["a", "c"]), true);
    screen.leave();
    assert.equal(out[0], ENTER_ALT_SCREEN);
    assert.equal(out[1], `${HOME}a\x1b[K\nb\x1b[K\x1b[J`);
    assert.equal(out.length, 4);
    assert.equal(out[3], LEAVE_ALT_SCREEN);
    assert.ok(
      !out.join("").includes("\x1b[2J", ENTER_ALT_SCREEN.length),
      "never clears the screen per frame",
    );
  });

  it("redraws after invalidate (terminal resized)", () => {
    const out: string[] = [];
    const screen = new LiveScreen((t) => out.push(t));
    screen.enter();
    screen.draw(["a"]);
    screen.invalidate();
    assert.equal(screen.draw(["a"]), true);
  });
});

describe("demo text", () => {
  it("formats elapsed time as mm:ss", () => {
    assert.equal(formatElapsed(0), "00:00");
    assert.equal(formatElapsed(83_400), "01:23");
  });

  it("truncates with an ellipsis", () => {
    assert.equal(truncate("abcdef", 4), "abc…");
    assert.equal(truncate("abc", 4), "abc");
  });

  it("draws a progress bar", () => {
    assert.equal(progressBar(1, 2, 10), "[#####-----] 1/2 nodes on the new version");
  });

  it("prints a progress line when a node's state or reason changes, not when only the clock moves", () => {
    const before = mixedFleet();
    const later = buildFleetStatus({
      ...input([shadow("demo-node-4")], [node("demo-node-4")], { state: settings({ maxConcurrent: 2 }) }),
      now: new Date(NOW.getTime() + 30_000),
    });
    const same = demoRows(later, TO).filter((r) => r.node === "demo-node-4");
    const row4 = before.filter((r) => r.node === "demo-node-4");
    assert.deepEqual(diffLines(row4, row4, 1000), []);
    assert.equal(
      diffLines([], same, 61_000)[0],
      "01:01 demo-node-4: Idle, 1.19.0 → 1.20.0 — starts updating to 1.20.0 at the controller's next tick",
    );
  });

  it("summary says how many failures there were and that they recovered", () => {
    const text = renderSummary(
      64_000,
      [
        { node: "demo-node-0", startedMs: 1000, finishedMs: 60_000, failures: [injected] },
        { node: "demo-node-1", startedMs: 2000, finishedMs: 12_000, failures: [] },
      ],
      TO,
    );
    assert.match(
      text,
      /^All 2 nodes run 1\.20\.0\. Total time 64\.0 s\. 1 failure, recovered after back-off\.$/m,
    );
    assert.match(
      text,
      /^demo-node-0 +00:01 +01:00 +59\.0 s +1 failure \(prepare failed: demo: injected prepare failure\), recovered after back-off$/m,
    );
    assert.match(text, /^demo-node-1 +00:02 +00:12 +10\.0 s$/m);
  });

  it("on timeout names every node that did not finish and why", () => {
    const rows = mixedFleet(new Map([["demo-node-3", injected]]));
    const text = renderTimeout(
      30_000,
      rows,
      rows.map((r) => ({ node: r.node, startedMs: null, finishedMs: null, failures: [] })),
    );
    assert.match(text, /^The rollout did not finish within 30 s: 5 of 6 nodes not done\.$/m);
    assert.match(text, /^ {2}demo-node-2: .*drain blocked by PodDisruptionBudget default\/demo-web/m);
    assert.match(text, /^ {2}demo-node-3: .*back-off until .*injected prepare failure$/m);
    assert.ok(!/demo-node-0/.test(text), "finished nodes are not listed");
  });

  it("warns at start when the schedule cannot open before --timeout", () => {
    const now = new Date("2030-06-01T12:00:00Z");
    assert.equal(scheduleNotice(0, 60_000, "* * * * * * *", now), undefined);
    assert.equal(scheduleNotice(30_000, 60_000, "x", now), undefined);
    assert.equal(
      scheduleNotice(3_600_000, 60_000, "* * 13 * * * *", now),
      'note: the schedule "* * 13 * * * *" first lets updates start at 2030-06-01T13:00:00Z, after --timeout (60 s); no node will update before the demo gives up.',
    );
    assert.match(scheduleNotice(null, 60_000, "x", now) ?? "", /never opens again/);
  });
});
