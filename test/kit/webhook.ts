// A local webhook receiver for the notification tests (controller/notify.ts): keeps every JSON
// body it is sent and answers 204.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Notification } from "../../src/controller/act/notify.js";

/** A local webhook receiver: keeps every JSON body it is sent. */
export async function receiver(): Promise<{ url: URL; got: Notification[]; close: () => void }> {
  const got: Notification[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push(JSON.parse(Buffer.concat(chunks).toString()) as Notification);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`),
    got,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
