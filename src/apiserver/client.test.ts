import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { after, before, describe, it } from "node:test";
import { createCA, issueCert } from "../../kit/testenv/pki.js";
import { ApiserverCallError, ApiserverClient, errorForNetworkFailure, errorForResponse } from "./client.js";

describe("errorForResponse", () => {
  it("2xx is success", () => {
    assert.equal(errorForResponse("x", 200, {}), undefined);
    assert.equal(errorForResponse("x", 201, undefined), undefined);
  });

  const table: [number, unknown, boolean, string | undefined][] = [
    [
      400,
      { code: "BRUPOP_E_INVALID_OBJECT", message: "status.current_version: bad" },
      false,
      "BRUPOP_E_INVALID_OBJECT",
    ],
    [401, { code: "BRUPOP_E_UNAUTHENTICATED", message: "no" }, false, "BRUPOP_E_UNAUTHENTICATED"],
    [403, { code: "BRUPOP_E_FORBIDDEN", message: "no" }, false, "BRUPOP_E_FORBIDDEN"],
    [404, { code: "BRUPOP_E_NOT_FOUND", message: "no" }, false, "BRUPOP_E_NOT_FOUND"],
    [413, { code: "BRUPOP_E_PAYLOAD_TOO_LARGE", message: "big" }, false, "BRUPOP_E_PAYLOAD_TOO_LARGE"],
    [429, undefined, true, undefined],
    [500, { code: "BRUPOP_E_DRAIN", message: "pdb" }, false, "BRUPOP_E_DRAIN"],
    [502, { code: "BRUPOP_E_UPSTREAM", message: "kube down" }, true, "BRUPOP_E_UPSTREAM"],
    [503, "<html>proxy</html>", true, undefined],
    [504, { code: "BRUPOP_E_TIMEOUT", message: "slow" }, true, "BRUPOP_E_TIMEOUT"],
    [418, { code: "not-ours", message: "x" }, false, undefined],
  ];
  for (const [status, body, retryable, remote] of table) {
    it(`${status} → retryable=${retryable}, remoteCode=${remote ?? "none"}`, () => {
      const err = errorForResponse("PUT /x", status, body);
      assert.ok(err instanceof ApiserverCallError);
      assert.equal(err.code, "BRUPOP_E_APISERVER_CALL");
      assert.equal(err.httpStatus, status);
      assert.equal(err.retryable, retryable);
      assert.equal(err.remoteCode, remote);
      assert.match(err.message, /^PUT \/x: /);
    });
  }
});

describe("errorForNetworkFailure", () => {
  const netErr = (code: string) => Object.assign(new Error(code), { code });
  it("connection-level failures are retryable", () => {
    for (const code of ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT"]) {
      assert.equal(errorForNetworkFailure("x", netErr(code)).retryable, true, code);
    }
  });
  it("TLS and unknown failures are not (a wrong CA will not fix itself)", () => {
    assert.equal(errorForNetworkFailure("x", netErr("DEPTH_ZERO_SELF_SIGNED_CERT")).retryable, false);
    assert.equal(errorForNetworkFailure("x", new Error("weird")).retryable, false);
    assert.equal(errorForNetworkFailure("x", netErr("ECONNREFUSED")).httpStatus, undefined);
  });
});

describe("ApiserverClient retries", () => {
  let server: Server;
  let base: string;
  let script: number[] = [];
  const seen: { method?: string; url?: string; headers: IncomingMessage["headers"]; body: string }[] = [];

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        const status = script.shift() ?? 200;
        res.writeHead(status, { "content-type": "application/json" });
        res.end(
          JSON.stringify(
            status < 300 ? { ok: true } : { code: "BRUPOP_E_UPSTREAM", message: `HTTP ${status}` },
          ),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const make = (sleeps: number[], attempts = 4) =>
    new ApiserverClient({
      baseUrl: base,
      nodeName: "n1",
      nodeUid: "u1",
      token: () => Promise.resolve("tok"),
      attempts,
      baseDelayMs: 100,
      maxDelayMs: 1_000,
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
    });

  it("sends the identity headers and the JSON body", async () => {
    seen.length = 0;
    const c = make([]);
    try {
      await c.updateStatus({
        current_version: "1.0.0",
        target_version: "1.0.0",
        current_state: "Idle",
        crash_count: 0,
        state_transition_failure_timestamp: null,
      });
    } finally {
      c.close();
    }
    const req = seen[0];
    assert.equal(req?.method, "PUT");
    assert.equal(req?.url, "/bottlerocket-node-resource");
    assert.equal(req?.headers["brupopnodename"], "n1");
    assert.equal(req?.headers["brupopnodeuid"], "u1");
    assert.equal(req?.headers["brupopk8sauthtoken"], "tok");
    assert.equal((JSON.parse(req?.body ?? "") as { current_state: string }).current_state, "Idle");
  });

  it("retries 502/503 with growing backoff, then succeeds", async () => {
    seen.length = 0;
    script = [503, 502];
    const sleeps: number[] = [];
    const c = make(sleeps);
    try {
      await c.uncordon();
    } finally {
      c.close();
    }
    assert.equal(seen.length, 3);
    assert.equal(sleeps.length, 2);
    assert.ok(sleeps[0]! >= 50 && sleeps[0]! <= 100, `first delay ${sleeps[0]}`);
    assert.ok(sleeps[1]! >= 100 && sleeps[1]! <= 200, `second delay ${sleeps[1]}`);
  });

  it("gives up after `attempts`", async () => {
    seen.length = 0;
    script = [503, 503, 503];
    const c = make([], 3);
    try {
      await assert.rejects(
        c.excludeFromLb(),
        (err) => err instanceof ApiserverCallError && err.httpStatus === 503,
      );
    } finally {
      c.close();
    }
    assert.equal(seen.length, 3);
  });

  it("does not retry a 4xx", async () => {
    seen.length = 0;
    script = [400];
    const c = make([]);
    try {
      await assert.rejects(
        c.createShadow(),
        (err) => err instanceof ApiserverCallError && err.httpStatus === 400,
      );
    } finally {
      c.close();
    }
    assert.equal(seen.length, 1);
  });

  it("does not retry a drain that timed out (504)", async () => {
    seen.length = 0;
    script = [504];
    const c = make([]);
    try {
      await assert.rejects(
        c.cordonAndDrain(),
        (err) => err instanceof ApiserverCallError && err.httpStatus === 504,
      );
    } finally {
      c.close();
    }
    assert.equal(seen.length, 1);
  });

  it("retries a refused connection", async () => {
    const sleeps: number[] = [];
    const c = new ApiserverClient({
      baseUrl: "http://127.0.0.1:1",
      nodeName: "n1",
      nodeUid: "u1",
      token: () => "tok",
      attempts: 2,
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
    });
    try {
      await assert.rejects(
        c.uncordon(),
        (err) => err instanceof ApiserverCallError && err.retryable && err.httpStatus === undefined,
      );
    } finally {
      c.close();
    }
    assert.equal(sleeps.length, 1);
  });
});

describe("ApiserverClient reads the answers of either apiserver (mixed fleets, migrations)", () => {
  // Upstream's apiserver answers create with the BottlerocketShadow and a status write with the
  // status echoed (200, and actix sets no content type); this project's earlier releases answered
  // 201 {name, created} and 200 {name, resourceVersion}. The agent needs only the 2xx, never a field.
  const status = {
    current_version: "1.19.0",
    target_version: "1.20.0",
    current_state: "Idle" as const,
    crash_count: 0,
    state_transition_failure_timestamp: null,
  };
  const upstreamShadow = {
    apiVersion: "brupop.bottlerocket.aws/v2",
    kind: "BottlerocketShadow",
    metadata: {
      name: "brs-n1",
      ownerReferences: [{ apiVersion: "v1", kind: "Node", name: "n1", uid: "u1" }],
    },
    spec: { state: "Idle", state_transition_timestamp: null, version: null },
  };
  const shapes: [string, [number, string, string | undefined], [number, string, string | undefined]][] = [
    [
      "upstream (200 + object, 200 + status echo, no content type)",
      [200, JSON.stringify(upstreamShadow), undefined],
      [200, JSON.stringify(status), undefined],
    ],
    [
      "this project, current (200 + object, 200 + status, JSON)",
      [200, JSON.stringify(upstreamShadow), "application/json"],
      [200, JSON.stringify(status), "application/json"],
    ],
    [
      "this project, before (201 {name, created}, 200 {name, resourceVersion})",
      [201, JSON.stringify({ name: "brs-n1", created: true }), "application/json"],
      [200, JSON.stringify({ name: "brs-n1", resourceVersion: "7" }), "application/json"],
    ],
    ["empty bodies", [200, "", undefined], [200, "", undefined]],
  ];
  let server: Server;
  let base: string;
  let answers: [number, string, string | undefined][] = [];
  let requests = 0;

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on("end", () => {
        requests++;
        const [code, body, type] = answers.shift() ?? [500, "", undefined];
        res.writeHead(code, type === undefined ? {} : { "content-type": type });
        res.end(body);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  for (const [name, create, update] of shapes) {
    it(name, async () => {
      answers = [create, update];
      requests = 0;
      const c = new ApiserverClient({
        baseUrl: base,
        nodeName: "n1",
        nodeUid: "u1",
        token: () => "tok",
        sleep: () => Promise.reject(new Error("no retry expected")),
      });
      try {
        await c.createShadow();
        await c.updateStatus(status);
      } finally {
        c.close();
      }
      assert.equal(requests, 2, "one request each, no retry");
    });
  }
});

describe("ApiserverClient connectTo (cluster IP, no DNS)", () => {
  const DNS = "brupop-apiserver.brupop-bottlerocket-aws.svc.cluster.local";
  let server: HttpsServer;
  let port: number;
  let caPem: string;
  const hosts: (string | undefined)[] = [];
  const snis: (string | false | null)[] = [];

  before(async () => {
    const ca = await createCA({ commonName: "brupop-test-ca" });
    caPem = ca.certPem;
    const cert = await issueCert({ ca, commonName: DNS, dnsNames: [DNS], usage: "server" });
    server = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      hosts.push(req.headers.host);
      snis.push((req.socket as TLSSocket).servername);
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const make = (name: string) =>
    new ApiserverClient({
      baseUrl: `https://${name}:${port}`,
      connectTo: { host: "127.0.0.1", port },
      caPem,
      nodeName: "n1",
      nodeUid: "u1",
      token: () => "tok",
      attempts: 1,
    });

  it("reaches the IP and accepts the certificate for the DNS name (SNI and Host are the name)", async () => {
    const c = make(DNS);
    try {
      await c.uncordon();
    } finally {
      c.close();
    }
    assert.deepEqual(hosts, [`${DNS}:${port}`]);
    assert.deepEqual(snis, [DNS]);
  });

  it("refuses a certificate that is not for the URL's name", async () => {
    const c = make("brupop-apiserver.other.svc.cluster.local");
    try {
      await assert.rejects(c.uncordon(), (err: unknown) => {
        assert.ok(err instanceof ApiserverCallError);
        assert.equal(err.httpStatus, undefined);
        assert.equal((err.cause as { code?: string }).code, "ERR_TLS_CERT_ALTNAME_INVALID");
        return true;
      });
    } finally {
      c.close();
    }
  });
});
