// Small helpers for e2e tests that talk to the test cluster directly (shared with the testbed).
export { eventually, kube, type KubeCallOptions } from "../../../src/testenv/kube-call.js";

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
