import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkDemoFlags } from "./command.js";
import { readPolicyFile } from "./playground.js";
import { isBrupopError } from "../../src/errors.js";

/** A BRUPOP_E_CONFIG whose message matches. */
const configError = (message: RegExp) => (err: unknown) =>
  isBrupopError(err) && err.code === "BRUPOP_E_CONFIG" && message.test(err.message);

const from = (text: string) => () => text;

describe("--policy FILE", () => {
  it("reads an UpdatePolicy named default (or unnamed)", () => {
    const p = readPolicyFile("p.yaml", from("kind: UpdatePolicy\nspec:\n  paused: true\n"));
    assert.deepEqual(p.metadata, { name: "default" });
    assert.deepEqual(p.spec, { paused: true });
  });
  const bad: [string, RegExp][] = [
    ["spec: [", /^--policy p\.yaml: not YAML/],
    ["- 1\n", /^--policy p\.yaml: expected an UpdatePolicy object$/],
    ["kind: ConfigMap\n", /^--policy p\.yaml: kind is "ConfigMap", not UpdatePolicy$/],
    [
      "metadata: {name: canary}\n",
      /^--policy p\.yaml: the controller honours the UpdatePolicy named "default"; this one is "canary"$/,
    ],
    ["spec:\n  paused: yes-please\n", /^--policy p\.yaml: spec\.paused/],
  ];
  for (const [text, message] of bad) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(() => readPolicyFile("p.yaml", from(text)), configError(message));
    });
  }
  it("a missing file", () => {
    assert.throws(
      () => readPolicyFile("/nonexistent/p.yaml"),
      configError(/^--policy \/nonexistent\/p\.yaml: ENOENT/),
    );
  });
});

describe("playground flags", () => {
  const flags = { nodes: 2, maxConcurrent: 2, cron: "* * * * * * *", pdbMaxUnavailable: 1, timeout: 60 };
  it("only for the kwok demo", () => {
    assert.throws(
      () => checkDemoFlags({ ...flags, bare: true, script: "s.txt", zones: 2 }),
      configError(/^--script, --zones: only for the kwok demo \(not with --bare\)$/),
    );
    assert.doesNotThrow(() => checkDemoFlags({ ...flags, script: "s.txt", zones: 2 }));
  });
});
