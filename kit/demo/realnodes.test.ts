import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkDemoFlags } from "./command.js";
import { helmSetValue } from "../testenv/realnode/install.js";
import { checkRealNodeDemo } from "./plan.js";
import { hostApiArgs, workloadManifest } from "./realnodes.js";

const flags = { nodes: 2, maxConcurrent: 1, cron: "* * * * * * *", pdbMaxUnavailable: 1, timeout: 60 };

describe("brupop demo --real-nodes: checks before anything starts", () => {
  it("1 to 3 nodes, as root only; each refusal names the flag", () => {
    assert.doesNotThrow(() => checkRealNodeDemo(1, 0));
    assert.doesNotThrow(() => checkRealNodeDemo(3, 0));
    assert.throws(() => checkRealNodeDemo(4, 0), /--nodes must be 1 to 3/);
    assert.throws(() => checkRealNodeDemo(0, 0), /--nodes must be 1 to 3/);
    assert.throws(() => checkRealNodeDemo(2, 1000), /--real-nodes needs root/);
    assert.throws(() => checkRealNodeDemo(2, undefined), /--real-nodes needs root/);
  });

  it("--fail-host takes the real nodes' names; --bare does not combine", () => {
    assert.doesNotThrow(() => checkDemoFlags({ ...flags, realNodes: true, failHost: "real-node-1" }, 0));
    assert.throws(
      () => checkDemoFlags({ ...flags, realNodes: true, failHost: "demo-node-1" }, 0),
      /no node "demo-node-1" \(nodes: real-node-0, real-node-1\)/,
    );
    assert.throws(() => checkDemoFlags({ ...flags, realNodes: true, bare: true }, 0), /choose one/);
    assert.throws(() => checkDemoFlags({ ...flags, realNodes: true }, 1000), /needs root/);
    // Without --real-nodes nothing about root is asked.
    assert.doesNotThrow(() => checkDemoFlags({ ...flags, failHost: "demo-node-0" }, 1000));
  });

  it("the host API flags: the demo's versions, a real reboot of at least 2 s, an injected prepare failure", () => {
    const args = hostApiArgs(true, true);
    const at = (flag: string) => args[args.indexOf(flag) + 1];
    assert.equal(at("--current-version"), "1.19.0");
    assert.equal(at("--release"), "1.20.0");
    assert.equal(at("--reboot-time"), "2000ms");
    assert.equal(at("--prepare-time"), "300ms");
    assert.equal(at("--fail"), "prepare:1");
    assert.equal(hostApiArgs(false, false).includes("--fail"), false);
    assert.equal(hostApiArgs(false, false)[hostApiArgs(false, false).indexOf("--reboot-time") + 1], "3000ms");
  });

  it("the workload: one pod per node under the PDB, on the image every real node has", () => {
    const list = workloadManifest(3, 1) as {
      items: [
        {
          spec: {
            replicas: number;
            template: { spec: { containers: { image: string; imagePullPolicy: string }[] } };
          };
        },
        { kind: string; spec: { maxUnavailable: number } },
      ];
    };
    assert.equal(list.items[0].spec.replicas, 3);
    assert.equal(list.items[0].spec.template.spec.containers[0]?.imagePullPolicy, "Never");
    assert.equal(list.items[1].kind, "PodDisruptionBudget");
    assert.equal(list.items[1].spec.maxUnavailable, 1);
  });

  it("helm --set values keep their commas and backslashes", () => {
    assert.equal(helmSetValue("0 0/5 * * * Mon,Tue *"), "0 0/5 * * * Mon\\,Tue *");
    assert.equal(helmSetValue("a\\b"), "a\\\\b");
  });
});
