// The brupop testbed (real control plane + in-process apiserver + simulated hosts + in-process
// agents) lives in src/agent/testbed.ts so `brupop demo` and the benchmark can use it too.
export * from "../../src/agent/testbed.js";
