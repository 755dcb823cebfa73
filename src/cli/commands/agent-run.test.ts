import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Command } from "commander";
import { AGENT_OPTIONS } from "../../agent/config.js";
import { addOptionTable, flagValues } from "../../config/options.js";
import { styleCommander } from "../exit.js";
import { agentFlagsFromArgv } from "./agent-run.js";

/** The flags commander hands `brupop agent <args>`' action (the path every other command line takes). */
function viaCommander(args: readonly string[]): Record<string, unknown> {
  const program = styleCommander(new Command("brupop"));
  program.configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  let got: Record<string, unknown> = {};
  addOptionTable(program.command("agent"), AGENT_OPTIONS).action((opts: Record<string, unknown>) => {
    got = { ...flagValues(AGENT_OPTIONS, opts) };
  });
  program.parse(["agent", ...args], { from: "user" });
  return got;
}

describe("brupop agent's command line without commander (issue 30)", () => {
  const same: readonly (readonly string[])[] = [
    [],
    ["--namespace=brupop-bottlerocket-aws"],
    ["--namespace", "ns", "--apiserver-url", "https://127.0.0.1:8443", "--ca-path=/ca.crt"],
    ["--token-path", "/t", "--socket", "/run/api.sock", "--loop-interval-ms=5000"],
    ["--update-check-interval-ms", "60000", "--reboot-wait-ms", "1000"],
    ["--namespace=a", "--namespace=b"], // the last one wins
    ["--namespace="], // empty: parseOptions then treats it as unset
    ["--loop-interval-ms", "not-a-number"], // a bad value is parseOptions' error, not a usage error
  ];
  for (const args of same) {
    it(`reads ${JSON.stringify(args)} as commander does`, () => {
      assert.deepEqual(agentFlagsFromArgv(args), viaCommander(args));
    });
  }

  const toCommander: readonly (readonly string[])[] = [
    ["--help"],
    ["-h"],
    ["--nonsense"],
    ["--namespace"], // missing value
    ["--namespace", "--socket=/x"], // commander would take "--socket=/x" as the namespace
    ["extra"],
    ["--", "--namespace=x"],
    ["-n", "x"],
  ];
  for (const args of toCommander) {
    it(`leaves ${JSON.stringify(args)} to commander (help and usage errors)`, () => {
      assert.equal(agentFlagsFromArgv(args), undefined);
    });
  }
});
