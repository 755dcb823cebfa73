import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { defaultChartImage, editInstallBlock, installBlockFromDocs } from "./install.js";

describe("docs/install.md's install block", () => {
  it("installs both charts from $charts and sets the image from $image", () => {
    const block = installBlockFromDocs();
    assert.match(block, /^charts=oci:\/\/registry\.example\.com\/charts$/m);
    assert.match(block, /helm install brupop-crd "\$charts\/bottlerocket-shadow" --version 0\.1\.0/);
    assert.match(block, /helm install brupop-operator "\$charts\/bottlerocket-update-operator"/);
    assert.match(block, /--set image="\$image"/);
  });

  it("edits only the charts= and image= lines, as a user does", () => {
    const block = "ns=x\ncharts=oci://registry.example.com/charts\nimage=a:b   # comment\nhelm install\n";
    assert.equal(
      editInstallBlock(block, "oci://127.0.0.1:5000/charts", "127.0.0.1:5000/brupop-ts:0.1.0"),
      "ns=x\ncharts='oci://127.0.0.1:5000/charts'\nimage='127.0.0.1:5000/brupop-ts:0.1.0'\nhelm install\n",
    );
    assert.throws(() => editInstallBlock("ns=x\n", "c", "i"), /lost its charts= line/);
  });

  it("knows the chart's default image (what the imported archive is tagged)", () => {
    assert.equal(defaultChartImage(), "brupop-ts:0.1.0");
  });
});
