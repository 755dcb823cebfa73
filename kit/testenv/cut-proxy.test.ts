import assert from "node:assert/strict";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { once } from "node:events";
import { describe, it } from "node:test";
import { CutProxy } from "./cut-proxy.js";

async function echoServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

async function roundTrip(port: number): Promise<{ socket: Socket; reply: string }> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  await once(socket, "connect");
  socket.write("ping");
  const [data] = (await once(socket, "data")) as [Buffer];
  return { socket, reply: data.toString() };
}

describe("CutProxy", () => {
  it("forwards bytes both ways, cuts every open connection at once, then lets new ones through", async () => {
    const echo = await echoServer();
    const proxy = await CutProxy.start({ host: "127.0.0.1", port: echo.port });
    try {
      const a = await roundTrip(proxy.port);
      const b = await roundTrip(proxy.port);
      assert.equal(a.reply, "ping");
      assert.equal(proxy.open, 2);
      const closed = Promise.all([a.socket, b.socket].map((s) => new Promise((r) => s.on("close", r))));
      assert.equal(proxy.cutAll(), 2);
      await closed;
      assert.equal(proxy.open, 0);
      assert.equal(proxy.cuts, 2);
      const c = await roundTrip(proxy.port);
      assert.equal(c.reply, "ping");
      c.socket.destroy();
    } finally {
      await proxy.close();
      await echo.close();
    }
  });
});
