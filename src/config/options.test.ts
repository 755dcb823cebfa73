import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Command } from "commander";
import { isBrupopError } from "../errors.js";
import {
  addOptionTable,
  environmentHelp,
  flagValues,
  helpText,
  longFlag,
  markdownTable,
  parseOptions,
  type OptionTable,
} from "./options.js";
import { parsePort, parsePositiveInt, parseString } from "./parsers.js";

const TABLE = {
  port: { flag: "--port <n>", env: ["PORT", "OLD_PORT"], parse: parsePort, default: 80, help: "listen port" },
  name: { env: ["NAME"], parse: parseString, required: "must be set", help: "a name" },
  retries: {
    flag: "--retries <n>",
    env: ["RETRIES"],
    errorName: "RETRIES",
    parse: parsePositiveInt,
    default: 3,
    help: "tries",
  },
  token: { env: ["TOKEN"], parse: parsePositiveInt, secret: true, help: "a secret number" },
  fast: { flag: "--no-fast", parse: (raw: string) => raw === "true", default: true, help: "go slowly" },
} satisfies OptionTable;

function rejects(fn: () => unknown, name: string, message?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isBrupopError(err, "BRUPOP_E_CONFIG"), String(err));
    assert.equal(err.details.variable, name);
    if (message !== undefined) assert.equal(err.message, message);
    return true;
  });
}

describe("option tables", () => {
  it("defaults; the flag wins over the variables; the first variable set wins; blank is unset", () => {
    const typed: { port: number; name: string; retries: number; token: number | undefined; fast: boolean } =
      parseOptions(TABLE, { NAME: "n" });
    assert.deepEqual(typed, { port: 80, name: "n", retries: 3, token: undefined, fast: true });
    assert.equal(parseOptions(TABLE, { NAME: "n", OLD_PORT: "81" }).port, 81);
    assert.equal(parseOptions(TABLE, { NAME: "n", PORT: "82", OLD_PORT: "81" }).port, 82);
    assert.equal(parseOptions(TABLE, { NAME: "n", PORT: " " }, { port: "" }).port, 80);
    assert.equal(parseOptions(TABLE, { NAME: "n", PORT: "82" }, { port: "83" }).port, 83);
    assert.equal(parseOptions(TABLE, { NAME: "n" }, { fast: false }).fast, false);
  });

  it("errors name where the value came from, or the option's errorName; secrets are not echoed", () => {
    rejects(() => parseOptions(TABLE, { NAME: "n", OLD_PORT: "x" }), "OLD_PORT");
    rejects(() => parseOptions(TABLE, { NAME: "n", PORT: "1" }, { port: "0" }), "--port");
    rejects(() => parseOptions(TABLE, { NAME: "n" }, { retries: "0" }), "RETRIES");
    rejects(() => parseOptions(TABLE, {}), "NAME", "NAME: must be set");
    rejects(
      () => parseOptions(TABLE, { NAME: "n", TOKEN: "s3cr3t" }),
      "TOKEN",
      "TOKEN: invalid value (not shown)",
    );
  });

  it("generates commander options, reads them back by key, and lists env-only variables in the help", async () => {
    const cmd = new Command("t").exitOverride();
    let flags = {};
    addOptionTable(cmd, TABLE).action((opts: Record<string, unknown>) => {
      flags = flagValues(TABLE, opts);
    });
    await cmd.parseAsync(["--port", "8080", "--no-fast"], { from: "user" });
    assert.deepEqual(flags, { port: "8080", fast: false });
    const help = cmd.helpInformation() + environmentHelp(TABLE);
    assert.match(help, /--port <n> +listen port \(env PORT, OLD_PORT; default 80\)/);
    assert.match(
      help,
      /Environment \(defaults in brackets\):\n {2}NAME +a name \[required\]\n {2}TOKEN +a secret number\n/,
    );
    assert.equal(helpText(TABLE.retries), "tries (env RETRIES; default 3)");
    assert.equal(longFlag("-n, --namespace <ns>"), "--namespace");
  });

  it("renders a Markdown table", () => {
    const md = markdownTable({
      a: { flag: "--a <x|y>", env: ["A"], chartValue: "a", parse: parseString, default: "x", help: "pick" },
    });
    assert.equal(
      md,
      '| flag | environment | chart value | default | meaning |\n| --- | --- | --- | --- | --- |\n| `--a <x\\|y>` | `A` | `a` | "x" | pick |\n',
    );
  });
});
