// One agent as a process (`brupop agent`): builds the real clients from a validated AgentConfig,
// runs the Agent, and turns its end into the process's end. Kept out of the CLI module so the
// command stays a thin flag parser.
import { setTimeout as sleepTimer } from "node:timers/promises";
import type { Logger } from "pino";
import { ApiserverClient, tokenFileProvider } from "../apiserver/client.js";
import { BottlerocketApiClient } from "../bottlerocket/client.js";
import { loadKubeAccess } from "../k8s/access.js";
import type { KubeApi } from "../k8s/api.js";
import { KubeRest } from "../k8s/rest.js";
import { Agent, type AgentExit } from "./agent.js";
import { readRequiredFile, type AgentConfig } from "./config.js";
import { NodeHealthChecks } from "./health.js";
import { OwnObjectsWatch } from "./objects.js";

export interface AgentProcess {
  readonly agent: Agent;
  /** Resolves with how the process should end, after cleaning up. */
  readonly finished: Promise<AgentExit>;
}

/** Reads the Node's uid (the apiserver checks it on every call), retrying until the Node exists. */
async function nodeUid(
  rest: KubeApi,
  config: AgentConfig,
  logger: Logger,
  signal: AbortSignal,
): Promise<string> {
  for (;;) {
    try {
      const uid = (await rest.getNode(config.nodeName, { timeoutMs: 15_000, signal })).metadata?.uid;
      if (uid !== undefined) return uid;
      logger.warn("this agent's Node has no uid yet; retrying");
    } catch (err) {
      if (signal.aborted) throw err;
      logger.warn({ err }, "cannot read this agent's Node yet; retrying");
    }
    await sleepTimer(config.loopIntervalMs, undefined, { signal });
  }
}

/**
 * Starts the agent. `stopSignal` aborting (SIGTERM) stops it gracefully. After the agent asked for a
 * reboot it waits `rebootWaitMs` (the node should go down meanwhile) and finishes with "rebooting".
 */
export async function startAgentProcess(
  config: AgentConfig,
  logger: Logger,
  stopSignal: AbortSignal,
): Promise<AgentProcess> {
  // Fail at start-up on a missing mount, naming it (the token is re-read on every call later).
  const caPem = config.apiserverUrl.startsWith("https:")
    ? readRequiredFile("--ca-path", config.caPath)
    : undefined;
  readRequiredFile("--token-path", config.tokenPath);

  const rest = new KubeRest(await loadKubeAccess(config.kubeconfig));
  let uid: string;
  try {
    uid = await nodeUid(rest, config, logger, stopSignal);
  } catch (err) {
    rest.close();
    throw err;
  }

  const apiserver = new ApiserverClient({
    baseUrl: config.apiserverUrl,
    ...(config.apiserverConnectTo === undefined ? {} : { connectTo: config.apiserverConnectTo }),
    caPem,
    nodeName: config.nodeName,
    nodeUid: uid,
    token: tokenFileProvider(config.tokenPath),
    logger,
  });
  const agent = new Agent({
    nodeName: config.nodeName,
    host: new BottlerocketApiClient({ socketPath: config.socketPath }),
    apiserver,
    objects: new OwnObjectsWatch({ rest, namespace: config.namespace, nodeName: config.nodeName, logger }),
    health: new NodeHealthChecks({ kube: rest, nodeName: config.nodeName, config: config.health }),
    logger,
    timings: {
      loopIntervalMs: config.loopIntervalMs,
      updateCheckIntervalMs: config.updateCheckIntervalMs,
      excludeFromLbWaitMs: config.excludeFromLbWaitMs,
      stateTimeLimitsMs: config.stateTimeLimitsMs,
      healthSoakMs: config.healthSoakMs,
    },
    quarantineFailedNodes: config.quarantineFailedNodes,
  });

  const onStop = (): void => void agent.stop();
  stopSignal.addEventListener("abort", onStop, { once: true });
  agent.start();
  logger.info(
    {
      node: config.nodeName,
      namespace: config.namespace,
      apiserver: config.apiserverUrl,
      apiserverAddress: config.apiserverConnectTo,
    },
    "agent started",
  );

  const finished = (async (): Promise<AgentExit> => {
    const exit = await agent.exited;
    if (exit === "rebooting" && !stopSignal.aborted) {
      // Like upstream: stay quiet while the host goes down; if it does not, exit and let the next
      // agent look again.
      await sleepTimer(config.rebootWaitMs, undefined, { signal: stopSignal }).catch(() => undefined);
    }
    if (exit !== "stopped") await agent.stop();
    stopSignal.removeEventListener("abort", onStop);
    apiserver.close();
    rest.close();
    return exit;
  })();
  return { agent, finished };
}
