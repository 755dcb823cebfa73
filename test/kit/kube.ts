// Helpers for tests that talk to the test cluster directly (shared with the testbed): a Kubernetes
// call that must succeed, and the poller (test/kit/poll.ts).
export { kube, type KubeCallOptions } from "../../src/testenv/kube-call.js";
export { eventually, sleep } from "./poll.js";
