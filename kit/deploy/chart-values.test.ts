// The charts' values must keep upstream Brupop v1.4's names and defaults, so a cluster switches
// with the values file it already has. Deliberate differences are listed (and explained in
// docs/install.md); anything else that differs fails here.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse } from "yaml";

const root = new URL("../../", import.meta.url);
const readYaml = (path: string): Record<string, unknown> =>
  parse(readFileSync(new URL(path, root), "utf8")) as Record<string, unknown>;

/** Upstream v1.4.0's chart defaults (both charts' values.yaml in the v1.4.0 release). */
const UPSTREAM_OPERATOR_DEFAULTS = {
  namespace: "brupop-bottlerocket-aws",
  image: "public.ecr.aws/bottlerocket/bottlerocket-update-operator:v1.4.0",
  placement: {
    agent: { tolerations: [], priorityClassName: "" },
    controller: {
      tolerations: [],
      nodeSelector: {},
      podAffinity: {},
      podAntiAffinity: {},
      priorityClassName: "brupop-controller-high-priority",
    },
    apiserver: {
      tolerations: [],
      nodeSelector: {},
      podAffinity: {},
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 1,
            podAffinityTerm: {
              labelSelector: {
                matchExpressions: [
                  { key: "brupop.bottlerocket.aws/component", operator: "In", values: ["apiserver"] },
                ],
              },
              topologyKey: "kubernetes.io/hostname",
            },
          },
        ],
      },
      priorityClassName: "",
    },
  },
  exclude_from_lb_wait_time_in_sec: "0",
  max_concurrent_updates: "1",
  update_window_start: "0:0:0",
  update_window_stop: "0:0:0",
  scheduler_cron_expression: "* * * * * * *",
  apiserver_internal_port: "8443",
  apiserver_service_port: "443",
  logging: {
    formatter: "pretty",
    ansi_enabled: "true",
    controller: { tracing_filter: "info" },
    agent: { tracing_filter: "info" },
    apiserver: { tracing_filter: "info" },
  },
  prometheus: { controller: { serviceMonitor: { enabled: false } } },
  resources: {
    agent: { resources: { limits: { cpu: "10m", memory: "50Mi" }, requests: { cpu: "5m", memory: "8Mi" } } },
    apiserver: { resources: { limits: { memory: "256Mi" }, requests: { cpu: "10m", memory: "40Mi" } } },
    controller: { resources: { limits: { memory: "256Mi" }, requests: { cpu: "10m", memory: "40Mi" } } },
  },
  podLabels: {},
};

/** Value paths whose defaults differ on purpose (the names stay). */
const DELIBERATE = ["image", "resources"];
/** Values upstream does not have. */
const ADDED = [
  "createNamespace",
  "certManager.enabled",
  // issue 19: controller extras (off by default)
  "notifications",
  "update_blockers",
  "agent_silence_limit_seconds",
  // issue 19: drain policy and node marks (apiserver)
  "drain",
  "update_node_marks",
  // The agent's health gate (docs/agent.md).
  "update_health_soak_time_in_sec",
  "update_health_check_daemonset_pods",
  "update_health_pod_selector",
  "update_health_probe_url",
  "update_health_probe_timeout_in_sec",
  // issue 25: quarantine of a node that failed on the new version (docs/policy.md).
  "quarantine_failed_nodes",
  // issue 31: shipped alert rules and dashboard (off by default; docs/observability.md)
  "prometheus.rules",
  "grafana",
];

/** Leaf paths of a values tree; arrays and empty objects are leaves. */
function leaves(value: unknown, prefix = ""): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const isTree =
    typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length > 0;
  if (!isTree) return out.set(prefix, value);
  for (const [k, v] of Object.entries(value)) {
    for (const [p, leaf] of leaves(v, prefix === "" ? k : `${prefix}.${k}`)) out.set(p, leaf);
  }
  return out;
}

const covered = (path: string, roots: readonly string[]): boolean =>
  roots.some((r) => path === r || path.startsWith(`${r}.`));

describe("chart values", () => {
  const ours = readYaml("deploy/charts/bottlerocket-update-operator/values.yaml");
  const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { version: string };

  it("keep every upstream v1.4 value name with its default, except the deliberate ones", () => {
    const mine = leaves(ours);
    for (const [path, upstream] of leaves(UPSTREAM_OPERATOR_DEFAULTS)) {
      if (covered(path, DELIBERATE)) {
        assert.ok(
          [...mine.keys()].some((p) => covered(p, [path.split(".")[0] ?? path])),
          `${path} exists`,
        );
        continue;
      }
      assert.ok(mine.has(path), `upstream value ${path} exists`);
      assert.deepEqual(mine.get(path), upstream, `default of ${path}`);
    }
    for (const path of mine.keys()) {
      const known = leaves(UPSTREAM_OPERATOR_DEFAULTS).has(path) || covered(path, [...DELIBERATE, ...ADDED]);
      assert.ok(known, `${path} is neither upstream's nor a listed addition`);
    }
    assert.equal(ours["createNamespace"], false, "upstream never created the namespace");
  });

  it("size resources for Node.js and keep upstream's resource structure", () => {
    const res = ours["resources"] as Record<
      string,
      { resources: { limits: Record<string, string>; requests: Record<string, string> } }
    >;
    for (const component of ["agent", "apiserver", "controller"]) {
      const r = res[component]?.resources;
      assert.ok(r !== undefined, component);
      assert.ok(!("cpu" in r.limits), `${component}: no CPU limit (throttling stalls the event loop)`);
      assert.match(r.requests["memory"] ?? "", /^\d+Mi$/);
      // The bundled build measured 59-77 MiB RSS idle (docs/benchmarks.md, "Resource limits vs upstream").
      const request = parseInt(r.requests["memory"] ?? "0", 10);
      assert.ok(request >= 64, `${component}: ≥64Mi for a bundled Node.js process`);
      assert.ok(
        parseInt(r.limits["memory"] ?? "0", 10) >= 2 * request,
        `${component}: room above the request`,
      );
    }
  });

  it("point at this version's image and say so in both Chart.yaml files", () => {
    assert.equal(ours["image"], `brupop-ts:${pkg.version}`);
    for (const chart of ["bottlerocket-update-operator", "bottlerocket-shadow"]) {
      assert.equal(readYaml(`deploy/charts/${chart}/Chart.yaml`)["appVersion"], pkg.version, chart);
    }
  });

  it("of the CRD chart are upstream's", () => {
    assert.deepEqual(readYaml("deploy/charts/bottlerocket-shadow/values.yaml"), {
      namespace: "brupop-bottlerocket-aws",
      apiserver_service_port: "443",
    });
  });
});
