import { KubeConfig } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { renderKubeconfig } from "./kubeconfig.js";

describe("renderKubeconfig", () => {
  it("produces a kubeconfig client-node loads, with embedded credentials", () => {
    const text = renderKubeconfig({
      server: "https://127.0.0.1:6443",
      caCertPem: "CA PEM",
      clientCertPem: "CERT PEM",
      clientKeyPem: "KEY PEM",
      name: "t",
      tlsServerName: "localhost",
    });
    const kc = new KubeConfig();
    kc.loadFromString(text);
    assert.equal(kc.getCurrentContext(), "t");
    const cluster = kc.getCurrentCluster();
    assert.equal(cluster?.server, "https://127.0.0.1:6443");
    assert.equal(cluster?.tlsServerName, "localhost");
    assert.equal(Buffer.from(cluster?.caData ?? "", "base64").toString(), "CA PEM");
    const user = kc.getCurrentUser();
    assert.equal(Buffer.from(user?.certData ?? "", "base64").toString(), "CERT PEM");
    assert.equal(Buffer.from(user?.keyData ?? "", "base64").toString(), "KEY PEM");
  });
});
