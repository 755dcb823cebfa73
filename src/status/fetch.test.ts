import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ConfigMapRoundStore, type PublishedSettings } from "../controller/act/round-store.js";
import { isBrupopError } from "../errors.js";
import { KubeApiBase, type RequestOptions, type RestResponse } from "../k8s/api.js";
import { errorLine } from "./errors.js";
import { firstFailureInOrder, loadKubeConfig, StatusReader } from "./fetch.js";
import { ago, node, pdb, pod, shadow, settings, TO } from "../../test/kit/status-fixtures.js";

type Handler = (method: string, path: string, opts: RequestOptions) => RestResponse | Error;

/** A KubeApi answering from a handler; records every call. */
class FakeRest extends KubeApiBase {
  readonly calls: string[] = [];
  constructor(readonly handler: Handler) {
    super();
  }
  watch(): Promise<void> {
    return Promise.reject(new Error("no watch here"));
  }
  request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<RestResponse<T>> {
    const q = opts.query?.["fieldSelector"];
    this.calls.push(`${method} ${path}${q === undefined ? "" : `?${String(q)}`}`);
    const res = this.handler(method, path, opts);
    return res instanceof Error ? Promise.reject(res) : Promise.resolve(res as RestResponse<T>);
  }
}

const SERVER = "https://127.0.0.1:1";
const SHADOWS = "/apis/brupop.bottlerocket.aws/v2/namespaces/ns/bottlerocketshadows";
const CM = "/api/v1/namespaces/ns/configmaps/brupop-controller-state";

function cluster(over: Record<string, RestResponse> = {}): Handler {
  const draining = shadow(
    "d",
    { state: "RebootedIntoUpdate", state_transition_timestamp: ago(5), version: TO },
    { current_state: "StagedAndPerformedUpdate" },
  );
  const base: Record<string, RestResponse> = {
    [`GET ${SHADOWS}`]: { status: 200, body: { items: [shadow("a"), draining] } },
    "GET /api/v1/nodes": { status: 200, body: { items: [node("a"), node("d", { cordoned: true })] } },
    [`GET ${CM}`]: { status: 200, body: { data: settings() } },
    "GET /apis/policy/v1/poddisruptionbudgets": { status: 200, body: { items: [pdb("web", "p", {}, 0)] } },
    "GET /api/v1/pods": { status: 200, body: { items: [pod("web", "w", {})] } },
    ...over,
  };
  return (method, path) =>
    base[`${method} ${path}`] ?? { status: 500, body: { message: `unexpected ${method} ${path}` } };
}

describe("StatusReader", () => {
  it("reads shadows, nodes, the ConfigMap, and pods/PDBs only for draining nodes", async () => {
    const rest = new FakeRest(cluster());
    const input = await new StatusReader(rest, "ns", SERVER).snapshot(() => new Date(0));
    assert.equal(input.shadows.length, 2);
    assert.equal(input.nodes.length, 2);
    assert.equal(input.controllerState?.["max-concurrent"], "2");
    assert.deepEqual([...input.drain.keys()], ["d"]);
    assert.equal(input.policy, null, "no UpdatePolicy (the fake answers 500): status goes on without it");
    assert.deepEqual(rest.calls.sort(), [
      "GET /api/v1/namespaces/ns/configmaps/brupop-blockers",
      "GET /api/v1/namespaces/ns/configmaps/brupop-controller-state",
      "GET /api/v1/nodes",
      "GET /api/v1/pods?spec.nodeName=d",
      "GET /apis/brupop.bottlerocket.aws/v1alpha1/updatepolicies/default",
      "GET /apis/brupop.bottlerocket.aws/v2/namespaces/ns/bottlerocketshadows",
      "GET /apis/policy/v1/poddisruptionbudgets",
    ]);
  });

  it("a missing ConfigMap is null; an unreadable one is a note, not a failure", async () => {
    const missing = await new StatusReader(
      new FakeRest(cluster({ [`GET ${CM}`]: { status: 404, body: {} } })),
      "ns",
      SERVER,
    ).snapshot(() => new Date(0));
    assert.equal(missing.controllerState, null);
    assert.equal(missing.controllerStateError, undefined);
    const forbidden = await new StatusReader(
      new FakeRest(cluster({ [`GET ${CM}`]: { status: 403, body: { message: "configmaps is forbidden" } } })),
      "ns",
      SERVER,
    ).snapshot(() => new Date(0));
    assert.equal(forbidden.controllerState, null);
    assert.equal(forbidden.controllerStateError, "forbidden: configmaps is forbidden");
  });

  it("unreadable pods/PDBs become a per-node note", async () => {
    const rest = new FakeRest(
      cluster({
        "GET /apis/policy/v1/poddisruptionbudgets": { status: 403, body: { message: "pdbs forbidden" } },
      }),
    );
    const input = await new StatusReader(rest, "ns", SERVER).snapshot(() => new Date(0));
    assert.deepEqual(input.drain.get("d"), { error: "forbidden: pdbs forbidden" });
  });

  const failures: [string, Record<string, RestResponse> | Error, string, RegExp][] = [
    [
      "CRD not installed",
      {
        [`GET ${SHADOWS}`]: {
          status: 404,
          body: { message: "the server could not find the requested resource" },
        },
      },
      "BRUPOP_E_NOT_FOUND",
      /^error: the BottlerocketShadow CRD \(bottlerocketshadows\.brupop\.bottlerocket\.aws, version v2\) is not installed in the cluster at https:\/\/127\.0\.0\.1:1; is brupop installed\?$/,
    ],
    [
      "forbidden",
      {
        [`GET ${SHADOWS}`]: {
          status: 403,
          body: {
            message: 'bottlerocketshadows.brupop.bottlerocket.aws is forbidden: User "bob" cannot list',
          },
        },
      },
      "BRUPOP_E_FORBIDDEN",
      /^error: forbidden: bottlerocketshadows\.brupop\.bottlerocket\.aws is forbidden: User "bob" cannot list$/,
    ],
    [
      "unauthorized",
      { "GET /api/v1/nodes": { status: 401, body: { message: "Unauthorized" } } },
      "BRUPOP_E_UNAUTHENTICATED",
      /^error: unauthorized: the API server at https:\/\/127\.0\.0\.1:1 rejected the credentials \(list nodes\)$/,
    ],
    [
      "other HTTP failure",
      { "GET /api/v1/nodes": { status: 500, body: "boom" } },
      "BRUPOP_E_UPSTREAM",
      /^error: list nodes: HTTP 500: boom$/,
    ],
    [
      "no cluster",
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
      "BRUPOP_E_UPSTREAM",
      /^error: cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:1: connect ECONNREFUSED 127\.0\.0\.1:1$/,
    ],
  ];
  for (const [name, over, code, line] of failures) {
    it(`fails with one clear line: ${name}`, async () => {
      const rest = new FakeRest(over instanceof Error ? () => over : cluster(over));
      const err = await new StatusReader(rest, "ns", SERVER)
        .snapshot(() => new Date(0))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(isBrupopError(err), String(err));
      assert.equal(err.code, code);
      assert.match(errorLine(err), line);
      assert.ok(!errorLine(err).includes("\n"));
    });
  }
});

describe("loadKubeConfig", () => {
  const dir = mkdtempSync(join(tmpdir(), "brupop-status-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "config");
  writeFileSync(
    file,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- {name: one, cluster: {server: 'https://one.example:6443'}}",
      "- {name: two, cluster: {server: 'https://two.example:6443'}}",
      "users: [{name: u, user: {token: t}}]",
      "contexts:",
      "- {name: ctx-one, context: {cluster: one, user: u}}",
      "- {name: ctx-two, context: {cluster: two, user: u}}",
      "current-context: ctx-one",
    ].join("\n"),
  );

  it("loads the file and honours --context", () => {
    assert.equal(
      loadKubeConfig({ kubeconfig: file }).getCurrentCluster()?.server,
      "https://one.example:6443",
    );
    assert.equal(
      loadKubeConfig({ kubeconfig: file, context: "ctx-two" }).getCurrentCluster()?.server,
      "https://two.example:6443",
    );
  });

  it("no kubeconfig anywhere: says so instead of trying http://localhost:8080", () => {
    const saved = { KUBECONFIG: process.env["KUBECONFIG"], HOME: process.env["HOME"] };
    process.env["KUBECONFIG"] = "";
    process.env["HOME"] = dir; // no .kube/config in it
    try {
      assert.throws(
        () => loadKubeConfig({}),
        (e: unknown) =>
          isBrupopError(e, "BRUPOP_E_CONFIG") &&
          e.message === "no kubeconfig found: pass --kubeconfig, set $KUBECONFIG or create ~/.kube/config",
      );
      process.env["KUBECONFIG"] = file;
      assert.equal(loadKubeConfig({}).getCurrentCluster()?.server, "https://one.example:6443");
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it("unknown context and unreadable file are clear config errors", () => {
    assert.throws(
      () => loadKubeConfig({ kubeconfig: file, context: "nope" }),
      (e: unknown) =>
        isBrupopError(e, "BRUPOP_E_CONFIG") && e.message === 'context "nope" not found in the kubeconfig',
    );
    assert.throws(
      () => loadKubeConfig({ kubeconfig: join(dir, "missing") }),
      (e: unknown) =>
        isBrupopError(e, "BRUPOP_E_CONFIG") && /^cannot load kubeconfig .*missing: /.test(e.message),
    );
  });
});

describe("ConfigMapRoundStore.publishSettings (the controller side of status)", () => {
  const published: PublishedSettings = {
    maxConcurrent: 2,
    schedule: "* * * * * * *",
    controllerNode: "n1",
    leader: "ctl-0",
    leaderSince: "2030-06-01T10:00:00.000Z",
  };

  /** An in-memory ConfigMap with resourceVersion checks, like the API server's. */
  function configMapApi(initial: Record<string, string> | null, opts: { conflicts?: number } = {}) {
    let cm: { rv: number; data: Record<string, string> } | null =
      initial === null ? null : { rv: 1, data: initial };
    let conflicts = opts.conflicts ?? 0;
    const rest = new FakeRest((method, _path, o) => {
      const body = o.body as { metadata?: { resourceVersion?: string }; data?: Record<string, string> };
      if (method === "GET") {
        return cm === null
          ? { status: 404, body: {} }
          : { status: 200, body: { metadata: { resourceVersion: String(cm.rv) }, data: cm.data } };
      }
      if (conflicts > 0) {
        conflicts--;
        if (cm !== null) cm.rv++; // someone else wrote in between
        return { status: 409, body: {} };
      }
      if (method === "POST") {
        if (cm !== null) return { status: 409, body: {} };
        cm = { rv: 1, data: body.data ?? {} };
        return { status: 201, body: { metadata: { resourceVersion: "1" } } };
      }
      if (cm === null) return { status: 404, body: {} };
      if (body.metadata?.resourceVersion !== String(cm.rv)) return { status: 409, body: {} };
      cm = { rv: cm.rv + 1, data: { ...cm.data, ...body.data } };
      return { status: 200, body: { metadata: { resourceVersion: String(cm.rv) } } };
    });
    return { rest, get: () => cm };
  }

  it("creates the ConfigMap when absent", async () => {
    const api = configMapApi(null);
    await new ConfigMapRoundStore(api.rest, "ns").publishSettings(published);
    assert.equal(api.get()?.data["max-concurrent"], "2");
    assert.deepEqual(
      api.rest.calls.map((c) => c.split(" ")[0]),
      ["GET", "POST"],
    );
  });

  it("merges into the existing round state, conditionally, and keeps the round keys", async () => {
    const round = {
      "trigger-last-fire": "2030-06-01T03:00:00.000Z",
      "trigger-round-open": "true",
      schedule: "* * * * * * *",
    };
    const api = configMapApi(round, { conflicts: 1 });
    const store = new ConfigMapRoundStore(api.rest, "ns");
    await store.publishSettings(published);
    assert.equal(api.get()?.data["trigger-round-open"], "true");
    assert.equal(api.get()?.data["trigger-last-fire"], "2030-06-01T03:00:00.000Z");
    assert.equal(api.get()?.data["leader"], "ctl-0");
    // The round state still loads, and a save after load succeeds.
    assert.deepEqual(await store.load(), { lastFire: "2030-06-01T03:00:00.000Z", open: true });
    assert.equal(
      await store.save({ lastFire: "2030-06-01T03:00:00.000Z", open: false }, "* * * * * * *"),
      true,
    );
    assert.equal(api.get()?.data["leader"], "ctl-0");
  });

  it("writes nothing when the same settings are already published", async () => {
    const api = configMapApi(null);
    const store = new ConfigMapRoundStore(api.rest, "ns");
    await store.publishSettings(published);
    const writes = api.rest.calls.length;
    await store.publishSettings(published);
    assert.equal(api.rest.calls.length, writes + 1); // one GET, no write
  });

  it("gives up after repeated conflicts with an error", async () => {
    const api = configMapApi({}, { conflicts: 10 });
    await assert.rejects(new ConfigMapRoundStore(api.rest, "ns").publishSettings(published), (e: unknown) =>
      isBrupopError(e, "BRUPOP_E_CONFLICT"),
    );
  });
});

describe("firstFailureInOrder", () => {
  it("reports the first failure in declared order, not the first to arrive", async () => {
    const slow = new Promise<string>((_, reject) =>
      setTimeout(() => reject(new Error("shadows forbidden")), 20),
    );
    const fast = Promise.reject(new Error("nodes forbidden"));
    const settled = await Promise.allSettled([slow, fast]);
    assert.throws(() => firstFailureInOrder<[string, string]>(settled), /shadows forbidden/);
  });
  it("returns the values when all succeeded", async () => {
    const settled = await Promise.allSettled([Promise.resolve(1), Promise.resolve("a")]);
    assert.deepEqual(firstFailureInOrder<[number, string]>(settled), [1, "a"]);
  });
});
