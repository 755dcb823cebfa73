import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBrupopError } from "./errors.js";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createLogger,
  formatLogLine,
  LOG_FORMATS,
  parseAnsiEnabled,
  parseLogFormat,
  parseLogLevel,
  resolveLogStyle,
} from "./log.js";

describe("parseLogLevel", () => {
  const table: [string | undefined, string][] = [
    [undefined, "info"],
    ["", "info"],
    ["DEBUG", "debug"],
    ["off", "silent"],
    ["warning", "warn"],
    ["agent=debug,warn", "warn"],
    ["agent=debug,apiserver=error", "debug"],
    ["a=trace,b=error", "trace"],
  ];
  for (const [input, level] of table) {
    it(`${JSON.stringify(input)} → ${level}`, () => assert.equal(parseLogLevel(input, "V"), level));
  }
  it("rejects an unknown level naming the variable", () => {
    assert.throws(
      () => parseLogLevel("loud", "TRACING_FILTER_DIRECTIVE"),
      (err: unknown) =>
        isBrupopError(err, "BRUPOP_E_CONFIG") && err.message.startsWith('TRACING_FILTER_DIRECTIVE: "loud"'),
    );
  });
});

describe("log format (LOGGING_FORMATTER, LOGGING_ANSI_ENABLED)", () => {
  const line = JSON.stringify({
    level: 40,
    time: Date.parse("2030-06-01T12:00:00.123Z"),
    pid: 1,
    hostname: "h",
    name: "brupop-controller",
    msg: "drain blocked",
    node: "n-1",
    pdb: "default/web",
  });

  it("takes upstream's four values and nothing else, naming the variable", () => {
    for (const f of LOG_FORMATS) assert.equal(parseLogFormat(f), f);
    assert.equal(parseLogFormat(undefined), undefined);
    assert.equal(parseLogFormat(""), undefined);
    assert.throws(
      () => parseLogFormat("Pretty"),
      (err: unknown) =>
        isBrupopError(err, "BRUPOP_E_CONFIG") && err.message.startsWith('LOGGING_FORMATTER: "Pretty"'),
    );
    assert.equal(parseAnsiEnabled("TRUE"), true);
    assert.equal(parseAnsiEnabled("false"), false);
    assert.throws(() => parseAnsiEnabled("yes"), /LOGGING_ANSI_ENABLED: "yes" is not true or false/);
  });

  it("defaults to readable text on a terminal and JSON elsewhere; an explicit value wins", () => {
    const table: [NodeJS.ProcessEnv, boolean, { format: string; ansi: boolean }][] = [
      [{}, true, { format: "full", ansi: true }],
      [{}, false, { format: "json", ansi: false }],
      [{ NO_COLOR: "1" }, true, { format: "full", ansi: false }],
      [{ LOGGING_FORMATTER: "json" }, true, { format: "json", ansi: true }],
      [
        { LOGGING_FORMATTER: "pretty", LOGGING_ANSI_ENABLED: "true" },
        false,
        { format: "pretty", ansi: true },
      ],
      [{ LOGGING_ANSI_ENABLED: "false" }, true, { format: "full", ansi: false }],
    ];
    for (const [env, tty, want] of table)
      assert.deepEqual(resolveLogStyle(env, tty), want, JSON.stringify(env));
  });

  it("formats one record per upstream format", () => {
    assert.equal(
      formatLogLine(line, "full", false),
      "2030-06-01T12:00:00.123Z  WARN brupop-controller: drain blocked node=n-1 pdb=default/web\n",
    );
    assert.equal(
      formatLogLine(line, "compact", false),
      "12:00:00.123  WARN drain blocked node=n-1 pdb=default/web\n",
    );
    assert.equal(
      formatLogLine(line, "pretty", false),
      "  2030-06-01T12:00:00.123Z  WARN brupop-controller: drain blocked\n    with node: n-1, pdb: default/web\n\n",
    );
    assert.equal(formatLogLine(line, "json", false), line);
    assert.ok(formatLogLine(line, "full", true).includes("\x1b[33m WARN\x1b[0m"), "level in yellow");
    assert.ok(!formatLogLine(line, "full", false).includes("\x1b"), "no escape codes without ANSI");
  });

  it("a logger writes what LOGGING_FORMATTER asks for", async () => {
    const dir = await mkdtemp(join(tmpdir(), "brupop-log-"));
    const file = join(dir, "out.log");
    const log = createLogger({ name: "t", destination: file, env: { LOGGING_FORMATTER: "compact" } });
    log.info({ a: 1 }, "hello");
    log.flush();
    assert.match(await readFile(file, "utf8"), /^\d\d:\d\d:\d\d\.\d{3} {2}INFO hello a=1\n$/);
    const json = join(dir, "json.log");
    const jl = createLogger({ name: "t", destination: json, env: {} });
    jl.info("hi");
    jl.flush();
    assert.equal((JSON.parse(await readFile(json, "utf8")) as { msg: string }).msg, "hi");
    await rm(dir, { recursive: true });
  });
});
