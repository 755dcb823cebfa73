// The informer against a small scripted HTTP server that speaks LIST and WATCH: enough to drive
// every branch of its state machine (the real kube-apiserver is exercised in test/e2e).
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { FakeTimers } from "../clock.js";
import { silentLogger } from "../log.js";
import { Informer, type InformerEventType } from "./informer.js";
import { KubeRest } from "./rest.js";

interface Obj {
  metadata: { name: string; resourceVersion: string; managedFields?: unknown[] };
}

type WatchScript = (res: http.ServerResponse, rv: string) => void;

class FakeApi {
  items: Obj[] = [];
  listRv = "10";
  lists = 0;
  /** Each LIST request's `limit` and `continue` ("" when absent). */
  listQueries: Array<{ limit: string; continue: string }> = [];
  /** Answer this many `continue` requests with 410 Gone (an expired token) before serving them. */
  expireContinues = 0;
  watchRvs: string[] = [];
  watchScripts: WatchScript[] = [];
  server = http.createServer((req, res) => this.handle(req, res));

  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.searchParams.get("watch") !== "true") {
      this.lists++;
      const limit = url.searchParams.get("limit") ?? "";
      const token = url.searchParams.get("continue") ?? "";
      this.listQueries.push({ limit, continue: token });
      res.setHeader("Content-Type", "application/json");
      if (token !== "" && this.expireContinues > 0) {
        this.expireContinues--;
        res.statusCode = 410;
        res.end(JSON.stringify({ kind: "Status", code: 410, reason: "Expired" }));
        return;
      }
      const from = token === "" ? 0 : Number(token);
      const to = limit === "" ? this.items.length : from + Number(limit);
      const metadata = {
        resourceVersion: this.listRv,
        ...(to < this.items.length ? { continue: String(to) } : {}),
      };
      res.end(JSON.stringify({ items: this.items.slice(from, to), metadata }));
      return;
    }
    const rv = url.searchParams.get("resourceVersion") ?? "";
    this.watchRvs.push(rv);
    const script = this.watchScripts.shift();
    if (script === undefined) return; // hang: a silent stream
    script(res, rv);
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
}

const event = (type: string, name: string, rv: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ type, object: { metadata: { name, resourceVersion: rv }, ...extra } }) + "\n";

function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (cond()) resolve();
      else if (Date.now() > deadline) reject(new Error("condition not met in time"));
      else setTimeout(poll, 10);
    };
    poll();
  });
}

describe("Informer", () => {
  let api: FakeApi;
  let rest: KubeRest;

  before(async () => {
    api = new FakeApi();
    const server = await api.start();
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "c", server, skipTLSVerify: true }],
      users: [{ name: "u" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    rest = new KubeRest(kc);
  });
  after(() => {
    rest.close();
    api.server.closeAllConnections();
    api.server.close();
  });

  function informer(
    opts: { watchTimeoutSeconds?: number; watchdogGraceMs?: number; pageSize?: number } = {},
  ) {
    return new Informer<Obj>({
      rest,
      path: "/api/v1/things",
      logger: silentLogger(),
      backoffInitialMs: 20,
      backoffMaxMs: 50,
      ...opts,
    });
  }

  it("lists, then applies watch events from the list's resourceVersion, stripping managedFields", async () => {
    api.items = [{ metadata: { name: "a", resourceVersion: "5", managedFields: [{}] } }];
    api.listRv = "10";
    api.watchRvs = [];
    api.watchScripts = [
      (res, rv) => {
        assert.equal(rv, "10");
        res.write(event("ADDED", "b", "11"));
        res.write(event("MODIFIED", "a", "12"));
        res.write(event("DELETED", "b", "13"));
        res.end();
      },
    ];
    const seen: [InformerEventType, string][] = [];
    const inf = informer();
    inf.on((type, obj) => seen.push([type, obj.metadata.name]));
    inf.on(() => {
      throw new Error("a throwing handler must not break the loop");
    });
    inf.start();
    await inf.waitForSync();
    assert.equal(inf.get("a")?.metadata.managedFields, undefined);
    await until(() => api.watchRvs.length >= 2);
    await inf.stop();
    assert.deepEqual(seen, [
      ["add", "a"],
      ["add", "b"],
      ["update", "a"],
      ["delete", "b"],
    ]);
    assert.deepEqual(
      inf.list().map((o) => o.metadata.resourceVersion),
      ["12"],
    );
    // The stream ended normally: the next watch resumes from the last event, no relist.
    assert.equal(api.watchRvs[1], "13");
  });

  /** An informer paging by 2 over `names`, started and synced; what it emitted so far. */
  async function syncPaged(names: string[], listRv: string): Promise<{ inf: Informer<Obj>; seen: string[] }> {
    api.items = names.map((name, i) => ({ metadata: { name, resourceVersion: String(i + 1) } }));
    api.listRv = listRv;
    api.listQueries = [];
    api.watchRvs = [];
    api.watchScripts = [];
    const seen: string[] = [];
    const inf = informer({ pageSize: 2 });
    inf.on((type, obj) => seen.push(`${type}:${obj.metadata.name}`));
    inf.start();
    await inf.waitForSync();
    return { inf, seen };
  }

  it("pages its LIST by pageSize, following continue, and watches from the list's resourceVersion", async () => {
    const { inf, seen } = await syncPaged(["a", "b", "c", "d", "e"], "60");
    await until(() => api.watchRvs.length >= 1);
    await inf.stop();
    assert.deepEqual(api.listQueries, [
      { limit: "2", continue: "" },
      { limit: "2", continue: "2" },
      { limit: "2", continue: "4" },
    ]);
    assert.deepEqual(seen, ["add:a", "add:b", "add:c", "add:d", "add:e"]);
    assert.equal(api.watchRvs[0], "60");
  });

  it("a LIST whose next page fails (expired continue) applies nothing and starts over", async () => {
    api.expireContinues = 1;
    const { inf, seen } = await syncPaged(["a", "b", "c"], "70");
    await inf.stop();
    // First LIST: page 1, then the expired token; no event from the half-read list. Then from the start.
    assert.deepEqual(
      api.listQueries.map((q) => q.continue),
      ["", "2", "", "2"],
    );
    assert.deepEqual(seen, ["add:a", "add:b", "add:c"], "each object once, only after a whole LIST");
  });

  it("relists on a 410 Gone error event and reports objects that vanished meanwhile", async () => {
    api.items = [
      { metadata: { name: "a", resourceVersion: "5" } },
      { metadata: { name: "b", resourceVersion: "6" } },
    ];
    api.listRv = "20";
    api.lists = 0;
    api.watchScripts = [
      (res) => {
        api.items = [{ metadata: { name: "a", resourceVersion: "30" } }];
        api.listRv = "31";
        res.write(
          JSON.stringify({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired" } }) + "\n",
        );
      },
    ];
    api.watchRvs = [];
    const seen: string[] = [];
    const inf = informer();
    inf.on((type, obj) => seen.push(`${type}:${obj.metadata.name}`));
    inf.start();
    await until(() => api.lists === 2 && api.watchRvs.length >= 2);
    await inf.stop();
    assert.deepEqual(seen, ["add:a", "add:b", "delete:b", "update:a"]);
    assert.deepEqual(api.watchRvs.slice(0, 2), ["20", "31"]);
  });

  it("backs off (on its timers, not real time) and resumes after an HTTP error on the watch", async () => {
    api.items = [];
    api.listRv = "40";
    api.lists = 0;
    api.watchRvs = [];
    api.watchScripts = [
      (res) => {
        res.statusCode = 500;
        res.end("boom");
      },
      (res) => {
        res.write(event("ADDED", "z", "41"));
        res.end();
      },
    ];
    const timers = new FakeTimers();
    const inf = new Informer<Obj>({ rest, path: "/api/v1/things", logger: silentLogger(), timers });
    inf.start();
    await until(() => inf.stats.errors >= 1 && timers.pending === 1);
    assert.equal(api.watchRvs.length, 1, "no retry before the back-off elapsed");
    await timers.advance(249); // the first back-off is 250-500 ms (jittered)
    assert.equal(api.watchRvs.length, 1);
    await timers.advance(251);
    await until(() => inf.get("z") !== undefined);
    await inf.stop();
    assert.equal(timers.pending, 0, "stop() leaves no timer");
    assert.equal(api.lists, 1, "a transient error resumes the watch without relisting");
    assert.ok(inf.stats.errors >= 1);
    assert.deepEqual(api.watchRvs.slice(0, 2), ["40", "40"]);
  });

  it("restarts a watch that stays silent past its timeout (watchdog)", async () => {
    api.items = [];
    api.listRv = "50";
    api.watchRvs = [];
    api.watchScripts = []; // every watch hangs without a byte
    const inf = informer({ watchTimeoutSeconds: 0, watchdogGraceMs: 100 });
    inf.start();
    await until(() => api.watchRvs.length >= 2);
    await inf.stop();
    assert.ok(inf.stats.watchdogFired >= 1);
  });
});
