import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isLabelValue, isQualifiedName, parseLabelSelector, selectorMatches } from "./label-selector.js";

describe("parseLabelSelector", () => {
  const valid: [string, object][] = [
    ["a=b", [{ key: "a", operator: "In", values: ["b"] }]],
    ["a==b", [{ key: "a", operator: "In", values: ["b"] }]],
    ["a!=b", [{ key: "a", operator: "NotIn", values: ["b"] }]],
    ["e in (x,y)", [{ key: "e", operator: "In", values: ["x", "y"] }]],
    ["e notin (x, y)", [{ key: "e", operator: "NotIn", values: ["x", "y"] }]],
    ["f", [{ key: "f", operator: "Exists" }]],
    ["!f", [{ key: "f", operator: "DoesNotExist" }]],
    ["a=", [{ key: "a", operator: "In", values: [""] }]],
    [
      "a=b,c!=d,e in (x,y),!f",
      [
        { key: "a", operator: "In", values: ["b"] },
        { key: "c", operator: "NotIn", values: ["d"] },
        { key: "e", operator: "In", values: ["x", "y"] },
        { key: "f", operator: "DoesNotExist" },
      ],
    ],
    [" app.kubernetes.io/name = web ", [{ key: "app.kubernetes.io/name", operator: "In", values: ["web"] }]],
  ];
  for (const [text, expressions] of valid) {
    it(`parses ${JSON.stringify(text)}`, () => {
      assert.deepEqual(parseLabelSelector(text), { matchExpressions: expressions });
    });
  }

  const invalid = [
    "",
    "a=b,",
    ",a",
    "a in x",
    "a in ()",
    "a in (x",
    "a=b=c",
    "-a=b",
    "a=b c",
    "A/b=c",
    "a=(b)",
    "!",
  ];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseLabelSelector(text));
    });
  }
});

describe("selectorMatches on a parsed selector", () => {
  const sel = parseLabelSelector("a=b,c!=d,e in (x,y),!f");
  const cases: [Record<string, string>, boolean][] = [
    [{ a: "b", e: "x" }, true],
    [{ a: "b", e: "y", c: "z" }, true],
    [{ a: "b", e: "x", c: "d" }, false],
    [{ a: "b", e: "x", f: "" }, false],
    [{ a: "c", e: "x" }, false],
    [{ a: "b" }, false],
  ];
  for (const [labels, want] of cases) {
    it(`${JSON.stringify(labels)} → ${want}`, () => assert.equal(selectorMatches(sel, labels), want));
  }
});

describe("label keys and values", () => {
  it("qualified names", () => {
    for (const k of ["a", "karpenter.sh/do-not-disrupt", "x.io/A_b-c.d", "a".repeat(63)])
      assert.ok(isQualifiedName(k), k);
    for (const k of ["", "/a", "a/", "a/b/c", "Upper.io/a", "-a", "a".repeat(64), "a b"])
      assert.ok(!isQualifiedName(k), k);
  });
  it("label values", () => {
    for (const v of ["", "true", "a.b-c_d"]) assert.ok(isLabelValue(v), v);
    for (const v of ["-a", "a b", "a,b", "x".repeat(64)]) assert.ok(!isLabelValue(v), v);
  });
});
