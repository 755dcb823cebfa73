import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Command, CommanderError } from "commander";
import { BrupopError } from "../errors.js";
import { describeFailure, EXIT, signalExitCode, styleCommander } from "./exit.js";

describe("exit codes and the one error style (docs/cli.md)", () => {
  const table: [string, unknown, number, string][] = [
    ["help / version", new CommanderError(0, "commander.helpDisplayed", "(outputHelp)"), 0, ""],
    ["commander usage error (already printed)", new CommanderError(1, "commander.unknownOption", "x"), 2, ""],
    [
      "bad configuration",
      new BrupopError("BRUPOP_E_CONFIG", '--fail-host: no node "x"'),
      2,
      'error: --fail-host: no node "x"\n',
    ],
    ["bad cron", new BrupopError("BRUPOP_E_CRON", "bad cron"), 2, "error: bad cron\n"],
    ["runtime failure", new BrupopError("BRUPOP_E_TESTENV", "build failed"), 1, "error: build failed\n"],
    ["unexpected error", new Error("boom"), 1, "error: boom\n"],
  ];
  for (const [name, err, code, text] of table) {
    it(`${name} → ${code}`, () => assert.deepEqual(describeFailure(err), { code, text }));
  }

  it("BRUPOP_DEBUG adds the code and the stack", () => {
    const { text } = describeFailure(new BrupopError("BRUPOP_E_TESTENV", "x"), true);
    assert.match(text, /^error: x\ncode: BRUPOP_E_TESTENV\nBrupopError: x\n {4}at /);
  });

  it("signals: Ctrl-C 130, SIGTERM 143", () => {
    assert.equal(signalExitCode("SIGINT"), EXIT.interrupted);
    assert.equal(signalExitCode("SIGTERM"), 143);
  });

  it("commander's own errors come out as one `error:` line and never exit the process", async () => {
    let written = "";
    const cmd = styleCommander(new Command("t").option("--n <n>", "n"));
    cmd.configureOutput({ writeErr: (s) => (written += s) });
    await assert.rejects(cmd.parseAsync(["--nope"], { from: "user" }), CommanderError);
    assert.equal(written, "error: unknown option '--nope'\n");
  });
});
