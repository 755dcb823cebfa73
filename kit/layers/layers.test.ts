import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  check,
  cyclesOf,
  describe as describeReport,
  folderCyclesOf,
  readTree,
  resolve,
  specifiersOf,
  wrongWay,
} from "./graph.js";

const ROOT = join(import.meta.dirname, "..", "..");

describe("src/ keeps its layers (docs/architecture.md)", () => {
  it("no wrong-way import, no import cycle", () => {
    const report = check(readTree(ROOT));
    const clean =
      report.wrongWay.length === 0 && report.cycles.length === 0 && report.folderCycles.length === 0;
    assert.ok(clean, describeReport(report));
  });
});

describe("specifiersOf and resolve", () => {
  it("finds static, type-only, re-export and dynamic relative imports, not packages", () => {
    const text = [
      'import { a } from "./a.js";',
      'import type { B } from "../b/b.js";',
      'export { c } from "./c.js";',
      'import { d } from "pino";',
      'const e = await import("./e.js");',
    ].join("\n");
    assert.deepEqual(specifiersOf(text), ["./a.js", "../b/b.js", "./c.js", "./e.js"]);
  });
  it("resolves a .js specifier to the .ts file from the repository root", () => {
    assert.equal(resolve("src/k8s/api.ts", "../status/inputs.js"), "src/status/inputs.ts");
    assert.equal(resolve("src/k8s/api.ts", "./rest.js"), "src/k8s/rest.ts");
  });
});

describe("wrongWay", () => {
  const cases: { from: string; to: string; wrong: boolean }[] = [
    { from: "src/k8s/label-selector.ts", to: "src/status/inputs.ts", wrong: true }, // up
    { from: "src/status/run.ts", to: "src/cli/screen.ts", wrong: true }, // up
    { from: "src/model/validator-codegen.ts", to: "src/bottlerocket/types.ts", wrong: true }, // up
    { from: "src/controller/act/stages.ts", to: "src/agent/decide.ts", wrong: true }, // same layer
    { from: "src/k8s/rest.ts", to: "src/http/core.ts", wrong: false }, // down
    { from: "src/cli/run.ts", to: "src/status/run.ts", wrong: false }, // down
    { from: "src/model/shadow.ts", to: "src/errors.ts", wrong: false }, // to the base
    { from: "src/errors.ts", to: "src/model/shadow.ts", wrong: true }, // from the base
    { from: "src/controller/act/stages.ts", to: "src/controller/decide/gate.ts", wrong: false }, // earlier stage
    { from: "src/controller/act/stages.ts", to: "src/controller/act/term.ts", wrong: false }, // same stage
    { from: "src/controller/view/view.ts", to: "src/controller/decide/schedule.ts", wrong: false }, // earlier stage
    { from: "src/controller/decide/fleet.ts", to: "src/controller/act/stages.ts", wrong: true }, // later stage
    { from: "src/controller/decide/fleet.ts", to: "src/controller/view/view.ts", wrong: true }, // later stage
    { from: "src/controller/act/stages.ts", to: "src/controller/run/controller.ts", wrong: true }, // later stage
    { from: "src/controller/decide/fleet.test.ts", to: "src/controller/run/controller.ts", wrong: false }, // tests: any src
    { from: "src/agent/agent.ts", to: "src/apiserver/client.ts", wrong: false }, // ALLOWED
    { from: "src/agent/agent.ts", to: "src/apiserver/server.ts", wrong: true }, // not ALLOWED
    { from: "src/cli/run.ts", to: "kit/demo/run.ts", wrong: true }, // product → kit
    { from: "src/cli/run.ts", to: "test/kit/poll.ts", wrong: true }, // product → test
    { from: "src/k8s/api.test.ts", to: "test/kit/poll.ts", wrong: false }, // test → test helpers
    { from: "src/bottlerocket/client.test.ts", to: "kit/simulator/host.ts", wrong: false }, // test → kit
    { from: "src/k8s/api.test.ts", to: "tools/bundle.ts", wrong: true }, // test → tools
    { from: "src/k8s/events.test.ts", to: "src/controller/act/event-reasons.ts", wrong: false }, // tests: any src
    { from: "kit/demo/run.ts", to: "src/status/screen.ts", wrong: false }, // kit → src
  ];
  for (const { from, to, wrong } of cases) {
    it(`${from} → ${to}: ${wrong ? "wrong way" : "allowed"}`, () => {
      assert.equal(wrongWay({ from, to }) !== undefined, wrong);
    });
  }
  it("a folder in no layer is an error that says where to add it", () => {
    assert.throws(() => wrongWay({ from: "src/new/a.ts", to: "src/model/b.ts" }), /src\/new is in no layer/);
  });
  it("a controller module outside the pipeline's folders is an error that says where to add it", () => {
    assert.throws(
      () => wrongWay({ from: "src/controller/loose.ts", to: "src/controller/act/term.ts" }),
      /src\/controller\/loose.ts is in no stage of src\/controller/,
    );
  });
});

describe("cyclesOf / folderCyclesOf", () => {
  it("finds a two-module cycle and a longer one, and ignores tests", () => {
    const edges = [
      { from: "src/c/policy-stage.ts", to: "src/c/stages.ts" },
      { from: "src/c/stages.ts", to: "src/c/policy-stage.ts" },
      { from: "src/a/x.ts", to: "src/a/y.ts" },
      { from: "src/a/y.ts", to: "src/a/z.ts" },
      { from: "src/a/z.ts", to: "src/a/x.ts" },
      { from: "src/a/x.test.ts", to: "src/a/w.ts" },
      { from: "src/a/w.ts", to: "src/a/x.test.ts" },
      { from: "src/a/w.ts", to: "src/a/x.ts" },
    ];
    assert.deepEqual(cyclesOf(edges), [
      ["src/a/x.ts", "src/a/y.ts", "src/a/z.ts"],
      ["src/c/policy-stage.ts", "src/c/stages.ts"],
    ]);
  });
  it("no cycle in a chain", () => {
    assert.deepEqual(
      cyclesOf([
        { from: "src/a.ts", to: "src/b.ts" },
        { from: "src/b.ts", to: "src/c.ts" },
      ]),
      [],
    );
  });
  it("finds a loop between folders through different modules", () => {
    const edges = [
      { from: "src/status/run.ts", to: "src/cli/screen.ts" },
      { from: "src/cli/commands/status.ts", to: "src/status/run.ts" },
    ];
    assert.deepEqual(cyclesOf(edges), []);
    assert.deepEqual(folderCyclesOf(edges), [["src/cli", "src/status"]]);
  });
});
