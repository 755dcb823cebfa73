// The shipped build (tools/bundle.ts, `npm run bundle`): the launcher picks the bundle the way
// program.ts picks the subcommand, each component's bundle holds only what it runs, and the bundled
// CLI behaves like src/cli/main.ts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { build } from "esbuild";
import { bundle, common, lazyRequires, type BundleReport } from "../../tools/bundle.js";
import { parseStatus } from "../../src/model/shadow.js";
import { CHART_NODE_FLAGS } from "../../tools/bundle/compile-cache.js";
import { bundleFor } from "../../tools/bundle/launcher.js";
import { requestedCommand } from "../../src/cli/program.js";

describe("the bundles' launcher", () => {
  const table: string[][] = [
    ["agent"],
    ["controller", "--namespace", "x"],
    ["apiserver", "--tls-dir", "/x"],
    ["--log-level", "info", "agent"],
    ["-h"],
    [],
    ["status"],
    ["crd"],
    ["demo", "--nodes", "3"],
    ["simulate-host"],
    ["agents"],
    ["help", "agent"],
  ];
  for (const args of table) {
    it(`brupop ${args.join(" ") || "(nothing)"}: the bundle of program.ts's subcommand`, () => {
      const argv = ["node", "brupop", ...args];
      const command = requestedCommand(argv);
      const expected =
        command === "agent" || command === "controller" || command === "apiserver" ? command : "cli";
      assert.equal(bundleFor(argv), expected);
    });
  }
});

describe("npm run bundle", { timeout: 180_000 }, () => {
  let dir = "";
  let reports: BundleReport[] = [];
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [join(dir, "main.js"), ...args], {
      encoding: "utf8",
      env: { PATH: process.env.PATH, ...env },
      timeout: 60_000,
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "brupop-bundle-"));
    reports = await bundle(dir);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps fastify, client-node, prom-client and TypeBox's compiler out of the agent", () => {
    const agent = reports.find((r) => r.file === "agent.js");
    assert.ok(agent !== undefined && agent.bytes > 0);
    const inputs = agent.inputs.map((i) => i.input);
    for (const banned of [
      "/fastify/",
      "/@kubernetes/client-node/",
      "/prom-client/",
      "/typebox/build/compile/",
      "src/apiserver/server.ts",
      "src/controller/",
    ]) {
      assert.deepEqual(
        inputs.filter((i) => i.includes(banned)),
        [],
        `${banned} is not in the agent bundle`,
      );
    }
    assert.ok(inputs.some((i) => i.includes("src/agent/agent.ts")));
  });

  it("the agent's start loads none of what its first report does not need (issue 30)", () => {
    const agent = reports.find((r) => r.file === "agent.js");
    // TypeBox's builders by name (src/model/type-builders.ts): what is left of its TypeScript-syntax
    // parser is what typebox/schema's error reporting uses (4.6 KiB; ~30 KiB with the Type namespace).
    const script = (agent?.inputs ?? []).filter((i) => i.input.includes("/typebox/build/type/script/"));
    assert.ok(script.reduce((sum, i) => sum + i.bytes, 0) < 8 * 1024, "TypeBox's Type namespace is not in");
    // Node's modules loaded by the agent's start, up to its configuration check (it then exits 2).
    const probe = join(dir, "module-list.cjs");
    // Also every EventEmitter made by its class name: loading commander makes its `program`, a
    // Command (src/cli/run.ts: the agent's own flags skip commander).
    writeFileSync(
      probe,
      [
        'const events = require("node:events"); const made = new Set(); const init = events.EventEmitter.init;',
        "events.EventEmitter.init = function (...a) { made.add(this.constructor.name); return init.apply(this, a); };",
        'process.on("exit", () => process.stdout.write("\\nPROBE " + JSON.stringify([...process.moduleLoadList, ...[...made].map((c) => `new ${c}`)])));',
        "",
      ].join("\n"),
    );
    const start = (args: string[]) =>
      spawnSync(process.execPath, ["-r", probe, join(dir, "main.js"), "agent", ...args], {
        encoding: "utf8",
        env: { PATH: process.env.PATH },
      });
    const r = start(["--namespace=x", "--socket", "/run/api.sock"]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^error: MY_NODE_NAME: /);
    const probed = (out: string) => JSON.parse(out.slice(out.lastIndexOf("\nPROBE ") + 7)) as string[];
    const loaded = probed(r.stdout);
    assert.ok(loaded.includes("NativeModule https"), "the probe sees the agent's own modules");
    assert.ok(!loaded.includes("new Command"), "commander is not loaded (src/cli/run.ts)");
    const help = probed(start(["--help"]).stdout);
    assert.ok(help.includes("new Command"), "the probe sees commander when it is loaded");
    for (const lazy of ["NativeModule assert", "NativeModule worker_threads", "NativeModule child_process"]) {
      assert.ok(!loaded.includes(lazy), `${lazy} is not loaded (LAZY_REQUIRES in tools/bundle.ts)`);
    }
  });

  it("reports a bad wire object as the source does, TypeBox's error reporting loaded lazily (issue 30)", async () => {
    const status = {
      current_version: "1.2.3",
      target_version: "1.2.3",
      current_state: "Idle",
      crash_count: 0,
      state_transition_failure_timestamp: null,
    };
    const bad = [
      { ...status, target_version: "latest" },
      { ...status, current_state: "Rebooting" },
      { ...status, state_transition_failure_timestamp: "yesterday" },
      { ...status, state_transition_failure_timestamp: "2026-12-08T00:00:00Z", crash_count: -1 },
      { ...status, surprise: 1 },
      "Idle",
    ];
    const entry = join(dir, "parse-status.ts");
    const shadow = join(import.meta.dirname, "..", "..", "src", "model", "shadow.ts");
    writeFileSync(
      entry,
      `import { parseStatus } from ${JSON.stringify(shadow)};\n` +
        `const out = ${JSON.stringify(bad)}.map((v) => { try { parseStatus(v); return "ok"; } catch (e) { return e.message; } });\n` +
        "process.stdout.write(JSON.stringify(out));\n",
    );
    await build({ ...common(entry, join(dir, "parse-status.js")), plugins: [lazyRequires] });
    const r = spawnSync(process.execPath, [join(dir, "parse-status.js")], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const expected = bad.map((v) => {
      try {
        parseStatus(v);
        return "ok";
      } catch (err) {
        return (err as Error).message;
      }
    });
    assert.deepEqual(JSON.parse(r.stdout), expected);
    assert.equal(expected[3], "status.crash_count: must be >= 0");
  });

  it("warm-compile-cache.js writes the compile cache the launcher then reads (issue 30)", () => {
    const warm = spawnSync(process.execPath, [join(dir, "warm-compile-cache.js")], { encoding: "utf8" });
    assert.equal(warm.status, 0, warm.stderr);
    assert.equal(warm.stdout.trim(), join(dir, ".compile-cache"));
    // With the chart's flags: V8 takes a code cache only under the flags it was written with.
    const help = spawnSync(
      process.execPath,
      [...CHART_NODE_FLAGS.agent, join(dir, "main.js"), "agent", "--help"],
      {
        encoding: "utf8",
        env: { PATH: process.env.PATH, NODE_DEBUG_NATIVE: "COMPILE_CACHE" },
      },
    );
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stderr, /V8 code cache for CommonJS .*agent\.js was accepted/);
  });

  it("has no kit code in any bundle: demo and simulate-host answer that they run from a checkout", () => {
    for (const r of reports) {
      const own = r.inputs.map((i) => i.input).filter((i) => !i.includes("node_modules/"));
      assert.deepEqual(
        own.filter((i) => !/^(src\/|tools\/bundle\/|not-in-bundle:)/.test(i)),
        [],
        `${r.file}: only src/ and the bundle entries`,
      );
    }
    const demo = run(["demo", "--nodes", "3"]);
    assert.equal(demo.status, 2);
    assert.match(demo.stderr, /^error: brupop demo runs from a checkout of brupop-ts/);
    assert.match(run(["--help"]).stdout, /\n {2}simulate-host\b/);
  });

  it("leaves client-node to kube.js, loaded only with a kubeconfig", async () => {
    for (const file of ["agent.js", "controller.js", "apiserver.js"]) {
      const inputs = reports.find((r) => r.file === file)?.inputs.map((i) => i.input) ?? [];
      assert.deepEqual(
        inputs.filter((i) => i.includes("/@kubernetes/client-node/")),
        [],
        file,
      );
      assert.match(await readFile(join(dir, file), "utf8"), /require\("\.\/kube\.js"\)/, file);
    }
  });

  it("runs the CLI like src/cli/main.ts: version, help, one-line configuration errors (exit 2)", () => {
    assert.equal(run(["--version"]).stdout.trim(), "0.1.0");
    const help = run(["agent", "--help"]);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: brupop agent \[options\]/);
    const noNode = run(["agent"], { MY_NODE_NAME: "" });
    assert.equal(noNode.status, 2);
    assert.match(noNode.stderr, /^error: MY_NODE_NAME: /);
    assert.equal(noNode.stderr.trim().split("\n").length, 1);
    const unknown = run(["nonsense"]);
    assert.equal(unknown.status, 2); // a usage error (docs/cli.md exit codes)
    assert.match(unknown.stderr, /unknown command 'nonsense'/);
    const all = run(["--help"]);
    for (const c of ["agent", "controller", "apiserver", "status", "crd"])
      assert.match(all.stdout, new RegExp(`\\n  ${c}\\b`));
  });

  it("loads client-node from kube.js when given a kubeconfig (the CLI's --kubeconfig path)", () => {
    const r = run(["controller", "--namespace", "x", "--kubeconfig", join(dir, "missing.kubeconfig")]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /ENOENT: no such file or directory, open '.*missing\.kubeconfig'/);
    assert.doesNotMatch(r.stderr, /Cannot find module/);
  });
});
