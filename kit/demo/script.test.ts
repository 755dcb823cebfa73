import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBrupopError } from "../../src/errors.js";
import {
  GROUP_LABEL,
  KEY_FOOTER,
  keyAction,
  nextRelease,
  nodeLabels,
  parseGroups,
  parseScript,
  type KeyContext,
} from "./script.js";

const NODES = ["demo-node-0", "demo-node-1", "demo-node-2"];

describe("parseScript", () => {
  it("reads every action, skips blanks and comments, sorts by time", () => {
    const text = [
      "# a playground",
      "0 pause",
      "",
      "4.5 release 1.21.0   # the next one",
      "2 fail-host demo-node-1",
      "3 resume",
      "5 unhealthy demo-node-2",
      "60 quit",
    ].join("\n");
    assert.deepEqual(parseScript(text, "s.txt", NODES), [
      { atMs: 0, action: { kind: "pause" }, line: 2 },
      { atMs: 2000, action: { kind: "fail-host", node: "demo-node-1" }, line: 5 },
      { atMs: 3000, action: { kind: "resume" }, line: 6 },
      { atMs: 4500, action: { kind: "release", version: "1.21.0" }, line: 4 },
      { atMs: 5000, action: { kind: "unhealthy", node: "demo-node-2" }, line: 7 },
      { atMs: 60000, action: { kind: "quit" }, line: 8 },
    ]);
  });

  const bad: [string, RegExp][] = [
    ["0 pause\nsoon release 1.21.0", /^--script s\.txt:2: "soon" is not a time in seconds/],
    ["-1 pause", /^--script s\.txt:1: "-1" is not a time/],
    ["1 release", /^--script s\.txt:1: release needs a version like 1\.21\.0/],
    ["1 release latest", /^--script s\.txt:1: release needs a version/],
    [
      "\n\n1 fail-host demo-node-9",
      /^--script s\.txt:3: fail-host needs one of the demo's nodes \(demo-node-0, demo-node-1, demo-node-2\)/,
    ],
    ["1 pause now", /^--script s\.txt:1: pause takes no argument \(in "1 pause now"\)$/],
    ["1 quit 2 3", /^--script s\.txt:1: unexpected "3"/],
    ["1 reboot", /^--script s\.txt:1: unknown action "reboot"; expected `<seconds> <action> \[arg\]`/],
    ["1 unhealthy", /^--script s\.txt:1: unhealthy needs one of the demo's nodes/],
    ["1 unhealthy demo-node-7", /^--script s\.txt:1: unhealthy needs one of the demo's nodes/],
  ];
  for (const [text, message] of bad) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseScript(text, "s.txt", NODES),
        (err) => isBrupopError(err) && err.code === "BRUPOP_E_CONFIG" && message.test(err.message),
      );
    });
  }
});

describe("keyAction", () => {
  const ctx: KeyContext = { newest: "1.20.0", paused: false, firstUnfinished: "demo-node-1" };
  const table: [string, KeyContext, ReturnType<typeof keyAction>][] = [
    ["n", ctx, { kind: "release", version: "1.21.0" }],
    ["n", { ...ctx, newest: "1.21.0" }, { kind: "release", version: "1.22.0" }],
    ["p", ctx, { kind: "pause" }],
    ["p", { ...ctx, paused: true }, { kind: "resume" }],
    ["f", ctx, { kind: "fail-host", node: "demo-node-1" }],
    ["f", { ...ctx, firstUnfinished: undefined }, undefined],
    ["u", ctx, { kind: "unhealthy", node: "demo-node-1" }],
    ["u", { ...ctx, firstUnfinished: undefined }, undefined],
    ["q", ctx, { kind: "quit" }],
    ["x", ctx, undefined],
    ["N", ctx, undefined],
  ];
  for (const [key, c, want] of table) {
    it(`${JSON.stringify(key)} (${JSON.stringify(c)}) → ${JSON.stringify(want)}`, () => {
      assert.deepEqual(keyAction(key, c), want);
    });
  }
  it("the footer names every key", () => {
    for (const k of ["n ", "p ", "f ", "u ", "q "]) assert.ok(KEY_FOOTER.includes(k), k);
  });
});

describe("labels", () => {
  it("--zones round-robin and --groups on the first nodes", () => {
    const names = ["a", "b", "c", "d"];
    assert.deepEqual(
      [...nodeLabels(names, 2, parseGroups("canary=1"))],
      [
        ["a", { "topology.kubernetes.io/zone": "zone-a", [GROUP_LABEL]: "canary" }],
        ["b", { "topology.kubernetes.io/zone": "zone-b" }],
        ["c", { "topology.kubernetes.io/zone": "zone-a" }],
        ["d", { "topology.kubernetes.io/zone": "zone-b" }],
      ],
    );
    assert.deepEqual([...nodeLabels(names, 0, undefined)], []);
  });
  for (const v of ["canary", "canary=0", "Canary=1", "=1", "canary=x"]) {
    it(`--groups ${v} is refused`, () => {
      assert.throws(() => parseGroups(v), /--groups: expected NAME=COUNT like canary=1/);
    });
  }
  it("nextRelease", () => assert.equal(nextRelease("1.20.0"), "1.21.0"));
});
