import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import {
  ENTER_ALT_SCREEN,
  ERASE_BELOW,
  ERASE_LINE,
  HOME,
  LEAVE_ALT_SCREEN,
  terminalOf,
  type Terminal,
} from "./screen.js";
import { buildFleetStatus } from "./core.js";
import { asked, input, node, NOW, shadow, upToDate } from "../../test/kit/status-fixtures.js";
import { fitStatusTable, FrameWriter, moreNodes, watchStatus } from "./watch.js";
import { systemClock } from "../clock.js";
import type { KubeApi } from "../k8s/api.js";
import { silentLogger } from "../log.js";
import type { StatusReader } from "./fetch.js";

const later = (s: number) => new Date(NOW.getTime() + s * 1000);
const snapshot = (shadows = [shadow("a")], now = NOW) =>
  buildFleetStatus({ ...input(shadows, [node("a")]), now });

/** A terminal of a given size whose resize we trigger. */
function fakeTerminal(columns = 120, rows = 40) {
  const size = { columns, rows };
  const listeners = new Set<() => void>();
  const terminal: Terminal = {
    size: () => size,
    onResize: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  const resize = (c: number, r: number) => {
    size.columns = c;
    size.rows = r;
    for (const l of listeners) l();
  };
  return { terminal, resize, listeners };
}

describe("FrameWriter (what --watch writes)", () => {
  it("pipe / JSON: a document only when the facts change", () => {
    const out: string[] = [];
    const w = new FrameWriter("json", (t) => out.push(t));
    assert.equal(w.push(snapshot(), NOW), true);
    assert.equal(w.push(snapshot(undefined, later(30)), later(30)), false); // only time moved
    assert.equal(w.push(snapshot([upToDate("a")]), later(31)), true);
    assert.equal(out.length, 2);
    for (const line of out) assert.equal(line.split("\n").length, 2); // one line each
  });

  it("pipe / table: frames separated by a blank line, no escape codes", () => {
    const out: string[] = [];
    const w = new FrameWriter("table", (t) => out.push(t));
    w.push(snapshot(), NOW);
    w.push(snapshot([asked("a", "StagedAndPerformedUpdate", 1, "Idle")]), NOW);
    w.stop();
    assert.equal(out.length, 2);
    assert.ok(out[0]?.startsWith("NODE"));
    assert.ok(out[1]?.startsWith("\nNODE"));
    assert.ok(!out.join("").includes("\x1b"));
  });

  it("terminal / JSON: plain documents, no live view", () => {
    const out: string[] = [];
    const w = new FrameWriter("json", (t) => out.push(t), fakeTerminal().terminal);
    w.push(snapshot(), NOW);
    w.stop();
    assert.ok(!out.join("").includes("\x1b"));
  });

  it("terminal / table: alternate screen once, drawn in place only when the text changes, left on stop", () => {
    const out: string[] = [];
    const w = new FrameWriter("table", (t) => out.push(t), fakeTerminal().terminal);
    const backoff = [
      shadow("a", {}, { crash_count: 3, state_transition_failure_timestamp: NOW.toISOString() }),
    ];
    assert.equal(w.push(snapshot(backoff), NOW), true);
    assert.equal(w.push(snapshot(backoff, NOW), NOW), false); // identical text: nothing written
    assert.equal(out.length, 2);
    assert.equal(w.push(snapshot(backoff, later(60)), later(60)), true); // "in 8m" → "in 7m"
    w.stop();
    w.stop();
    assert.equal(w.push(snapshot(backoff, later(120)), later(120)), false, "nothing after stop");
    assert.deepEqual(
      out.map((o) => (o === ENTER_ALT_SCREEN ? "enter" : o === LEAVE_ALT_SCREEN ? "leave" : "frame")),
      ["enter", "frame", "frame", "leave"],
    );
    for (const frame of out.slice(1, 3)) {
      assert.ok(frame.startsWith(`${HOME}NODE`));
      assert.ok(!frame.includes("\x1b[2J"), "no clear per frame");
    }
    assert.ok(out[1]?.includes("limit "), "the summary is drawn");
  });

  it("terminal / table: a resize redraws the same frame fitted to the new size", () => {
    const out: string[] = [];
    const term = fakeTerminal(120, 40);
    const w = new FrameWriter("table", (t) => out.push(t), term.terminal);
    w.push(snapshot(), NOW);
    w.resized();
    assert.equal(out.length, 3, "redrawn even though the text is the same");
    term.resize(10, 40);
    w.resized();
    const plain = (out[3] ?? "").replace(HOME, "").replaceAll(ERASE_LINE, "").replaceAll(ERASE_BELOW, "");
    assert.ok(
      plain.split("\n").every((l) => [...l].length <= 10),
      plain,
    );
    assert.ok(plain.includes("…"));
  });
});

describe("fitStatusTable", () => {
  const text = "HEADER\nn1\nn2\nn3\nn4\nn5\n\nsummary\nnote\n";
  const cases: { rows: number; want: string[] }[] = [
    { rows: 40, want: ["HEADER", "n1", "n2", "n3", "n4", "n5", "", "summary", "note"] },
    { rows: 9, want: ["HEADER", "n1", "n2", "n3", "n4", "n5", "", "summary", "note"] },
    { rows: 8, want: ["HEADER", "n1", "n2", "n3", moreNodes(2), "", "summary", "note"] },
    { rows: 6, want: ["HEADER", "n1", moreNodes(4), "", "summary", "note"] },
    { rows: 5, want: ["HEADER", moreNodes(5), "", "summary", "note"] },
  ];
  for (const c of cases)
    it(`${c.rows} rows: header and summary kept, nodes that do not fit summed up`, () => {
      assert.deepEqual(fitStatusTable(text, 5, { columns: 200, rows: c.rows }), c.want);
    });

  it("no nodes: the message and the summary", () => {
    const t = "No managed nodes in namespace x.\n\nsummary\n";
    assert.deepEqual(fitStatusTable(t, 0, { columns: 200, rows: 2 }), [
      "No managed nodes in namespace x.",
      "",
    ]);
    assert.deepEqual(fitStatusTable(t, 0, { columns: 200, rows: 3 }), t.trimEnd().split("\n"));
  });

  it("cuts lines to the width", () => {
    assert.deepEqual(fitStatusTable("HEADER\nn1\n\nsummary\n", 1, { columns: 4, rows: 10 }), [
      "HEA…",
      "n1",
      "",
      "sum…",
    ]);
  });
});

describe("terminalOf", () => {
  /** A fake stdout: a TTY with columns/rows that records what is written. */
  function fakeStream(isTTY: boolean) {
    const out: string[] = [];
    const stream = Object.assign(new EventEmitter(), {
      isTTY,
      columns: 100,
      rows: 8,
      write: (t: string) => out.push(t) > 0,
    });
    return { stream, out, asStream: stream as unknown as NodeJS.WriteStream };
  }

  it("a pipe is not a terminal: plain frames", () => {
    assert.equal(terminalOf(fakeStream(false).asStream), undefined);
  });

  it("a TTY: its size at each frame, resize events, and the live view drawn on it", () => {
    const { stream, out, asStream } = fakeStream(true);
    const terminal = terminalOf(asStream);
    assert.ok(terminal !== undefined);
    assert.deepEqual(terminal.size(), { columns: 100, rows: 8 });
    const w = new FrameWriter("table", (t) => stream.write(t), terminal);
    const off = terminal.onResize(() => w.resized());
    const names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
    const fleet = buildFleetStatus({
      ...input(
        names.map((n) => shadow(n)),
        names.map((n) => node(n)),
      ),
      now: NOW,
    });
    w.push(fleet, NOW);
    const frame = (out[1] ?? "").split("\n");
    assert.equal(frame.length, 8, "fitted to 8 rows");
    assert.match(frame.at(-1) ?? "", /^10 nodes: /, "the summary stays");
    assert.match(frame.at(-3) ?? "", /^… \d+ more nodes/);
    stream.rows = 30;
    stream.emit("resize");
    assert.equal(out.length, 3);
    assert.ok((out[2] ?? "").split("\n").length > 10, "all nodes after the resize");
    off();
    assert.equal(stream.listenerCount("resize"), 0);
    w.stop();
    assert.equal(out.at(-1), LEAVE_ALT_SCREEN);
  });
});

describe("watchStatus on a terminal", () => {
  // The informers' API is down (they retry quietly): only the first, direct read is drawn.
  const rest = {
    request: () => Promise.reject(new Error("down")),
    watch: () => Promise.reject(new Error("down")),
  } as unknown as KubeApi;
  const reader = (fail: boolean) =>
    ({
      namespace: "ns",
      configMapName: "brupop-controller-state",
      snapshot: () =>
        fail
          ? Promise.reject(new Error("cannot reach"))
          : Promise.resolve({ ...input([shadow("a")], [node("a")]), now: NOW }),
      readDrain: () => Promise.resolve({}),
    }) as unknown as StatusReader;
  const deps = (fail: boolean) => ({
    rest,
    reader: reader(fail),
    clock: systemClock,
    logger: silentLogger(),
  });

  it("Ctrl-C: the alternate screen is left and the resize hook removed", async () => {
    const out: string[] = [];
    const term = fakeTerminal();
    const stop = new AbortController();
    const done = watchStatus(deps(false), {
      format: "table",
      terminal: term.terminal,
      write: (t) => out.push(t),
      signal: stop.signal,
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(out[0], ENTER_ALT_SCREEN);
    assert.equal(term.listeners.size, 1);
    stop.abort();
    await done;
    assert.equal(out.at(-1), LEAVE_ALT_SCREEN);
    assert.equal(out.filter((o) => o === ENTER_ALT_SCREEN).length, 1);
    assert.equal(term.listeners.size, 0);
  });

  it("a first read that fails: the error, and the screen never touched", async () => {
    const out: string[] = [];
    await assert.rejects(
      watchStatus(deps(true), {
        format: "table",
        terminal: fakeTerminal().terminal,
        write: (t) => out.push(t),
        signal: new AbortController().signal,
      }),
      /cannot reach/,
    );
    assert.deepEqual(out, []);
  });
});
