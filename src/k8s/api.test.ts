import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isConflict, isGone, isNotFound, isTooManyRequests, KubeApiError } from "../errors.js";
import {
  ifFound,
  KubeApiBase,
  type Query,
  type RequestOptions,
  type RestResponse,
  type WatchHandler,
} from "./api.js";
import { paths } from "./objects.js";

/** The smallest in-memory KubeApi: objects by path; answers like kube-apiserver for what it knows. */
class MemoryKube extends KubeApiBase {
  readonly objects = new Map<string, Record<string, unknown>>();
  readonly calls: { method: string; path: string; opts: RequestOptions }[] = [];
  answer: RestResponse | undefined;

  request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<RestResponse<T>> {
    this.calls.push({ method, path, opts });
    return Promise.resolve((this.answer ?? this.#route(method, path, opts)) as RestResponse<T>);
  }

  #route(method: string, path: string, opts: RequestOptions): RestResponse {
    const obj = this.objects.get(path);
    const notFound = {
      status: 404,
      body: { kind: "Status", reason: "NotFound", message: `${path} not found` },
    };
    if (method === "GET") return obj === undefined ? notFound : { status: 200, body: obj };
    if (method === "POST") {
      const body = opts.body as { metadata: { name: string } };
      const at = `${path}/${body.metadata.name}`;
      if (this.objects.has(at)) return { status: 409, body: { reason: "AlreadyExists", message: "exists" } };
      this.objects.set(at, body);
      return { status: 201, body };
    }
    if (method === "PATCH") {
      if (obj === undefined) return notFound;
      const merged = { ...obj, ...(opts.body as Record<string, unknown>) };
      this.objects.set(path, merged);
      return { status: 200, body: merged };
    }
    return { status: 405, body: { message: "not here" } };
  }

  watch(_path: string, _query: Query, _onEvent: WatchHandler, _signal: AbortSignal): Promise<void> {
    return Promise.reject(new KubeApiError("WATCH", 410, { reason: "Expired" }));
  }
}

describe("KubeApi on request/watch (KubeApiBase)", () => {
  it("writes shadow specs conditionally and deletes with a uid precondition", async () => {
    const kube = new MemoryKube();
    kube.answer = { status: 200, body: {} };
    await kube.replaceShadowSpec("ns", "brs-a", "7", { state: "Idle" });
    assert.deepEqual(kube.calls.at(-1)?.opts.body, [
      { op: "replace", path: "/metadata/resourceVersion", value: "7" },
      { op: "add", path: "/spec", value: { state: "Idle" } },
    ]);
    await kube.deleteShadow("ns", "brs-a", "u1");
    assert.equal(kube.calls.at(-1)?.method, "DELETE");
    assert.deepEqual(kube.calls.at(-1)?.opts.body, {
      apiVersion: "v1",
      kind: "DeleteOptions",
      preconditions: { uid: "u1" },
    });
    kube.answer = { status: 409, body: { reason: "Conflict" } };
    await assert.rejects(kube.deleteShadow("ns", "brs-a", "u2"), isConflict);
  });

  it("answers the object on 2xx and throws KubeApiError otherwise", async () => {
    const kube = new MemoryKube();
    kube.objects.set(paths.node("n1"), { metadata: { name: "n1", uid: "u1" } });
    assert.equal((await kube.getNode("n1")).metadata?.uid, "u1");
    await assert.rejects(kube.getNode("n2"), (err: unknown) => {
      assert.ok(err instanceof KubeApiError);
      assert.equal(err.code, "BRUPOP_E_UPSTREAM");
      assert.equal(err.httpStatus, 404);
      assert.equal(err.reason, "NotFound");
      assert.equal(err.message, "GET node n2: HTTP 404: /api/v1/nodes/n2 not found");
      return isNotFound(err) && !isConflict(err);
    });
    assert.equal(await ifFound(kube.getNode("n2")), undefined);
  });

  it("names conflicts, gone and too-many-requests", async () => {
    const kube = new MemoryKube();
    await kube.createEvent("ns", { metadata: { name: "e1" } });
    await assert.rejects(kube.createEvent("ns", { metadata: { name: "e1" } }), isConflict);
    await assert.rejects(
      kube.watch(paths.nodes(), {}, () => undefined, new AbortController().signal),
      isGone,
    );
    kube.answer = {
      status: 429,
      body: { message: "Cannot evict pod as it would violate the pod's disruption budget." },
    };
    await assert.rejects(kube.evictPod("ns", "p"), isTooManyRequests);
  });

  it("sends patches with their content type and the names the caller gives", async () => {
    const kube = new MemoryKube();
    kube.objects.set(paths.node("n1"), { metadata: { name: "n1" } });
    const patched = await kube.patchNode("n1", { spec: { unschedulable: true } });
    assert.deepEqual(patched.spec, { unschedulable: true });
    assert.equal(kube.calls.at(-1)?.opts.contentType, "application/merge-patch+json");
    await kube.replaceShadowStatus("ns", "brs-n1", { current_state: "Idle" }).catch(() => undefined);
    const last = kube.calls.at(-1);
    assert.equal(
      last?.path,
      "/apis/brupop.bottlerocket.aws/v2/namespaces/ns/bottlerocketshadows/brs-n1/status",
    );
    assert.equal(last?.opts.contentType, "application/json-patch+json");
    assert.deepEqual(last?.opts.body, [{ op: "add", path: "/status", value: { current_state: "Idle" } }]);
  });

  it("lists pods on a node with the field selector, items only", async () => {
    const kube = new MemoryKube();
    kube.answer = { status: 200, body: { items: [{ metadata: { name: "p" } }], metadata: {} } };
    const pods = await kube.listPods({ fieldSelector: "spec.nodeName=n1" }, { timeoutMs: 5 });
    assert.deepEqual(pods, [{ metadata: { name: "p" } }]);
    assert.deepEqual(kube.calls.at(-1)?.opts, { query: { fieldSelector: "spec.nodeName=n1" }, timeoutMs: 5 });
    assert.equal(kube.calls.at(-1)?.path, "/api/v1/pods");
  });
});
