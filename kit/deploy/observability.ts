// The shipped alert rules and Grafana dashboard (issue 31), as the tests read them: the files live
// in the operator chart's files/ (the chart's PrometheusRule and dashboard ConfigMap include them
// verbatim; a Prometheus or Grafana without the chart uses them as they are).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export const RULES_FILE = "deploy/charts/bottlerocket-update-operator/files/brupop.rules.yaml";
export const DASHBOARD_FILE = "deploy/charts/bottlerocket-update-operator/files/brupop-dashboard.json";

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** The alerting rules of a rules file, in order. */
export function alertRules(rulesYaml: string): AlertRule[] {
  const doc = parse(rulesYaml) as { groups: { name: string; rules: Partial<AlertRule>[] }[] };
  return doc.groups.flatMap((g) =>
    g.rules
      .filter((r): r is AlertRule => typeof r.alert === "string")
      .map((r) => ({ ...r, labels: r.labels ?? {}, annotations: r.annotations ?? {} })),
  );
}

export interface DashboardTarget {
  expr: string;
  refId: string;
  legendFormat?: string;
}

export interface DashboardPanel {
  id: number;
  title: string;
  type: string;
  targets?: DashboardTarget[];
}

export interface Dashboard {
  title: string;
  uid: string;
  panels: DashboardPanel[];
  templating: { list: { name: string; type: string; query?: string }[] };
}

export interface DashboardQuery {
  panel: string;
  refId: string;
  expr: string;
}

/** Every PromQL query of the dashboard, by panel title and refId. */
export function dashboardQueries(dashboard: Dashboard): DashboardQuery[] {
  return dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr })),
  );
}

/**
 * The query as Grafana would send it: `$name` and `${name}` replaced from `vars` (Grafana's
 * `$__rate_interval` among them). Throws on a variable `vars` does not define.
 */
export function expandVariables(expr: string, vars: Readonly<Record<string, string>>): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? "";
    const value = vars[name];
    if (value === undefined) throw new Error(`query uses $${name}, which is not given: ${expr}`);
    return value;
  });
}

/** The brupop metric names a PromQL expression reads (sorted, unique). */
export function metricNames(expr: string): string[] {
  return [...new Set(expr.match(/\bbrupop_[a-z_]+\b/g) ?? [])].sort();
}

const HISTOGRAM_SERIES = ["_bucket", "_sum", "_count"];

/**
 * The metric names brupop exports, read from the source: every `name: "brupop_…"` of a prom-client
 * metric under src/ (tests excluded), with a histogram's _bucket/_sum/_count series.
 */
export function exportedMetricNames(srcDir: string): Set<string> {
  const names = new Set<string>();
  for (const path of sourceFiles(srcDir)) {
    const text = readFileSync(path, "utf8");
    for (const m of text.matchAll(/new (Gauge|Counter|Histogram)\(\{\s*name: "(brupop_[a-z_]+)"/g)) {
      const [, kind, name] = m as unknown as [string, string, string];
      names.add(name);
      if (kind === "Histogram") for (const s of HISTOGRAM_SERIES) names.add(name + s);
    }
  }
  return names;
}

/** The .ts files under dir, tests excluded. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
    .map((e) => join(e.parentPath, e.name));
}
