import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { exchange, jsonPayload, parseBody } from "./core.js";

describe("parseBody and jsonPayload", () => {
  it("parses JSON, keeps other text, and maps empty to undefined", () => {
    assert.deepEqual(parseBody('{"a":1}'), { a: 1 });
    assert.equal(parseBody("<html>bad gateway</html>"), "<html>bad gateway</html>");
    assert.equal(parseBody(""), undefined);
  });
  it("sets content type and byte length only with a body", () => {
    assert.deepEqual(jsonPayload(undefined), { payload: undefined, headers: {} });
    assert.deepEqual(jsonPayload({ n: "é" }, "application/merge-patch+json"), {
      payload: '{"n":"é"}',
      headers: { "Content-Type": "application/merge-patch+json", "Content-Length": "10" },
    });
  });
});

describe("exchange", () => {
  let server: Server;
  let port = 0;
  before(async () => {
    server = createServer((req, res) => {
      if (req.url === "/echo") {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => res.writeHead(201).end(Buffer.concat(chunks)));
      } else if (req.url === "/big") {
        res.end("x".repeat(2048));
      } else if (req.url === "/trickle") {
        res.writeHead(200);
        const t = setInterval(() => res.write("."), 10);
        res.on("close", () => clearInterval(t));
      } else {
        // /silent: never answers
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  const at = (path: string, method = "GET") => ({
    options: { host: "127.0.0.1", port, method, path },
  });

  it("answers status and text", async () => {
    const { payload, headers } = jsonPayload({ a: 1 });
    const res = await exchange({
      ...at("/echo", "POST"),
      options: { ...at("/echo", "POST").options, headers },
      payload,
    });
    assert.deepEqual(res, { status: 201, text: '{"a":1}' });
  });

  it("a total deadline holds against a peer that trickles bytes", async () => {
    await assert.rejects(
      exchange({ ...at("/trickle"), deadlineMs: 100, onTimeout: () => new Error("deadline") }),
      /deadline/,
    );
  });

  it("an idle timeout fires on silence", async () => {
    await assert.rejects(
      exchange({ ...at("/silent"), idleTimeoutMs: 50, onTimeout: () => new Error("idle") }),
      /idle/,
    );
  });

  it("caps the answer size", async () => {
    await assert.rejects(
      exchange({ ...at("/big"), maxBodyBytes: 1024, onTooLarge: () => new Error("too large") }),
      /too large/,
    );
  });

  it("aborts on the caller's signal and leaves no listener on it", async () => {
    const ac = new AbortController();
    let listeners = 0;
    const signal = ac.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = (...args: Parameters<typeof add>) => {
      listeners++;
      add(...args);
    };
    signal.removeEventListener = (...args: Parameters<typeof remove>) => {
      listeners--;
      remove(...args);
    };
    for (let i = 0; i < 20; i++) await exchange({ ...at("/echo", "POST"), signal });
    assert.equal(listeners, 0);
    const pending = exchange({ ...at("/silent"), signal });
    ac.abort();
    await assert.rejects(pending, /aborted/);
    assert.equal(listeners, 0);
  });

  it("maps transport errors", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(
      exchange({
        options: { host: "127.0.0.1", port: deadPort, path: "/" },
        mapError: (err) => new Error(`mapped: ${(err as NodeJS.ErrnoException).code ?? ""}`),
      }),
      /mapped: ECONNREFUSED/,
    );
  });
});
