// Issue 31 end to end, with a REAL Prometheus (Debian's 2.42, kit/testenv/prometheus-server.ts)
// where a user's would be, on the real control plane with a BrupopTestbed (in-process brupop
// apiserver, simulated hosts, real agents) and the real in-process Controller:
//   1. the chart renders the shipped rules (PrometheusRule) and dashboard (ConfigMap) from its files/;
//   2. the alert blocker (PROMETHEUS_URL) against Prometheus's own /api/v1/alerts: an always-firing
//      rule holds every start; a pending rule (ALERT_FIRING_ONLY) and a firing one matching
//      ALERT_FILTER_REGEXP do not; removing the firing rule and reloading Prometheus lets a
//      demo-sized rollout (6 nodes) run to the end;
//   3. Prometheus scrapes the controller's and the apiserver's /metrics (static targets: kwok nodes
//      run no pods) and the documented metrics have the values the rollout implies, upstream's two
//      gauges included (the version left behind kept at 0);
//   4. the shipped rules, as the chart renders them, load healthy and none fires after the rollout;
//   5. every dashboard query answers with series.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseAllDocuments, stringify } from "yaml";

import { Controller } from "../../src/controller/run/controller.js";
import { parseSchedule } from "../../src/controller/decide/schedule.js";
import { KubeRest } from "../../src/k8s/rest.js";
import { createLogger, silentLogger, type Logger } from "../../src/log.js";
import { startCluster, type TestCluster } from "../../kit/testenv/cluster.js";
import { freePort, PrometheusServer, type PromSample } from "../../kit/testenv/prometheus-server.js";
import { Helm } from "../../kit/deploy/helm.js";
import {
  alertRules,
  DASHBOARD_FILE,
  dashboardQueries,
  expandVariables,
  exportedMetricNames,
  RULES_FILE,
  type Dashboard,
} from "../../kit/deploy/observability.js";
import { OPERATOR_CHART_DIR } from "../../kit/deploy/manifest.js";
import { eventually } from "../kit/kube.js";
import { BrupopTestbed } from "../kit/testbed.js";

const FROM = "1.19.0";
const TO = "1.20.0";
const NODES = 6;
const MAX_CONCURRENT = 3;
const DRAIN_ROUTE = "/bottlerocket-node-resource/cordon-and-drain";
const root = join(import.meta.dirname, "../..");
const read = (path: string): string => readFileSync(join(root, path), "utf8");

const logger: Logger =
  process.env["BRUPOP_E2E_LOG"] === "1" ? createLogger({ level: "debug", name: "e2e" }) : silentLogger();

/** The e2e's own alerts: one firing, one pending for an hour, one firing but filtered out. */
const blockerRules = (withFiring: boolean): string =>
  stringify({
    groups: [
      {
        name: "e2e-blockers",
        rules: [
          ...(withFiring ? [{ alert: "E2EAlwaysFiring", expr: "vector(1)" }] : []),
          { alert: "E2EPending", expr: "vector(1)", for: "1h" },
          { alert: "E2EIgnored", expr: "vector(1)" },
        ],
      },
    ],
  });

/** One number from an instant query that must answer exactly one series. */
async function value(prom: PrometheusServer, expr: string): Promise<number> {
  const r = await prom.query(expr);
  assert.equal(r.length, 1, `${expr}: one series, got ${JSON.stringify(r)}`);
  return Number(r[0]?.value[1]);
}

const byLabel = (samples: PromSample[], label: string): Record<string, number> =>
  Object.fromEntries(samples.map((s) => [s.metric[label] ?? "", Number(s.value[1])]));

describe("a real Prometheus: alert blocker, scraping, shipped rules, dashboard", { timeout: 240_000 }, () => {
  let cluster: TestCluster | undefined;
  let testbed: BrupopTestbed | undefined;
  let promServer: PrometheusServer | undefined;
  let controller: Controller | undefined;
  let rest: KubeRest | undefined;
  /** The rules file as the chart's PrometheusRule carries it. */
  let chartRules = "";

  const need = <T>(x: T | undefined, what: string): T => {
    assert.ok(x !== undefined, `${what} (an earlier step failed)`);
    return x;
  };

  before(async () => {
    cluster = await startCluster();
    testbed = await BrupopTestbed.start({
      cluster,
      namespace: "prom",
      releases: [{ version: TO }],
      hostDurations: { refresh: 100, prepare: 300, activate: 100, deactivate: 100, reboot: 500 },
      agentTimings: { loopIntervalMs: 1_000, updateCheckIntervalMs: 2_000, excludeFromLbWaitMs: 0 },
      logger,
    });
  });

  after(async () => {
    await controller?.stop();
    rest?.close();
    await promServer?.stop();
    await testbed?.stop();
    await cluster?.stop();
  });

  const dumpOnFailure = async (fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      process.stderr.write(
        `\n--- prometheus log\n${await promServer?.log()}\n${await cluster?.dumpLogs(20)}\n`,
      );
      throw err;
    }
  };

  it("the chart renders the rules and the dashboard from its files/, only when asked", async () => {
    const helm = await Helm.create(join(need(cluster, "cluster").binDir, "helm"));
    try {
      const chart = join(root, OPERATOR_CHART_DIR);
      const kinds = (out: string) => parseAllDocuments(out).map((d) => d.toJS() as Rendered | null);
      const plain = kinds(await helm.template(chart));
      assert.ok(!plain.some((d) => d?.kind === "PrometheusRule" || d?.metadata?.name?.includes("grafana")));

      const values = {
        prometheus: { rules: { enabled: true, labels: { release: "kps" } } },
        grafana: { dashboard: { enabled: true } },
      };
      await helm.lint(chart, values);
      const docs = kinds(await helm.template(chart, { values }));
      const rule = docs.find((d) => d?.kind === "PrometheusRule");
      assert.equal(rule?.metadata?.namespace, "brupop-bottlerocket-aws");
      assert.equal(rule?.metadata?.labels?.["release"], "kps");
      const file = parseAllDocuments(read(RULES_FILE))[0]?.toJS() as unknown;
      assert.deepEqual(rule?.spec, file, "the PrometheusRule's spec is the rules file");
      chartRules = stringify(rule?.spec);

      const cm = docs.find((d) => d?.kind === "ConfigMap" && d.metadata?.name === "brupop-grafana-dashboard");
      assert.equal(cm?.metadata?.labels?.["grafana_dashboard"], "1");
      assert.deepEqual(JSON.parse(cm?.data?.["brupop.json"] ?? "{}"), JSON.parse(read(DASHBOARD_FILE)));
    } finally {
      await helm.close();
    }
  });

  it("alerts hold every start while one fires (not pending or filtered ones); a reload lets the rollout run", () =>
    dumpOnFailure(async () => {
      assert.notEqual(chartRules, "", "the chart's rules (previous test)");
      const tb = need(testbed, "testbed");
      const nodes = await tb.addNodes(NODES, { version: FROM, namePrefix: "prom-" });
      await tb.waitForAll(
        nodes,
        `Idle, offered ${TO}`,
        (s) => s.current_state === "Idle" && s.target_version === TO,
        60_000,
      );
      const controllerPort = await freePort();
      const apiserver = new URL(tb.apiserver.url);
      const prom = await PrometheusServer.start({
        ruleFiles: { "brupop.rules.yaml": chartRules, "e2e-blockers.yaml": blockerRules(true) },
        extraFiles: { "brupop-ca.crt": tb.ca.certPem },
        scrapeConfigs: [
          { job_name: "brupop-controller", static_configs: [{ targets: [`127.0.0.1:${controllerPort}`] }] },
          {
            job_name: "brupop-apiserver",
            scheme: "https",
            tls_config: { ca_file: "brupop-ca.crt" },
            static_configs: [{ targets: [apiserver.host] }],
          },
        ],
      });
      const states = async () =>
        Object.fromEntries((await prom.alerts()).map((a) => [a.labels["alertname"] ?? "", a.state]));
      promServer = prom;
      await eventually("Prometheus evaluated the e2e alerts", 15_000, async () => {
        const s = await states();
        return (
          s["E2EAlwaysFiring"] === "firing" && s["E2EIgnored"] === "firing" && s["E2EPending"] === "pending"
        );
      });

      rest = new KubeRest(need(cluster, "cluster").kubeConfig);
      const c = new Controller(
        {
          namespace: tb.namespace,
          maxConcurrent: MAX_CONCURRENT,
          schedule: parseSchedule("* * * * * * *", new Date()),
          tickIntervalMs: 500,
          eventDebounceMs: 50,
          http: { port: controllerPort, host: "127.0.0.1" },
          leaderElection: null,
          agentSilenceLimitMs: 600_000,
          blockers: {
            prometheus: {
              url: prom.url,
              filter: /^E2EIgnored$/,
              matchOnly: false,
              firingOnly: true,
              timeoutMs: 5_000,
            },
          },
        },
        { rest, logger },
      );
      controller = c;
      await c.start();
      await eventually("the firing alert holds every node", 30_000, () => {
        const why = c.explain();
        return why.length === NODES && why.every((e) => e.reason.kind === "blocked");
      });
      // Only the firing, unfiltered alert is named: the pending and the filtered ones do not block.
      for (const e of c.explain()) {
        assert.equal(
          e.message,
          `blocked by firing alert E2EAlwaysFiring; starts updating to ${TO} once that clears`,
        );
      }
      await eventually("Prometheus scraped the held fleet", 15_000, async () => {
        return (await value(prom, "brupop_controller_blocked_nodes")) === NODES;
      });
      const ticks = c.ticks;
      await eventually("three more ticks", 10_000, () => c.ticks >= ticks + 3);
      assert.equal(await value(prom, "brupop_updates_started_total"), 0, "nothing started");
      for (const s of (await tb.statuses()).values()) assert.equal(s?.current_version, FROM);

      // The rule goes; Prometheus reloads. The pending and the filtered alerts are still there.
      await prom.setRules({ "brupop.rules.yaml": chartRules, "e2e-blockers.yaml": blockerRules(false) });
      await eventually("Prometheus evaluated the reloaded rules", 10_000, async () => {
        const s = await states();
        return (
          s["E2EAlwaysFiring"] === undefined && s["E2EIgnored"] === "firing" && s["E2EPending"] === "pending"
        );
      });
      await tb.waitForAll(
        nodes,
        `updated to ${TO}`,
        (s) => s.current_state === "Idle" && s.current_version === TO,
        120_000,
      );
    }));

  it("Prometheus scrapes the controller and the apiserver: the documented metrics, with the rollout's values", () =>
    dumpOnFailure(async () => {
      const prom = need(promServer, "Prometheus");
      await eventually("Prometheus scraped the finished rollout", 20_000, async () => {
        return (
          (await value(prom, "brupop_updates_succeeded_total")) === NODES &&
          (await value(prom, `brupop_hosts_version{bottlerocket_version="${TO}"}`)) === NODES &&
          // The last agent reports Idle after the controller's MonitoringUpdate → Idle write: on a
          // loaded machine a scrape can fall in between.
          (await value(prom, `brupop_hosts_state{state="Idle"}`)) === NODES &&
          // The apiserver is a target of its own, scraped on its own clock: wait for a scrape
          // after the last status write too.
          (await value(prom, 'sum(brupop_apiserver_requests_total{method="PUT",code="200"})')) >= NODES * 4
        );
      });
      const up = await prom.query("up");
      assert.deepEqual(byLabel(up, "job"), { "brupop-controller": 1, "brupop-apiserver": 1 });

      // Upstream's two gauges: every state exported; the version the fleet left stays at 0.
      assert.deepEqual(byLabel(await prom.query("brupop_hosts_state"), "state"), {
        Idle: NODES,
        StagedAndPerformedUpdate: 0,
        RebootedIntoUpdate: 0,
        MonitoringUpdate: 0,
        ErrorReset: 0,
      });
      assert.deepEqual(byLabel(await prom.query("brupop_hosts_version"), "bottlerocket_version"), {
        [FROM]: 0,
        [TO]: NODES,
      });
      const exact: [string, number][] = [
        ["brupop_updates_started_total", NODES],
        ["brupop_updates_failed_total", 0],
        ["brupop_controller_is_leader", 1],
        ["brupop_controller_updates_allowed", 1],
        ["brupop_controller_blocked_nodes", 0],
        ["brupop_controller_agents_silent", 0],
        ["brupop_controller_invalid_shadows", 0],
        ["brupop_policy_halted", 0],
        ["brupop_policy_paused", 0],
        ["brupop_policy_window_open", 1],
        ['sum(brupop_apiserver_token_reviews_total{outcome=~"rejected|error"}) or vector(0)', 0],
      ];
      for (const [expr, want] of exact) assert.equal(await value(prom, expr), want, expr);
      const atLeast: [string, number][] = [
        [`sum(brupop_controller_spec_writes_total{outcome="ok"})`, NODES * 4],
        ["brupop_controller_tick_duration_seconds_count", 3],
        [`sum(brupop_apiserver_request_duration_seconds_count{route="${DRAIN_ROUTE}",code="200"})`, NODES],
        ['sum(brupop_apiserver_requests_total{method="PUT",code="200"})', NODES * 4],
        ['sum(brupop_apiserver_token_reviews_total{outcome="reviewed"})', 1],
      ];
      for (const [expr, min] of atLeast) assert.ok((await value(prom, expr)) >= min, `${expr} ≥ ${min}`);
      // A drain took time, and less than the apiserver's deadline.
      const drainSeconds = await value(
        prom,
        `sum(brupop_apiserver_request_duration_seconds_sum{route="${DRAIN_ROUTE}"}) / sum(brupop_apiserver_request_duration_seconds_count{route="${DRAIN_ROUTE}"})`,
      );
      assert.ok(drainSeconds > 0 && drainSeconds < 120, `mean drain ${drainSeconds}s`);

      // Every metric src/ exports is scraped, except those this configuration never sets.
      const notHere = new Set([
        "brupop_controller_notifications_total", // no NOTIFY_URL
        "brupop_controller_shadow_deletes_total", // no node lost its label
        "brupop_policy_nodes", // no UpdatePolicy object
        "brupop_policy_group_nodes",
        "brupop_apiserver_tls_reloads_total", // no certificate rotation
        "brupop_apiserver_request_duration_seconds",
        "brupop_controller_tick_duration_seconds",
      ]);
      const scraped = new Set(
        (await prom.query('count by (__name__) ({__name__=~"brupop_.+"})')).map((s) => s.metric["__name__"]),
      );
      for (const name of exportedMetricNames(join(root, "src"))) {
        if (!notHere.has(name)) assert.ok(scraped.has(name), `${name} scraped`);
      }
    }));

  it("the shipped rules, as the chart renders them, load healthy and none fires after a clean rollout", () =>
    dumpOnFailure(async () => {
      const prom = need(promServer, "Prometheus");
      const group = (await prom.rules()).find((g) => g.name === "brupop");
      assert.ok(group !== undefined, "group brupop loaded");
      const shipped = alertRules(read(RULES_FILE));
      assert.deepEqual(
        group.rules.map((r) => r.name),
        shipped.map((r) => r.alert),
      );
      for (const r of group.rules) {
        assert.equal(r.type, "alerting", r.name);
        assert.equal(r.health, "ok", `${r.name}: ${r.lastError ?? ""}`);
        assert.match(r.labels?.["severity"] ?? "", /^(warning|critical)$/, r.name);
      }
      const firing = (await prom.alerts()).filter(
        (a) => a.labels["alertname"]?.startsWith("Brupop") === true && a.state === "firing",
      );
      assert.deepEqual(firing, [], "no shipped alert fires");
    }));

  it("every dashboard query answers with series", () =>
    dumpOnFailure(async () => {
      const prom = need(promServer, "Prometheus");
      const dashboard = JSON.parse(read(DASHBOARD_FILE)) as Dashboard;
      const vars = { __rate_interval: "5m", max_concurrent: String(MAX_CONCURRENT) };
      const empty: string[] = [];
      for (const q of dashboardQueries(dashboard)) {
        const samples = await prom.query(expandVariables(q.expr, vars));
        if (samples.length === 0) empty.push(`${q.panel} / ${q.refId}: ${q.expr}`);
      }
      assert.deepEqual(empty, [], "queries without series");
      // The panels show the rollout, not just zeros.
      const drains = dashboardQueries(dashboard).find(
        (q) => q.panel === "Drain durations" && q.refId === "C",
      );
      const n = await value(prom, expandVariables(drains?.expr ?? "", vars));
      assert.ok(n > 0, `drains in the last 5m: ${n}`);
    }));
});

interface Rendered {
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: unknown;
  data?: Record<string, string>;
}
