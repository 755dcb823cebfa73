import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  cniConfig,
  containerdConfig,
  kubeletConfig,
  nodeIP,
  podSubnet,
  registryHostsToml,
  type NodePaths,
} from "./config.js";

const paths: NodePaths = {
  containerdRoot: "/t/n/containerd",
  containerdState: "/t/n/run/containerd-state",
  containerdSocket: "/t/n/containerd.sock",
  runcRoot: "/t/n/run/runc",
  cniConfDir: "/t/n/cni",
  ipamDir: "/t/n/ipam",
  kubeletRoot: "/t/n/kubelet",
  podLogsDir: "/t/n/pod-logs",
};

describe("real-node config", () => {
  it("gives each node its own address and pod range, none on the machine's own ranges", () => {
    assert.deepEqual([0, 1, 2].map(nodeIP), ["10.99.0.11", "10.99.0.12", "10.99.0.13"]);
    assert.deepEqual([0, 1].map(podSubnet), ["10.244.0.0/24", "10.244.1.0/24"]);
  });

  it("containerd: everything under the node's dirs, restrict_oom_score_adj, cgroupfs", () => {
    const t = containerdConfig(paths);
    assert.match(t, /restrict_oom_score_adj = true/);
    assert.match(t, /SystemdCgroup = false/);
    assert.match(t, /Root = "\/t\/n\/run\/runc"/);
    assert.match(t, /address = "\/t\/n\/containerd.sock"/);
    assert.match(t, /conf_dir = "\/t\/n\/cni"/);
    assert.doesNotMatch(t, /config_path/);
  });

  it("containerd: pulls through certs.d hosts.toml files when given their directory", () => {
    const t = containerdConfig(paths, "/t/certs.d");
    assert.match(
      t,
      /\[plugins\."io\.containerd\.grpc\.v1\.cri"\.registry\]\n {4}config_path = "\/t\/certs.d"/,
    );
    assert.equal(
      registryHostsToml("127.0.0.1:5000", "/t/ca.crt"),
      'server = "https://127.0.0.1:5000"\n\n[host."https://127.0.0.1:5000"]\n  capabilities = ["pull", "resolve"]\n  ca = "/t/ca.crt"\n',
    );
  });

  it("CNI: a bridge per node, never masquerading out of the namespace", () => {
    const c = JSON.parse(cniConfig(1, "/t/ipam")) as {
      plugins: { type: string; bridge?: string; ipMasq?: boolean }[];
    };
    assert.equal(c.plugins[0]?.bridge, "brupop1");
    assert.equal(c.plugins[0]?.ipMasq, false);
  });

  it("kubelet: cgroup v1 accepted, cgroupfs under the given root, node IP", () => {
    const k = JSON.parse(
      kubeletConfig({ index: 0, paths, cgroupRoot: "/b/node-0", resolvConf: "/t/r", clientCAFile: "/t/ca" }),
    ) as Record<string, unknown>;
    assert.equal(k["failCgroupV1"], false);
    assert.equal(k["cgroupDriver"], "cgroupfs");
    assert.equal(k["cgroupRoot"], "/b/node-0");
    assert.equal(k["address"], "10.99.0.11");
    assert.equal(k["containerRuntimeEndpoint"], "unix:///t/n/containerd.sock");
  });
});
