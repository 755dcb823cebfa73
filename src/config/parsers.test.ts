import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBrupopError } from "../errors.js";
import {
  parseBoolean,
  parseNamespace,
  parseNodeName,
  parseNonNegativeInt,
  parseNumber,
  parsePort,
  parsePositiveInt,
  parsePositiveSecondsAsMs,
  parseSelectorText,
  resolveNamespace,
  wholeNumberIn,
} from "./parsers.js";

type Parse = (raw: string, name: string) => unknown;

describe("shared parsers", () => {
  const ok: [string, Parse, string, unknown][] = [
    ["non-negative", parseNonNegativeInt, " 0 ", 0],
    ["positive", parsePositiveInt, "7", 7],
    ["port", parsePort, "65535", 65535],
    ["number", parseNumber, "1.5", 1.5],
    ["seconds", parsePositiveSecondsAsMs, "0.25", 250],
    ["boolean", parseBoolean, "TRUE", true],
    ["namespace", parseNamespace, "brupop-bottlerocket-aws", "brupop-bottlerocket-aws"],
    ["node", parseNodeName, " ip-10-0-0-1.ec2.internal ", "ip-10-0-0-1.ec2.internal"],
  ];
  for (const [what, parse, raw, expected] of ok) {
    it(`${what}: ${JSON.stringify(raw)}`, () => assert.deepEqual(parse(raw, "X"), expected));
  }
  const bad: [string, Parse, string, string][] = [
    ["non-negative", parseNonNegativeInt, "-1", 'X: must be a non-negative integer, got "-1"'],
    ["non-negative", parseNonNegativeInt, "1.5", 'X: must be a non-negative integer, got "1.5"'],
    ["positive", parsePositiveInt, "0", 'X: must be a positive integer, got "0"'],
    [
      "positive",
      parsePositiveInt,
      "99999999999999999999",
      'X: must be a positive integer, got "99999999999999999999"',
    ],
    ["port", parsePort, "https", 'X: must be a port number 1-65535, got "https"'],
    ["port", parsePort, "65536", 'X: must be a port number 1-65535, got "65536"'],
    ["number", parseNumber, "soon", 'X: "soon" is not a number'],
    ["seconds", parsePositiveSecondsAsMs, "-1", "X: must be a positive number of seconds, got -1"],
    ["boolean", parseBoolean, "yes", 'X: "yes" is not true or false'],
    ["namespace", parseNamespace, "Bad_NS", 'X: "Bad_NS" is not a valid namespace name'],
    ["node", parseNodeName, "Not_A_Node", 'X: "Not_A_Node" is not a valid node name'],
  ];
  for (const [what, parse, raw, message] of bad) {
    it(`${what} rejects ${JSON.stringify(raw)}`, () =>
      assert.throws(
        () => parse(raw, "X"),
        (err: unknown) => isBrupopError(err, "BRUPOP_E_CONFIG") && err.message === message,
      ));
  }

  it("wholeNumberIn", () => {
    assert.equal(wholeNumberIn("200", 1, 200), 200);
    assert.equal(wholeNumberIn("201", 1, 200), undefined);
    assert.equal(wholeNumberIn("+1", 1, 200), undefined);
  });

  it("resolveNamespace: flag, else the pod's, else an error or the fallback with a warning", () => {
    assert.deepEqual(
      resolveNamespace("a", () => "b"),
      { namespace: "a", source: "flag" },
    );
    assert.deepEqual(
      resolveNamespace(undefined, () => "b\n"),
      { namespace: "b", source: "service-account" },
    );
    assert.throws(
      () => resolveNamespace(undefined, () => undefined),
      (err: unknown) =>
        isBrupopError(err, "BRUPOP_E_CONFIG") && err.message.startsWith("--namespace: required when"),
    );
    const warnings: string[] = [];
    assert.deepEqual(
      resolveNamespace(undefined, () => "", { namespace: "dflt", warn: (w) => warnings.push(w) }),
      { namespace: "dflt", source: "default" },
    );
    assert.deepEqual(warnings, ['no --namespace and no service-account namespace file; using "dflt"']);
  });
});

describe("parseSelectorText (one label-selector check for every component)", () => {
  it("keeps a valid selector's text, and empty means none", () => {
    assert.equal(parseSelectorText(" app=web,tier in (a,b),!canary ", "X"), "app=web,tier in (a,b),!canary");
    assert.equal(parseSelectorText("  ", "X"), undefined);
  });
  for (const bad of ["app in (a", "=x", "a==b==c", "bad key!=x"]) {
    it(`refuses ${JSON.stringify(bad)} naming the variable`, () => {
      assert.throws(
        () => parseSelectorText(bad, "UPDATE_HEALTH_POD_SELECTOR"),
        (err: unknown) =>
          isBrupopError(err, "BRUPOP_E_CONFIG") && err.message.startsWith("UPDATE_HEALTH_POD_SELECTOR: "),
      );
    });
  }
});
