// The shipped alert rules and dashboard (issue 31), without a cluster: `promtool check rules` and
// `promtool test rules` (kit/deploy/testdata/alert-rules.promtool.yaml) on the rules file, and the
// names both use against what src/ exports and what docs/observability.md documents. The e2e
// (test/e2e/prometheus.test.ts) loads the same rules into a real Prometheus and runs every dashboard
// query after a rollout. promtool comes with Debian's prometheus (tools/testenv/install-prometheus.sh,
// which CI runs); without it the promtool cases are skipped with a message.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parse } from "yaml";

import { which } from "../testenv/prometheus-server.js";
import {
  alertRules,
  DASHBOARD_FILE,
  dashboardQueries,
  expandVariables,
  exportedMetricNames,
  metricNames,
  RULES_FILE,
  type Dashboard,
} from "./observability.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const read = (path: string): string => readFileSync(root + path, "utf8");
const PROMTOOL_TESTS = "kit/deploy/testdata/alert-rules.promtool.yaml";
const promtool = which("promtool");
const noPromtool =
  promtool === undefined ? "promtool not installed (bash tools/testenv/install-prometheus.sh)" : undefined;
const run = promisify(execFile);

const rules = alertRules(read(RULES_FILE));
const dashboard = JSON.parse(read(DASHBOARD_FILE)) as Dashboard;
const exported = exportedMetricNames(root + "src");
const docs = read("docs/observability.md");
/** GitHub's anchor of a markdown heading. */
const anchor = (heading: string): string =>
  heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, "")
    .replace(/ /g, "-");
const docAnchors = new Set([...docs.matchAll(/^#+ (.+)$/gm)].map((m) => anchor(m[1] ?? "")));

describe("shipped alert rules", () => {
  it("are the six the docs promise", () => {
    assert.deepEqual(
      rules.map((r) => r.alert),
      [
        "BrupopNodeUpdateFailed",
        "BrupopNodeStuck",
        "BrupopFleetHalted",
        "BrupopAgentSilent",
        "BrupopControllerWithoutLeader",
        "BrupopTokenReviewErrors",
      ],
    );
  });

  it("pass `promtool check rules`", { skip: noPromtool }, async () => {
    const { stdout } = await run(promtool ?? "promtool", ["check", "rules", RULES_FILE], { cwd: root });
    assert.match(stdout, /SUCCESS: 6 rules found/);
  });

  it("pass their `promtool test rules` cases", { skip: noPromtool }, async () => {
    const out = await run(promtool ?? "promtool", ["test", "rules", PROMTOOL_TESTS], { cwd: root }).catch(
      (err: { stdout?: string; stderr?: string }) => {
        assert.fail(`promtool test rules failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
      },
    );
    assert.match(out.stdout, /SUCCESS/);
  });

  it("each have a promtool case where they fire and one where they do not", () => {
    const tests = (
      parse(read(PROMTOOL_TESTS)) as {
        tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
      }
    ).tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const r of rules) {
      const cases = tests.filter((t) => t.alertname === r.alert);
      assert.ok(
        cases.some((t) => t.exp_alerts.length > 0),
        `${r.alert}: a case where it fires`,
      );
      assert.ok(
        cases.some((t) => t.exp_alerts.length === 0),
        `${r.alert}: a case where it does not`,
      );
    }
  });

  it("each have a severity, a summary and a runbook that docs/observability.md has", () => {
    for (const r of rules) {
      assert.match(r.labels["severity"] ?? "", /^(warning|critical)$/, r.alert);
      assert.ok((r.annotations["summary"] ?? "") !== "", `${r.alert}: summary`);
      assert.equal(r.annotations["runbook"], `docs/observability.md#${r.alert.toLowerCase()}`, r.alert);
      assert.ok(docAnchors.has(r.alert.toLowerCase()), `docs/observability.md has a "${r.alert}" heading`);
    }
  });

  it("read only metrics brupop exports", () => {
    for (const r of rules) {
      const names = metricNames(r.expr);
      assert.ok(names.length > 0, `${r.alert} reads a brupop metric`);
      for (const n of names) assert.ok(exported.has(n), `${r.alert}: ${n} is not exported by src/`);
    }
  });
});

describe("shipped dashboard", () => {
  const queries = dashboardQueries(dashboard);
  const variables = new Set(dashboard.templating.list.map((v) => v.name));

  it("has the panels the docs promise, each with at least one query", () => {
    assert.deepEqual(
      dashboard.panels.map((p) => p.title),
      [
        "Fleet versions",
        "Nodes per state",
        "Updates in flight vs limit",
        "Updates started, succeeded, failed",
        "Failures and halts",
        "Drain durations",
        "Apiserver requests",
        "Apiserver errors",
        "Token reviews",
        "Controller",
      ],
    );
    for (const p of dashboard.panels) assert.ok((p.targets ?? []).length > 0, `${p.title}: no query`);
    assert.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length, "unique ids");
  });

  it("queries only metrics brupop exports, with variables the dashboard defines", () => {
    for (const q of queries) {
      const names = metricNames(q.expr);
      if (!q.expr.startsWith("vector(")) assert.ok(names.length > 0, `${q.panel}/${q.refId} reads brupop`);
      for (const n of names) assert.ok(exported.has(n), `${q.panel}/${q.refId}: ${n} is not exported`);
      for (const [, v] of q.expr.matchAll(/\$\{?(\w+)/g)) {
        assert.ok(v === "__rate_interval" || variables.has(v ?? ""), `${q.panel}: $${v} undefined`);
      }
    }
  });

  it("is documented: docs/observability.md names every metric src/ exports", () => {
    for (const n of exported) {
      if (/_(bucket|sum|count)$/.test(n)) continue;
      assert.ok(docs.includes(`\`${n}\``), `docs/observability.md does not document ${n}`);
    }
  });
});

describe("expandVariables", () => {
  const cases: [string, Record<string, string>, string][] = [
    ["rate(x[$__rate_interval])", { __rate_interval: "5m" }, "rate(x[5m])"],
    ["vector($max_concurrent)", { max_concurrent: "2" }, "vector(2)"],
    ["vector(${max_concurrent}) + $a", { max_concurrent: "2", a: "1" }, "vector(2) + 1"],
    ["up", {}, "up"],
  ];
  for (const [expr, vars, want] of cases) {
    it(`${expr} → ${want}`, () => assert.equal(expandVariables(expr, vars), want));
  }
  it("refuses a variable it is not given", () => {
    assert.throws(() => expandVariables("vector($nope)", {}), /\$nope/);
  });
});
