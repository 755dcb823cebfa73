// Child process for test/e2e/realnodes.test.ts: starts a one-node real cluster, prints READY and
// waits to be killed (the test SIGKILLs it and checks that the reaper restored the host).
import { startRealNodeCluster } from "../../kit/testenv/realnode/cluster.js";

const cluster = await startRealNodeCluster({ nodes: 1, corednsReplicas: 1 });
process.stdout.write(`READY ${cluster.sandbox.dir}\n`);
setInterval(() => undefined, 60_000);
