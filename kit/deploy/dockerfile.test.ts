import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { isBrupopError } from "../../src/errors.js";
import { execForm, lastInstruction, parseDockerfile, stageEnv, type Stage } from "./dockerfile.js";

const root = new URL("../../", import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), "utf8");

describe("parseDockerfile", () => {
  it("reads stages, global ARG defaults, continuations and comments", () => {
    const stages = parseDockerfile(
      [
        "# syntax=docker/dockerfile:1",
        "ARG BASE=node:24-slim",
        "FROM ${BASE} AS build",
        "# a comment",
        "RUN npm ci \\",
        "  # dropped inside a continuation",
        "  && npm run build",
        "",
        "from $BASE",
        'ENTRYPOINT ["node", "main.js"]',
      ].join("\n"),
    );
    assert.deepEqual(
      stages.map((s) => [s.from, s.name]),
      [
        ["node:24-slim", "build"],
        ["node:24-slim", undefined],
      ],
    );
    assert.deepEqual(stages[0]?.instructions, [{ keyword: "RUN", args: "npm ci && npm run build" }]);
    assert.deepEqual(execForm(stages[1]?.instructions[0]?.args ?? ""), ["node", "main.js"]);
    assert.equal(execForm("node main.js"), undefined);
  });

  it("reads a stage's ENV (KEY=VALUE pairs, quoted values)", () => {
    const [stage] = parseDockerfile('FROM x\nENV A=1 B="two words"\nENV A=3 C=');
    assert.deepEqual(stageEnv(stage as Stage), { A: "3", B: "two words", C: "" });
  });

  it("rejects an instruction before FROM", () => {
    assert.throws(
      () => parseDockerfile("RUN true\nFROM x"),
      (e) => isBrupopError(e, "BRUPOP_E_CONFIG"),
    );
  });
});

describe("the project's Dockerfile", () => {
  const stages = parseDockerfile(read("Dockerfile"));
  const runs = (stage: Stage | undefined): string[] =>
    (stage?.instructions ?? []).filter((i) => i.keyword === "RUN").map((i) => i.args);
  const final = stages.at(-1);
  const pkg = JSON.parse(read("package.json")) as {
    bin: Record<string, string>;
    devDependencies: { node: string };
  };

  it("is multi-stage and every stage is based on Node.js 24, the Node the project's scripts run on", () => {
    assert.ok(stages.length >= 2, "a build stage and a runtime stage");
    for (const stage of stages) {
      assert.match(
        stage.from,
        /^(node:24([.-]|$)|gcr\.io\/distroless\/nodejs24-)/,
        `stage base ${stage.from}`,
      );
    }
    // The runtime the scripts use is the `node` package (npm puts its bin first on the PATH).
    assert.match(pkg.devDependencies.node, /^\^24\./);
  });

  it("bundles with `npm ci && npm run bundle` in a build stage and ships only the bundles", () => {
    const build = stages.find((s) => runs(s).some((r) => r.includes("npm run bundle")));
    assert.ok(build?.name !== undefined && build !== final, "a named build stage other than the runtime");
    assert.ok(runs(build).some((r) => /\bnpm ci\b/.test(r) && !r.includes("--omit=dev")));
    const copies = (final?.instructions ?? []).filter((i) => i.keyword === "COPY").map((i) => i.args);
    // dist/bundle (tools/bundle.ts) becomes /app/dist/cli: the chart's commands run /app/dist/cli/main.js.
    assert.ok(
      copies.some((c) => c.includes(`--from=${build.name}`) && /dist\/bundle\/?\s+\S*dist\/cli$/.test(c)),
    );
    // Every runtime dependency is inside the bundles: no node_modules and no npm in the final stage.
    assert.ok(!copies.some((c) => c.includes("node_modules")), "no node_modules in the image");
    assert.deepEqual(
      runs(final).filter((r) => /\bnpm\b/.test(r)),
      [],
    );
  });

  it("keeps glibc's malloc from holding freed memory per thread (measured: docs/benchmarks.md)", () => {
    const env = stageEnv(final as Stage);
    assert.equal(env["NODE_ENV"], "production");
    assert.equal(env["MALLOC_ARENA_MAX"], "2");
  });

  it("runs as a numeric non-root user by default", () => {
    const user = lastInstruction(final as Stage, "USER");
    assert.match(user ?? "", /^[1-9]\d*(:\d+)?$/, "numeric, so the kubelet can enforce runAsNonRoot");
  });

  it("has the brupop CLI (package.json bin, node dist/cli/main.js: the bundles' launcher) as its entrypoint", () => {
    const entrypoint = execForm(lastInstruction(final as Stage, "ENTRYPOINT") ?? "");
    assert.equal(entrypoint?.[0], "node");
    assert.equal(entrypoint.length, 2);
    const bin = pkg.bin["brupop"];
    assert.equal(bin, "dist/cli/main.js");
    assert.ok(entrypoint[1]?.endsWith(`/${bin}`), `${entrypoint[1]} is the brupop bin`);
    assert.ok(existsSync(new URL("tools/bundle/main.ts", root)), "the launcher's source exists");
  });

  it("sends only what the build needs to the build context", () => {
    const ignore = read(".dockerignore")
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.startsWith("#"));
    assert.equal(ignore[0], "*", "everything excluded first (node_modules, .git, dist, ...)");
    for (const path of [
      "package.json",
      "package-lock.json",
      "tsconfig.json",
      "tsconfig.build.json",
      "src/",
      "tools/bundle.ts",
      "tools/bundle/",
    ]) {
      assert.ok(ignore.includes(`!${path}`), `${path} is re-included`);
    }
    const copied = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === "COPY" && !i.args.includes("--from"));
    for (const c of copied) {
      const sources = c.args.split(/\s+/).slice(0, -1);
      for (const s of sources)
        assert.ok(ignore.includes(`!${s.replace(/^\.\//, "")}`) || ignore.includes(`!${s}/`), s);
    }
  });
});
