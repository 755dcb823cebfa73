// The brupop testbed (real control plane + in-process apiserver + simulated hosts + in-process
// agents) lives in kit/testbed/testbed.ts so `brupop demo` and the benchmark can use it too.
export * from "../../kit/testbed/testbed.js";
