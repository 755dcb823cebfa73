// `brupop agent` as a command line, for tests that run the agent as its own process.
import { existsSync } from "node:fs";
import { join } from "node:path";

import type { BrupopTestbed } from "./testbed.js";

const repoRoot = join(import.meta.dirname, "..", "..");

/** The built CLI if present, else the sources through tsx. */
export function agentCommand(): string[] {
  const built = join(repoRoot, "dist", "cli", "main.js");
  if (existsSync(built)) return [process.execPath, built, "agent"];
  return [process.execPath, "--import", "tsx", join(repoRoot, "src", "cli", "main.ts"), "agent"];
}

/**
 * The flags that point `brupop agent` at `node` of the testbed: its namespace, brupop's apiserver
 * and its CA, the node's bound token, its simulated host's socket, the cluster, and a 500 ms loop
 * (as the testbed's own agents). The node's name goes in MY_NODE_NAME.
 */
export function testbedAgentFlags(tb: BrupopTestbed, node: string): string[] {
  return [
    `--namespace=${tb.namespace}`,
    `--apiserver-url=${tb.apiserver.url}`,
    `--ca-path=${tb.caPath}`,
    `--token-path=${tb.tokenPath(node)}`,
    `--socket=${tb.fleet.socketPath(node)}`,
    `--kubeconfig=${tb.cluster.kubeconfigPath}`,
    "--loop-interval-ms=500",
  ];
}
