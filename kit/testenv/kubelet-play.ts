// The part of a kubelet's job kwok does not play: keeping the pods of a Ready node reported Ready.
// The node lifecycle controller marks every pod of a node that went NotReady as not Ready, and it
// does so on its own schedule (a 5 s monitor period): after a simulated reboot it can land after
// the kit's one-shot `markNodePodsReady`, and then nothing ever reports the pod Ready again. A real
// kubelet would, at its next status sync; here a PodDisruptionBudget stayed at 0 disruptions
// allowed for good and blocked every drain (chaos seed 5149). This loop is that status sync.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { isNodeReady, markNodePodsReady } from "./nodes.js";

export interface KubeletPlay {
  stop(): Promise<void>;
  /** Pods it has reported Ready again so far. */
  readonly reReadied: number;
}

/**
 * Every `intervalMs`, for each of `nodes` that is Ready: its running pods that are not Ready (and
 * not failing their readiness on purpose: READINESS_FAILS_ANNOTATION) are reported Ready. A node
 * the kit holds NotReady (rebooting, a fault) is left alone, as its kubelet would be down. Errors
 * (a restarting kube-apiserver) are ignored until the next round, as a kubelet retries.
 */
export function startKubeletPlay(
  kubeConfig: KubeConfig,
  nodes: readonly string[],
  intervalMs = 2_000,
): KubeletPlay {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  let stopped = false;
  let reReadied = 0;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> = Promise.resolve();
  const once = async (): Promise<void> => {
    for (const name of nodes) {
      if (stopped) return;
      try {
        if (!isNodeReady(await core.readNode({ name }))) continue;
        reReadied += await markNodePodsReady(core, name, new Date());
      } catch {
        // kube-apiserver restarting, the node gone: next round.
      }
    }
  };
  const schedule = (): void => {
    timer = setTimeout(() => {
      round = once().finally(() => {
        if (!stopped) schedule();
      });
    }, intervalMs);
  };
  schedule();
  return {
    get reReadied() {
      return reReadied;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await round;
    },
  };
}
