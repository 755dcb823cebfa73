// The install surface against a real control plane: both Helm charts lint and render for several
// value sets, render upstream's object names/selectors and the values given, pass server-side
// dry-run, the checked-in static manifest is current, the CRD chart is exactly `brupop crd`, and
// each component's RBAC allows what it needs and nothing it must not do (checked by impersonation).
// One cluster for the file (no scheduler, controller-manager or kwok: nothing here runs pods).
import { execFile } from "node:child_process";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseAllDocuments } from "yaml";

import { Helm, type ChartValues } from "../../kit/deploy/helm.js";
import {
  CRD_CHART_DIR,
  crdTemplateArtifact,
  OPERATOR_CHART_DIR,
  renderStaticManifest,
  splitDocuments,
  STATIC_MANIFEST_PATH,
} from "../../kit/deploy/manifest.js";
import { DEFAULT_STATE_CONFIGMAP } from "../../src/controller/act/round-store.js";
import { controllerSettings } from "../../src/controller/run/settings.js";
import { renderCrdYaml } from "../../src/model/crd.js";
import { renderPolicyCrdYaml } from "../../src/model/policy-crd.js";
import { startCluster, type TestCluster } from "../../kit/testenv/cluster.js";

const ROOT = join(import.meta.dirname, "..", "..");
const NS = "brupop-bottlerocket-aws";
const BRS = "bottlerocketshadows.brupop.bottlerocket.aws";
// The controller's Role grants its Lease and ConfigMap by name: take the names from the controller.
const LEASE = controllerSettings(
  {},
  {},
  new Date(),
  () => NS,
  () => undefined,
).leaseName;
const STATE_CONFIGMAP = DEFAULT_STATE_CONFIGMAP;

/** A rendered Kubernetes object, loosely typed: tests navigate it with `at()`. */
type Obj = Record<string, unknown>;

/** Value sets: upstream's defaults, and non-defaults touching every value group. */
const VALUE_SETS: Record<string, ChartValues> = {
  default: {},
  custom: {
    namespace: "brupop-custom",
    createNamespace: true,
    image: "registry.example.com/brupop-ts:9.9.9",
    image_pull_secrets: '- name: "brupop"',
    placement: {
      agent: {
        tolerations: [{ key: "dedicated", operator: "Exists", effect: "NoSchedule" }],
        priorityClassName: "system-node-critical",
      },
      controller: { nodeSelector: { pool: "infra" }, priorityClassName: "" },
      apiserver: {
        tolerations: [{ key: "infra", operator: "Exists" }],
        podAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 5,
              podAffinityTerm: { labelSelector: { matchLabels: { app: "x" } }, topologyKey: "zone" },
            },
          ],
        },
      },
    },
    exclude_from_lb_wait_time_in_sec: 30,
    max_concurrent_updates: "unlimited",
    scheduler_cron_expression: "0 0 3 * * Mon *",
    apiserver_internal_port: 9443,
    apiserver_service_port: "8443",
    logging: { formatter: "json", agent: { tracing_filter: "debug" } },
    prometheus: { controller: { serviceMonitor: { enabled: true } } },
    resources: { agent: { resources: { requests: { cpu: "20m", memory: "100Mi" } } } },
    podLabels: { team: "platform", "brupop.bottlerocket.aws/component": "spoofed" },
  },
  legacyWindow: {
    namespace: "brupop-legacy",
    image_pull_secrets: [{ name: "a" }, { name: "b" }],
    scheduler_cron_expression: "",
    update_window_start: "22:0:0",
    update_window_stop: "4:0:0",
    max_concurrent_updates: 3,
    // Helm merges maps into the defaults: null (not {}) removes the default anti-affinity.
    placement: { apiserver: { podAntiAffinity: null } },
  },
};

/** [kind, name, component] of the three workloads (upstream's names). */
const WORKLOADS: [string, string, string][] = [
  ["DaemonSet", "brupop-agent", "agent"],
  ["Deployment", "brupop-apiserver", "apiserver"],
  ["Deployment", "brupop-controller-deployment", "brupop-controller"],
];

/** Walks a path of keys / indexes; undefined as soon as a step is missing. */
function at(value: unknown, ...path: (string | number)[]): unknown {
  let cur = value;
  for (const step of path) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string | number, unknown>)[step];
  }
  return cur;
}

function parseObjects(yamlText: string): Obj[] {
  return parseAllDocuments(yamlText)
    .map((d) => d.toJS() as unknown)
    .filter((o): o is Obj => typeof o === "object" && o !== null);
}

const find = (objs: readonly Obj[], kind: string, name: string): Obj => {
  const obj = objs.find((o) => o["kind"] === kind && at(o, "metadata", "name") === name);
  assert.ok(obj !== undefined, `${kind}/${name} is rendered`);
  return obj;
};

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  ports?: { containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  securityContext?: Obj;
  startupProbe?: Obj;
  livenessProbe?: Obj;
  readinessProbe?: Obj;
  resources?: Obj;
}

const podSpec = (workload: Obj): Obj => at(workload, "spec", "template", "spec") as Obj;
const container = (workload: Obj): Container =>
  (at(podSpec(workload), "containers") as Container[])[0] as Container;
const env = (workload: Obj): Record<string, unknown> =>
  Object.fromEntries((container(workload).env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

/** Objects the API server can dry-run: cert-manager and prometheus-operator CRDs are not installed. */
const dryRunnable = (o: Obj): boolean =>
  !/^(cert-manager\.io|monitoring\.coreos\.com)\//.test(String(o["apiVersion"]));

const toYamlStream = (objs: readonly Obj[]): string =>
  objs.map((o) => `---\n${JSON.stringify(o)}\n`).join("");

describe("install surface: charts, static manifest, RBAC", { timeout: 300_000 }, () => {
  let cluster: TestCluster;
  let helm: Helm;
  let scratch: string;
  let files = 0;

  const render = async (chart: string, values?: ChartValues): Promise<Obj[]> =>
    parseObjects(await helm.template(join(ROOT, chart), { values: values ?? {} }));
  let defaultRender: Promise<Obj[]> | undefined;
  /** The operator chart with default values (rendered once). */
  const defaults = (): Promise<Obj[]> => (defaultRender ??= render(OPERATOR_CHART_DIR));

  /** kubectl against the cluster; resolves with exit code and output (never rejects on exit 1). */
  const kubectl = (args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve, reject) => {
      execFile(
        join(cluster.binDir, "kubectl"),
        ["--kubeconfig", cluster.kubeconfigPath, ...args],
        { maxBuffer: 32 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err === null) return resolve({ code: 0, stdout, stderr });
          if (typeof err.code === "number") return resolve({ code: err.code, stdout, stderr });
          reject(new Error(`cannot run kubectl: ${err.message}`, { cause: err }));
        },
      );
    });

  const applyFile = async (
    objs: readonly Obj[],
    dryRun: boolean,
  ): Promise<{ code: number; stderr: string }> => {
    const file = join(scratch, `apply-${files++}.yaml`);
    await writeFile(file, toYamlStream(objs));
    const args = ["apply", "--server-side", "--field-manager=brupop-install-test", "-f", file];
    return kubectl(dryRun ? [...args, "--dry-run=server"] : args);
  };

  const mustApply = async (objs: readonly Obj[], dryRun: boolean): Promise<void> => {
    const { code, stderr } = await applyFile(objs, dryRun);
    assert.equal(code, 0, `kubectl apply${dryRun ? " --dry-run=server" : ""} failed:\n${stderr}`);
  };

  const ensureNamespace = async (name: string): Promise<void> => {
    const { code, stderr } = await kubectl(["create", "namespace", name]);
    assert.ok(code === 0 || stderr.includes("AlreadyExists"), stderr);
  };

  before(async () => {
    cluster = await startCluster({ controllerManager: false, scheduler: false, kwok: false });
    helm = await Helm.create(join(cluster.binDir, "helm"));
    scratch = await mkdtemp(join(tmpdir(), "brupop-install-test-"));
  });

  after(async () => {
    await helm?.close();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
    await cluster?.stop();
  });

  it("helm lint --strict passes for both charts and every value set", async () => {
    for (const [name, values] of Object.entries(VALUE_SETS)) {
      await assert.doesNotReject(helm.lint(join(ROOT, OPERATOR_CHART_DIR), values), name);
    }
    for (const values of [{}, { namespace: "ops", apiserver_service_port: 8443 }]) {
      await assert.doesNotReject(helm.lint(join(ROOT, CRD_CHART_DIR), values));
    }
  });

  it("the values schema rejects values the components would refuse at start-up", async () => {
    const bad: ChartValues[] = [
      { max_concurrent_updates: "-1" }, // 0 is valid: upstream's pause switch
      { max_concurrent_updates: "some" },
      { namespace: "Not_A_Namespace" },
      { apiserver_internal_port: "https" },
      { update_window_start: "25:00:00" },
      { podLabels: { team: 7 } },
    ];
    for (const values of bad) {
      await assert.rejects(
        helm.template(join(ROOT, OPERATOR_CHART_DIR), { values }),
        /values don't meet/,
        JSON.stringify(values),
      );
    }
    await assert.rejects(helm.template(join(ROOT, CRD_CHART_DIR), { values: { apiserver_service_port: 0 } }));
  });

  it("the CRD chart renders exactly `brupop crd`, for the default and other namespace/port", async () => {
    const cases: [ChartValues, { namespace?: string; servicePort?: number }][] = [
      [{}, {}],
      [
        { namespace: "ops", apiserver_service_port: 8443 },
        { namespace: "ops", servicePort: 8443 },
      ],
      [
        { namespace: "brupop-x", apiserver_service_port: "9443" },
        { namespace: "brupop-x", servicePort: 9443 },
      ],
    ];
    for (const [values, opts] of cases) {
      const out = await helm.template(join(ROOT, CRD_CHART_DIR), { values });
      const docs = splitDocuments(out);
      // The shadow CRD, then the UpdatePolicy CRD (docs/policy.md; no values).
      assert.equal(docs.length, 2);
      const body = (docs[0] ?? "").replace(/^# Source: .*\n/, "");
      assert.equal(body, renderCrdYaml(opts), `text of ${JSON.stringify(values)}`);
      assert.equal((docs[1] ?? "").replace(/^# Source: .*\n/, ""), renderPolicyCrdYaml());
    }
  });

  it("the operator chart renders upstream's objects, names and labels by default", async () => {
    const objs = await defaults();
    const names = objs.map((o) => `${String(o["kind"])}/${String(at(o, "metadata", "name"))}`).sort();
    assert.deepEqual(names, [
      "Certificate/brupop-apiserver-certificate",
      "Certificate/brupop-apiserver-client-certificate",
      "Certificate/brupop-selfsigned-ca",
      "Certificate/root-certificate",
      "ClusterRole/brupop-agent-role",
      "ClusterRole/brupop-apiserver-role",
      "ClusterRole/brupop-controller-role",
      "ClusterRoleBinding/brupop-agent-role-binding",
      "ClusterRoleBinding/brupop-apiserver-auth-delegator-role-binding",
      "ClusterRoleBinding/brupop-apiserver-role-binding",
      "ClusterRoleBinding/brupop-controller-role-binding",
      "DaemonSet/brupop-agent",
      "Deployment/brupop-apiserver",
      "Deployment/brupop-controller-deployment",
      "Issuer/brupop-root-certificate-issuer",
      "Issuer/selfsigned-issuer",
      "PriorityClass/brupop-controller-high-priority",
      "Role/brupop-apiserver-namespace-role",
      "Role/brupop-controller-namespace-role",
      "Role/brupop-controller-node-events",
      "RoleBinding/brupop-apiserver-namespace-role-binding",
      "RoleBinding/brupop-controller-namespace-role-binding",
      "RoleBinding/brupop-controller-node-events",
      "Service/brupop-apiserver",
      "Service/brupop-controller-server",
      "ServiceAccount/brupop-agent-service-account",
      "ServiceAccount/brupop-apiserver-service-account",
      "ServiceAccount/brupop-controller-service-account",
    ]);
    const clusterScoped = new Set(["ClusterRole", "ClusterRoleBinding", "PriorityClass"]);
    for (const o of objs) {
      const where = `${String(o["kind"])}/${String(at(o, "metadata", "name"))}`;
      // Events about Nodes live in `default`, so the controller's right to write them is granted there.
      const inDefault = where.endsWith("/brupop-controller-node-events");
      assert.equal(
        at(o, "metadata", "namespace"),
        clusterScoped.has(String(o["kind"])) ? undefined : inDefault ? "default" : NS,
        where,
      );
      const labels = at(o, "metadata", "labels") as Record<string, string>;
      assert.equal(labels["app.kubernetes.io/managed-by"], "brupop", where);
      assert.equal(labels["app.kubernetes.io/part-of"], "brupop", where);
      assert.equal(labels["app.kubernetes.io/component"], labels["brupop.bottlerocket.aws/component"], where);
    }
  });

  it("the workloads keep upstream's selectors and share placement and security settings", async () => {
    const objs = await defaults();
    // Selectors are immutable: they must be upstream's exactly, or `helm upgrade` from upstream fails.
    for (const [kind, name, component] of WORKLOADS) {
      const w = find(objs, kind, name);
      assert.deepEqual(at(w, "spec", "selector"), {
        matchLabels: { "brupop.bottlerocket.aws/component": component },
      });
      assert.equal(
        at(w, "spec", "template", "metadata", "labels", "brupop.bottlerocket.aws/component"),
        component,
      );
      const c = container(w);
      assert.equal(c.image, "brupop-ts:0.1.0");
      if (component === "agent") {
        // The agent (one per node): a 1 MiB young generation for memory; no --lite-mode, which makes
        // V8 reject Node's built-in code cache and costs ~0.06 s of CPU at every start (docs/benchmarks.md).
        assert.deepEqual(c.command, ["node", "--max-semi-space-size=1", "/app/dist/cli/main.js"]);
      } else {
        assert.equal(c.command, undefined, `${name}: the image entrypoint (the brupop CLI) runs`);
      }
      assert.deepEqual(c.args, [component.replace("brupop-", "")]);
      assert.equal(at(c.securityContext, "allowPrivilegeEscalation"), false, name);
      assert.equal(at(c.securityContext, "readOnlyRootFilesystem"), true, name);
      assert.deepEqual(at(c.securityContext, "capabilities", "drop"), ["ALL"], name);
      const terms = at(
        podSpec(w),
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        "nodeSelectorTerms",
        0,
        "matchExpressions",
      );
      assert.deepEqual(
        (terms as { key: string; values: string[] }[]).map((t) => [t.key, t.values]),
        [
          ["kubernetes.io/os", ["linux"]],
          ["kubernetes.io/arch", ["amd64", "arm64"]],
          ...(component === "agent" ? [["bottlerocket.aws/updater-interface-version", ["2.0.0"]]] : []),
        ],
      );
    }
  });

  it("the agent DaemonSet has the host socket, the audience-bound token, the CA and its env", async () => {
    const agent = find(await defaults(), "DaemonSet", "brupop-agent");
    assert.equal(at(podSpec(agent), "serviceAccountName"), "brupop-agent-service-account");
    assert.deepEqual(env(agent), {
      MY_NODE_NAME: { fieldRef: { fieldPath: "spec.nodeName" } },
      EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC: "0",
      APISERVER_SERVICE_PORT: "443",
      // The health gate after the reboot (docs/agent.md); upstream's behaviour is soak 0, no pod check.
      UPDATE_HEALTH_SOAK_TIME_IN_SEC: "30",
      UPDATE_HEALTH_CHECK_DAEMONSET_PODS: "true",
      UPDATE_HEALTH_PROBE_TIMEOUT_IN_SEC: "5",
      // Quarantine after a failure on the new version (docs/policy.md); upstream's behaviour is false.
      QUARANTINE_FAILED_NODES: "true",
      LOGGING_FORMATTER: "pretty",
      LOGGING_ANSI_ENABLED: "true",
      TRACING_FILTER_DIRECTIVE: "info",
    });
    const volumes = at(podSpec(agent), "volumes") as Obj[];
    const mounts = new Map((container(agent).volumeMounts ?? []).map((m) => [m.name, m.mountPath]));
    const volume = (name: string): Obj => volumes.find((v) => v["name"] === name) as Obj;
    assert.deepEqual(volume("bottlerocket-api-socket")["hostPath"], {
      path: "/run/api.sock",
      type: "Socket",
    });
    assert.equal(mounts.get("bottlerocket-api-socket"), "/run/api.sock");
    const token = at(
      volume("bottlerocket-agent-service-account-token"),
      "projected",
      "sources",
      0,
      "serviceAccountToken",
    );
    assert.equal(at(token, "audience"), "brupop-apiserver");
    assert.equal(
      join(mounts.get("bottlerocket-agent-service-account-token") ?? "", String(at(token, "path"))),
      "/var/run/secrets/tokens/bottlerocket-agent-service-account-token",
    );
    const ca = at(volume("bottlerocket-tls-keys"), "secret") as Obj;
    assert.equal(
      join(mounts.get("bottlerocket-tls-keys") ?? "", String(at(ca, "items", 0, "path"))),
      "/etc/brupop-tls-keys/ca.crt",
    );
    assert.deepEqual(ca["items"], [{ key: "ca.crt", path: "ca.crt" }], "only the CA, not the client key");
    assert.equal(
      at(container(agent).securityContext, "runAsUser"),
      0,
      "root (no capabilities) for the host socket",
    );
    assert.equal(at(container(agent).securityContext, "seLinuxOptions", "type"), "super_t");
  });

  it("the apiserver and controller Deployments have their env, probes and identities", async () => {
    const objs = await defaults();
    const apiserver = find(objs, "Deployment", "brupop-apiserver");
    assert.ok(Number(at(apiserver, "spec", "replicas")) >= 2);
    assert.equal(at(podSpec(apiserver), "serviceAccountName"), "brupop-apiserver-service-account");
    assert.equal(env(apiserver)["APISERVER_INTERNAL_PORT"], "8443");
    for (const probe of [
      container(apiserver).startupProbe,
      container(apiserver).livenessProbe,
      container(apiserver).readinessProbe,
    ]) {
      assert.deepEqual(at(probe, "httpGet"), { path: "/ping", port: 8443, scheme: "HTTPS" });
    }
    // A slow start (busy node) must not be killed by the liveness probe: up to 5 min to start.
    assert.equal(
      Number(at(container(apiserver).startupProbe, "periodSeconds")) *
        Number(at(container(apiserver).startupProbe, "failureThreshold")),
      300,
    );
    assert.deepEqual(
      container(apiserver).volumeMounts?.find((m) => m.name === "bottlerocket-tls-keys"),
      {
        name: "bottlerocket-tls-keys",
        mountPath: "/etc/brupop-tls-keys",
        readOnly: true,
      },
    );
    assert.equal(at(podSpec(apiserver), "securityContext", "runAsNonRoot"), true);

    const controller = find(objs, "Deployment", "brupop-controller-deployment");
    assert.equal(at(controller, "spec", "replicas"), 1);
    assert.equal(at(podSpec(controller), "priorityClassName"), "brupop-controller-high-priority");
    assert.equal(at(podSpec(controller), "securityContext", "runAsNonRoot"), true);
    assert.deepEqual(env(controller), {
      MY_NODE_NAME: { fieldRef: { fieldPath: "spec.nodeName" } },
      POD_NAME: { fieldRef: { fieldPath: "metadata.name" } },
      MAX_CONCURRENT_UPDATE: "1",
      SCHEDULER_CRON_EXPRESSION: "* * * * * * *",
      UPDATE_WINDOW_START: "0:0:0",
      UPDATE_WINDOW_STOP: "0:0:0",
      // Notifications and blockers: off until a URL or selector is set (docs/controller.md).
      NOTIFY_WEBHOOK_FORMAT: "json",
      NOTIFY_WEBHOOK_TIMEOUT_SECONDS: "10",
      ALERT_FILTER_MATCH_ONLY: "false",
      ALERT_FIRING_ONLY: "false",
      LOGGING_FORMATTER: "pretty",
      LOGGING_ANSI_ENABLED: "true",
      TRACING_FILTER_DIRECTIVE: "info",
    });
    for (const probe of [container(controller).livenessProbe, container(controller).readinessProbe]) {
      assert.deepEqual(at(probe, "httpGet"), { path: "/healthz", port: 8080 });
    }
  });

  it("services, priority class and cert-manager objects fit together", async () => {
    const objs = await defaults();
    assert.deepEqual(at(find(objs, "Service", "brupop-apiserver"), "spec", "ports"), [
      { name: "https", protocol: "TCP", port: 443, targetPort: 8443 },
    ]);
    assert.deepEqual(at(find(objs, "Service", "brupop-controller-server"), "spec", "ports"), [
      { name: "main", protocol: "TCP", port: 80, targetPort: 8080 },
    ]);
    const pc = find(objs, "PriorityClass", "brupop-controller-high-priority");
    assert.equal(pc["value"], 1_000_000);
    assert.equal(pc["preemptionPolicy"], "Never");

    // cert-manager: the CRD's CA source exists and is signed by the same CA as the server cert,
    // and every secret a workload mounts is one a Certificate produces.
    const certs = objs.filter((o) => o["kind"] === "Certificate");
    const issuerOf = (name: string): unknown =>
      at(find(objs, "Certificate", name), "spec", "issuerRef", "name");
    assert.equal(issuerOf("root-certificate"), "brupop-root-certificate-issuer");
    assert.equal(issuerOf("brupop-apiserver-certificate"), "brupop-root-certificate-issuer");
    assert.equal(issuerOf("brupop-selfsigned-ca"), "selfsigned-issuer");
    assert.equal(at(find(objs, "Certificate", "brupop-selfsigned-ca"), "spec", "isCA"), true);
    assert.equal(
      at(find(objs, "Issuer", "brupop-root-certificate-issuer"), "spec", "ca", "secretName"),
      "brupop-root-ca-secret",
    );
    const dns = at(find(objs, "Certificate", "brupop-apiserver-certificate"), "spec", "dnsNames") as string[];
    assert.ok(
      dns.includes(`brupop-apiserver.${NS}.svc`) && dns.includes(`brupop-apiserver.${NS}.svc.cluster.local`),
    );
    const secretNames = new Set(certs.map((c) => at(c, "spec", "secretName")));
    for (const [kind, name] of WORKLOADS) {
      for (const v of (at(podSpec(find(objs, kind, name)), "volumes") as Obj[] | undefined) ?? []) {
        const secret = at(v, "secret", "secretName");
        if (secret !== undefined)
          assert.ok(secretNames.has(secret), `${name} mounts ${JSON.stringify(secret)}`);
      }
    }
  });

  it("the operator chart carries non-default values into the objects", async () => {
    const objs = await render(OPERATOR_CHART_DIR, VALUE_SETS["custom"]);
    const ns = "brupop-custom";
    assert.deepEqual(at(find(objs, "Namespace", ns), "metadata", "name"), ns);
    for (const o of objs.filter(
      (x) => x["kind"] !== "Namespace" && at(x, "metadata", "namespace") !== undefined,
    )) {
      // The Node-events Role and its binding live in `default`, whatever the namespace.
      const nodeEvents = at(o, "metadata", "name") === "brupop-controller-node-events";
      assert.equal(at(o, "metadata", "namespace"), nodeEvents ? "default" : ns);
    }
    for (const b of objs.filter((o) => String(o["kind"]).endsWith("Binding"))) {
      assert.equal(at(b, "subjects", 0, "namespace"), ns);
    }
    const agent = find(objs, "DaemonSet", "brupop-agent");
    const apiserver = find(objs, "Deployment", "brupop-apiserver");
    const controller = find(objs, "Deployment", "brupop-controller-deployment");
    for (const w of [agent, apiserver, controller]) {
      assert.equal(container(w).image, "registry.example.com/brupop-ts:9.9.9");
      assert.deepEqual(at(podSpec(w), "imagePullSecrets"), [{ name: "brupop" }]);
      const labels = at(w, "spec", "template", "metadata", "labels") as Record<string, string>;
      assert.equal(labels["team"], "platform");
      assert.notEqual(
        labels["brupop.bottlerocket.aws/component"],
        "spoofed",
        "podLabels cannot override brupop's",
      );
    }
    assert.equal(
      at(agent, "spec", "template", "metadata", "labels", "brupop.bottlerocket.aws/component"),
      "agent",
    );
    assert.deepEqual(at(podSpec(agent), "tolerations"), [
      { key: "dedicated", operator: "Exists", effect: "NoSchedule" },
    ]);
    assert.equal(at(podSpec(agent), "priorityClassName"), "system-node-critical");
    assert.equal(env(agent)["EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC"], "30");
    assert.equal(env(agent)["APISERVER_SERVICE_PORT"], "8443");
    assert.equal(env(agent)["TRACING_FILTER_DIRECTIVE"], "debug");
    assert.equal(env(agent)["LOGGING_FORMATTER"], "json");
    // Helm merges a partial override into the defaults.
    assert.deepEqual(container(agent).resources, {
      limits: { memory: "128Mi" },
      requests: { cpu: "20m", memory: "100Mi" },
    });

    assert.equal(env(apiserver)["APISERVER_INTERNAL_PORT"], "9443");
    assert.deepEqual(container(apiserver).ports, [{ name: "https", containerPort: 9443, protocol: "TCP" }]);
    assert.equal(at(container(apiserver).readinessProbe, "httpGet", "port"), 9443);
    assert.deepEqual(at(find(objs, "Service", "brupop-apiserver"), "spec", "ports", 0), {
      name: "https",
      protocol: "TCP",
      port: 8443,
      targetPort: 9443,
    });
    assert.equal(
      at(
        podSpec(apiserver),
        "affinity",
        "podAntiAffinity",
        "preferredDuringSchedulingIgnoredDuringExecution",
        0,
        "podAffinityTerm",
        "topologyKey",
      ),
      "kubernetes.io/hostname",
    );
    assert.equal(
      at(
        podSpec(apiserver),
        "affinity",
        "podAffinity",
        "preferredDuringSchedulingIgnoredDuringExecution",
        0,
        "weight",
      ),
      5,
    );
    assert.deepEqual(at(podSpec(apiserver), "tolerations"), [{ key: "infra", operator: "Exists" }]);

    assert.deepEqual(at(podSpec(controller), "nodeSelector"), { pool: "infra" });
    assert.equal(
      at(podSpec(controller), "priorityClassName"),
      undefined,
      "empty priorityClassName is left out",
    );
    assert.equal(env(controller)["MAX_CONCURRENT_UPDATE"], "unlimited");
    assert.equal(env(controller)["SCHEDULER_CRON_EXPRESSION"], "0 0 3 * * Mon *");

    const monitor = find(objs, "ServiceMonitor", "brupop-controller");
    assert.equal(at(monitor, "spec", "endpoints", 0, "port"), "main");
    assert.deepEqual(at(monitor, "spec", "namespaceSelector", "matchNames"), [ns]);
    assert.deepEqual(at(monitor, "spec", "selector", "matchLabels"), {
      "brupop.bottlerocket.aws/component": "brupop-controller",
    });
    const dns = at(find(objs, "Certificate", "brupop-apiserver-certificate"), "spec", "dnsNames") as string[];
    assert.ok(dns.includes(`brupop-apiserver.${ns}.svc`));

    const legacy = await render(OPERATOR_CHART_DIR, VALUE_SETS["legacyWindow"]);
    const legacyController = find(legacy, "Deployment", "brupop-controller-deployment");
    const legacyEnv = env(legacyController);
    assert.equal(legacyEnv["SCHEDULER_CRON_EXPRESSION"], undefined, "empty cron: the legacy window applies");
    assert.equal(legacyEnv["UPDATE_WINDOW_START"], "22:0:0");
    assert.equal(legacyEnv["UPDATE_WINDOW_STOP"], "4:0:0");
    assert.equal(legacyEnv["MAX_CONCURRENT_UPDATE"], "3");
    assert.deepEqual(at(podSpec(legacyController), "imagePullSecrets"), [{ name: "a" }, { name: "b" }]);
    assert.equal(
      at(podSpec(find(legacy, "Deployment", "brupop-apiserver")), "affinity", "podAntiAffinity"),
      undefined,
    );
    assert.equal(
      legacy.some((o) => o["kind"] === "ServiceMonitor" || o["kind"] === "Namespace"),
      false,
    );
  });

  it("every value set's manifests pass server-side dry-run on the real API server", async () => {
    // A control: the dry-run really validates (a negative replica count is refused).
    await ensureNamespace(NS);
    const broken = structuredClone(find(await defaults(), "Deployment", "brupop-apiserver"));
    (broken["spec"] as Obj)["replicas"] = -1;
    const refused = await applyFile([broken], true);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /replicas/);

    for (const [name, values] of Object.entries(VALUE_SETS)) {
      const ns = typeof values["namespace"] === "string" ? values["namespace"] : NS;
      await ensureNamespace(ns);
      const objs = (await render(OPERATOR_CHART_DIR, values)).filter(dryRunnable);
      assert.ok(objs.length >= 18, `${name}: ${objs.length} objects`);
      await mustApply(objs, true);
      const crd = await render(CRD_CHART_DIR, {
        namespace: ns,
        apiserver_service_port: values["apiserver_service_port"] ?? "443",
      });
      await mustApply(crd, true);
    }
  });

  it("the static manifest and the CRD chart template are current, and the manifest applies", async () => {
    const [crdPath, crdTemplate] = crdTemplateArtifact();
    assert.equal(
      await readFile(join(ROOT, crdPath), "utf8"),
      crdTemplate,
      `${crdPath} is stale: npx tsx tools/render-manifest.ts`,
    );
    const manifest = await readFile(join(ROOT, STATIC_MANIFEST_PATH), "utf8");
    assert.equal(
      manifest,
      await renderStaticManifest(helm, ROOT),
      `${STATIC_MANIFEST_PATH} is stale: npx tsx tools/render-manifest.ts`,
    );

    const objs = parseObjects(manifest);
    assert.deepEqual(
      objs.slice(0, 2).map((o) => o["kind"]),
      ["Namespace", "CustomResourceDefinition"],
    );
    assert.equal(at(objs[0], "metadata", "name"), NS);
    assert.deepEqual(objs[1], JSON.parse(JSON.stringify(parseObjects(renderCrdYaml())[0])));
    await mustApply(objs.filter(dryRunnable), true);
  });

  describe("RBAC, checked by impersonating each service account", () => {
    type Check = [verb: string, resource: string, where: string | undefined, allowed: boolean];
    const nsArgs = (where: string | undefined): string[] =>
      where === undefined ? [] : where === "*" ? ["--all-namespaces"] : ["-n", where];

    const canI = async (sa: string, [verb, resource, where]: Check): Promise<boolean> => {
      const [type, sub] = resource.split("#");
      const args = [
        "auth",
        "can-i",
        verb,
        type ?? "",
        ...nsArgs(where),
        `--as=system:serviceaccount:${NS}:${sa}`,
      ];
      if (sub !== undefined) args.push(`--subresource=${sub}`);
      const { code, stdout, stderr } = await kubectl(args);
      const answer = stdout.trim();
      assert.ok(answer === "yes" || answer === "no", `kubectl ${args.join(" ")}: ${stdout}${stderr}`);
      assert.equal(code, answer === "yes" ? 0 : 1);
      return answer === "yes";
    };

    /** Runs the checks (four at a time) and reports every mismatch at once. */
    const verify = async (sa: string, checks: readonly Check[]): Promise<void> => {
      const wrong: string[] = [];
      for (let i = 0; i < checks.length; i += 4) {
        await Promise.all(
          checks.slice(i, i + 4).map(async (check) => {
            const got = await canI(sa, check);
            if (got !== check[3])
              wrong.push(`${check.slice(0, 3).join(" ")}: expected ${check[3] ? "yes" : "no"}`);
          }),
        );
      }
      assert.deepEqual(wrong, [], `${sa}:\n${wrong.join("\n")}`);
    };

    before(async () => {
      await ensureNamespace(NS);
      // kubectl resolves `bottlerocketshadows` through discovery: the CRD must really exist.
      await mustApply(await render(CRD_CHART_DIR), false);
      const wait = await kubectl(["wait", "--for=condition=Established", `crd/${BRS}`, "--timeout=30s"]);
      assert.equal(wait.code, 0, wait.stderr);
      const rbacKinds = new Set([
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
      ]);
      await mustApply(
        (await render(OPERATOR_CHART_DIR)).filter((o) => rbacKinds.has(String(o["kind"]))),
        false,
      );
    });

    it("the agent reads nodes and shadows, lists pods (health gate), and cannot write shadows, patch nodes or evict pods", async () => {
      await verify("brupop-agent-service-account", [
        ["get", "nodes", undefined, true],
        ["list", "nodes", undefined, true],
        ["watch", "nodes", undefined, true],
        ["get", BRS, NS, true],
        ["list", BRS, NS, true],
        ["watch", BRS, NS, true],
        ["get", `${BRS}#status`, NS, true],
        ["create", BRS, NS, false],
        ["update", BRS, NS, false],
        ["patch", BRS, NS, false],
        ["delete", BRS, NS, false],
        ["update", `${BRS}#status`, NS, false],
        ["patch", `${BRS}#status`, NS, false],
        ["patch", "nodes", undefined, false],
        ["update", "nodes", undefined, false],
        ["create", "pods#eviction", "default", false],
        ["delete", "pods", "default", false],
        ["list", "pods", undefined, true],
        ["get", "pods", "default", false],
        ["watch", "pods", undefined, false],
        ["create", "tokenreviews.authentication.k8s.io", undefined, false],
        ["list", "secrets", NS, false],
        ["create", "events", NS, false],
      ]);
    });

    it("the apiserver creates shadows, writes status, patches nodes, evicts pods and reviews tokens", async () => {
      await verify("brupop-apiserver-service-account", [
        ["create", BRS, NS, true],
        ["get", BRS, NS, true],
        ["list", BRS, NS, true],
        ["watch", BRS, NS, true],
        ["update", `${BRS}#status`, NS, true],
        ["patch", `${BRS}#status`, NS, true],
        ["get", "nodes", undefined, true],
        ["list", "nodes", undefined, true],
        ["watch", "nodes", undefined, true],
        ["patch", "nodes", undefined, true],
        ["get", "pods", "kube-system", true],
        ["list", "pods", "*", true],
        ["watch", "pods", "*", true],
        ["create", "pods#eviction", "default", true],
        ["create", "pods#eviction", "kube-system", true],
        ["create", "tokenreviews.authentication.k8s.io", undefined, true],
        ["list", "serviceaccounts", NS, true],
        ["watch", "serviceaccounts", NS, true],
        ["list", "serviceaccounts", "kube-system", false],
        ["patch", BRS, NS, false],
        ["update", BRS, NS, false],
        ["delete", BRS, NS, false],
        ["update", "nodes", undefined, false],
        ["delete", "nodes", undefined, false],
        ["delete", "pods", "default", false],
        ["create", "pods", "default", false],
        ["list", "secrets", NS, false],
        ["create", "leases.coordination.k8s.io", NS, false],
      ]);
    });

    it("the controller writes shadow specs, elects a leader in its namespace, and cannot touch nodes or pods", async () => {
      await verify("brupop-controller-service-account", [
        ["get", BRS, NS, true],
        ["list", BRS, NS, true],
        ["watch", BRS, NS, true],
        ["patch", BRS, NS, true],
        ["update", BRS, NS, true],
        ["delete", BRS, NS, true],
        ["get", "nodes", undefined, true],
        ["list", "nodes", undefined, true],
        ["watch", "nodes", undefined, true],
        ["create", "leases.coordination.k8s.io", NS, true],
        ["get", `leases.coordination.k8s.io/${LEASE}`, NS, true],
        ["update", `leases.coordination.k8s.io/${LEASE}`, NS, true],
        // Events go through events.k8s.io/v1 (src/k8s/events.ts); the core group is not granted.
        ["create", "events.events.k8s.io", NS, true],
        ["patch", "events.events.k8s.io", NS, true],
        ["create", "events.events.k8s.io", "default", true], // events about Nodes (kubectl describe node)
        ["get", "events.events.k8s.io", "default", false],
        ["create", "events", NS, false],
        ["create", "configmaps", NS, true],
        ["get", `configmaps/${STATE_CONFIGMAP}`, NS, true],
        ["patch", `configmaps/${STATE_CONFIGMAP}`, NS, true],
        ["create", BRS, NS, false],
        ["patch", `${BRS}#status`, NS, false],
        ["patch", "nodes", undefined, false],
        ["update", "nodes", undefined, false],
        ["create", "pods#eviction", "default", false],
        ["delete", "pods", "default", false],
        ["create", "leases.coordination.k8s.io", "default", false],
        ["update", "leases.coordination.k8s.io/someone-else", NS, false],
        ["get", "configmaps/other", NS, false],
        ["get", "secrets", NS, false],
        ["create", "tokenreviews.authentication.k8s.io", undefined, false],
      ]);
    });
  });
});
