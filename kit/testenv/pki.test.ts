import assert from "node:assert/strict";
import { createPublicKey, X509Certificate } from "node:crypto";
import { once } from "node:events";
import { request, createServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { describe, it } from "node:test";

import { isBrupopError } from "../../src/errors.js";
import { createCA, createKeyPair, issueCert, parseCert } from "./pki.js";

describe("pki", () => {
  it("creates a CA that is a CA and self-signed", async () => {
    const ca = await createCA({ commonName: "unit-ca" });
    const cert = parseCert(ca.certPem);
    assert.equal(cert.ca, true);
    assert.match(cert.subject, /CN=unit-ca/);
    assert.ok(cert.verify(createPublicKey(ca.keyPem)));
  });

  it("issues a server cert with SANs, signed by the CA and not itself a CA", async () => {
    const ca = await createCA();
    const srv = await issueCert({
      ca,
      commonName: "kube-apiserver",
      dnsNames: ["localhost", "kubernetes.default.svc"],
      ipAddresses: ["127.0.0.1", "::1"],
      usage: "server",
    });
    const cert = new X509Certificate(srv.certPem);
    assert.equal(cert.ca, false);
    assert.ok(cert.checkIssued(new X509Certificate(ca.certPem)));
    assert.ok(cert.verify(createPublicKey(ca.keyPem)));
    assert.equal(cert.checkHost("kubernetes.default.svc"), "kubernetes.default.svc");
    assert.equal(cert.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(cert.checkHost("example.com"), undefined);
    assert.deepEqual(cert.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
  });

  it("puts every organization in the subject of a client cert", async () => {
    const ca = await createCA();
    const c = await issueCert({
      ca,
      commonName: "admin",
      organization: ["system:masters", "brupop"],
      usage: "client",
    });
    const cert = parseCert(c.certPem);
    assert.match(cert.subject, /O=system:masters/);
    assert.match(cert.subject, /O=brupop/);
    assert.match(cert.subject, /CN=admin/);
    assert.deepEqual(cert.keyUsage, ["1.3.6.1.5.5.7.3.2"]);
  });

  it("rejects bad IPs and config-breaking characters", async () => {
    const ca = await createCA();
    await assert.rejects(
      issueCert({ ca, commonName: "x", ipAddresses: ["localhost"], usage: "server" }),
      (e) => isBrupopError(e, "BRUPOP_E_TESTENV"),
    );
    await assert.rejects(issueCert({ ca, commonName: "x\n[ext]", usage: "server" }), (e) =>
      isBrupopError(e, "BRUPOP_E_TESTENV"),
    );
  });

  it("makes certs that work for mutual TLS in Node", async () => {
    const ca = await createCA();
    const srv = await issueCert({ ca, commonName: "srv", ipAddresses: ["127.0.0.1"], usage: "server" });
    const cli = await issueCert({ ca, commonName: "node-a", organization: "brupop", usage: "client" });
    const server = createServer(
      { cert: srv.certPem, key: srv.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        res.end(peer.subject.CN);
      },
    );
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const { port } = server.address() as AddressInfo;
      const body = await new Promise<string>((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port, ca: ca.certPem, cert: cli.certPem, key: cli.keyPem },
          (res) => {
            let data = "";
            res.on("data", (d: Buffer) => (data += d.toString()));
            res.on("end", () => resolve(data));
          },
        );
        req.on("error", reject);
        req.end();
      });
      assert.equal(body, "node-a");
    } finally {
      server.close();
    }
  });

  it("creates distinct EC key pairs", () => {
    const a = createKeyPair();
    const b = createKeyPair();
    assert.notEqual(a.privateKeyPem, b.privateKeyPem);
    assert.match(a.publicKeyPem, /BEGIN PUBLIC KEY/);
  });
});
