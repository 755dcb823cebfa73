"use strict";
/* global require, process, Buffer, URL, setInterval -- CommonJS (./package.json), plain Node.js */
/* eslint-disable @typescript-eslint/no-require-imports -- no bundler, no loader: plain requires */
// The floor of the agent's start (issue 30; bench/agent-start.ts): the network work of the agent's
// first status report and nothing else, in plain CommonJS (no bundle, no library, no validation,
// no logger) — what any Node.js agent pays from its start to that report:
//
//   read the service account's token and CA (in-cluster access, as src/k8s/access.ts);
//   one TLS connection to kube-apiserver: GET its Node (the uid), LIST its BottlerocketShadow and
//   its Node (field-selected, as the agent's two informers do before the first pass);
//   read the agent's token and the brupop apiserver's CA;
//   one TLS connection to the brupop apiserver: POST the shadow, PUT its first status (the body the
//   agent sends: src/agent/status.ts initialStatus).
//
// Left out: the host's API (a Unix socket, no TLS: the agent reads the OS version and refreshes
// the update list there) and the two watches (TLS connections of their own), so this is below what
// the real agent must do. CommonJS, not ESM: an ESM `import "node:https"` costs more (tools/bundle.ts).
// Same flags and environment as the agent: `node floor.js agent --namespace=… --apiserver-url=…
// --ca-path=… --token-path=… [--version=…]`, MY_NODE_NAME, KUBERNETES_SERVICE_HOST/PORT,
// BRUPOP_SERVICE_ACCOUNT_DIR. Stays up (as the agent does) until SIGTERM.
const fs = require("node:fs");
const https = require("node:https");

const opts = {};
for (const a of process.argv.slice(2)) {
  const m = /^--([a-z-]+)=(.*)$/.exec(a);
  if (m !== null) opts[m[1]] = m[2];
}
const env = process.env;
const node = env.MY_NODE_NAME;
const ns = opts.namespace;
const sa = env.BRUPOP_SERVICE_ACCOUNT_DIR || "/var/run/secrets/kubernetes.io/serviceaccount";

function request({ agent, host, port, method, path, headers, body }) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const h = { Accept: "application/json", ...headers };
    if (payload !== undefined) {
      h["Content-Type"] = "application/json";
      h["Content-Length"] = String(Buffer.byteLength(payload));
    }
    const req = https.request({ agent, host, port, method, path, headers: h }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () =>
        res.statusCode >= 200 && res.statusCode < 300
          ? resolve(text === "" ? undefined : JSON.parse(text))
          : reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`)),
      );
    });
    req.on("error", (err) => reject(new Error(`${method} https://${host}:${port}${path}: ${err.message}`)));
    req.end(payload);
  });
}

async function main() {
  // kube-apiserver, in-cluster.
  const kubeToken = fs.readFileSync(`${sa}/token`, "utf8").trim();
  const kubeCa = fs.readFileSync(`${sa}/ca.crt`, "utf8");
  const kube = new https.Agent({ keepAlive: true, maxSockets: 1, ca: kubeCa });
  const kubeCall = (path) =>
    request({
      agent: kube,
      host: env.KUBERNETES_SERVICE_HOST,
      port: env.KUBERNETES_SERVICE_PORT,
      method: "GET",
      path,
      headers: { Authorization: `Bearer ${kubeToken}` },
    });
  const byName = (name) => `fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`;
  const uid = (await kubeCall(`/api/v1/nodes/${node}`)).metadata.uid;
  await kubeCall(
    `/apis/brupop.bottlerocket.aws/v2/namespaces/${ns}/bottlerocketshadows?${byName(`brs-${node}`)}`,
  );
  await kubeCall(`/api/v1/nodes?${byName(node)}`);

  // The brupop apiserver.
  const url = new URL(opts["apiserver-url"]);
  const ca = fs.readFileSync(opts["ca-path"], "utf8");
  const brupop = new https.Agent({ keepAlive: true, maxSockets: 1, ca });
  const call = (method, body) =>
    request({
      agent: brupop,
      host: url.hostname,
      port: url.port,
      method,
      path: "/bottlerocket-node-resource",
      headers: {
        BrupopNodeName: node,
        BrupopNodeUid: uid,
        BrupopK8sAuthToken: fs.readFileSync(opts["token-path"], "utf8").trim(),
      },
      body,
    });
  await call("POST", undefined);
  const version = opts.version || "1.19.0";
  await call("PUT", {
    current_version: version,
    target_version: version,
    current_state: "Idle",
    crash_count: 0,
    state_transition_failure_timestamp: null,
  });
  process.stderr.write("first status reported\n");
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
// Up until stopped, as the agent (its keep-alive sockets end with it).
setInterval(() => undefined, 1 << 30);
process.on("SIGTERM", () => process.exit(0));
