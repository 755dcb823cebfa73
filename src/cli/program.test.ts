import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildProgram, requestedCommand, rootHelpFooter } from "./program.js";

describe("brupop program", () => {
  it("finds the subcommand past leading options", () => {
    assert.equal(requestedCommand(["node", "brupop", "agent", "--namespace", "x"]), "agent");
    assert.equal(requestedCommand(["node", "brupop", "--help"]), undefined);
    assert.equal(requestedCommand(["node", "brupop", "bogus"]), undefined);
    assert.equal(requestedCommand(["node", "brupop", "toString"]), undefined);
  });

  it("registers only the command being run, and every command for help", async () => {
    const one = await buildProgram(["node", "brupop", "crd"]);
    assert.deepEqual(
      one.commands.map((c) => c.name()),
      ["crd"],
    );
    const all = await buildProgram(["node", "brupop", "--help"]);
    assert.deepEqual(all.commands.map((c) => c.name()).sort(), [
      "accept",
      "agent",
      "apiserver",
      "controller",
      "crd",
      "demo",
      "simulate-host",
      "status",
    ]);
  });

  it("the root help lists the components' variables with their defaults, from their option tables", async () => {
    const all = await buildProgram(["node", "brupop", "--help"]);
    const help = all.helpInformation() + rootHelpFooter(all.commands);
    assert.match(help, /^ {2}MAX_CONCURRENT_UPDATE +controller: .*\[1\]$/m);
    assert.match(help, /^ {2}TRACING_FILTER_DIRECTIVE +controller, agent, apiserver: .*\["info"\]$/m);
    assert.match(help, /^ {2}DRAIN_TIMEOUT_SECONDS +apiserver: .*\[600\]$/m);
    assert.match(help, /^ {2}MY_NODE_NAME +agent: .*\[required\]$/m);
  });
});
