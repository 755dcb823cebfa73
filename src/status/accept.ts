// `brupop accept NODE` (issue 25): a person accepts a node's failure on the new version, so it
// counts as up to date again and its group can finish. It writes the shadow annotation
// ACCEPT_FAILURE_ANNOTATION = that failure's timestamp (an acceptance names one failure, never a
// later one); the decision what to write is pure (acceptDecision), the rest is one GET and one PATCH.
import { systemClock, type Clock } from "../clock.js";
import { nodeOutcome, type NodeOutcome } from "../controller/decide/outcome.js";
import { isNotFound } from "../errors.js";
import { KubeRest } from "../k8s/rest.js";
import { paths } from "../k8s/objects.js";
import { ACCEPT_FAILURE_ANNOTATION, shadowNameForNode } from "../model/constants.js";
import { describeFailure, parseShadow, type BottlerocketShadow } from "../model/shadow.js";
import { errorLine } from "./errors.js";
import { loadKubeConfig } from "./fetch.js";

export type AcceptDecision =
  | { kind: "write"; value: string; message: string }
  | { kind: "already"; message: string }
  | { kind: "refuse"; message: string };

function describeOutcome(o: NodeOutcome): string {
  switch (o.kind) {
    case "up-to-date":
      return `it is up to date (${o.version})`;
    case "updating":
      return `it is updating (${o.state})`;
    case "waiting":
      return `it waits to update to ${o.targetVersion}`;
    case "failed-before-reboot":
      return `it failed before the reboot and retries after its back-off${o.failure === undefined ? "" : ` (${describeFailure(o.failure)})`}`;
    case "unreported":
      return "its agent has not reported a status yet";
    case "failed-on-new-version":
      return `it failed on ${o.version}`;
  }
}

/** What to write for `node`, from its shadow and the clock. */
export function acceptDecision(node: string, shadow: BottlerocketShadow, now: Date): AcceptDecision {
  const outcome = nodeOutcome(shadow, now);
  if (outcome.kind === "up-to-date" && outcome.accepted !== undefined)
    return {
      kind: "already",
      message: `${node}: its failure on ${outcome.version} (${describeFailure(outcome.accepted)}) is already accepted`,
    };
  if (outcome.kind !== "failed-on-new-version")
    return {
      kind: "refuse",
      message: `${node} has no failure on the new version to accept: ${describeOutcome(outcome)}`,
    };
  return {
    kind: "write",
    value: outcome.failure.timestamp,
    message: `${node}: accepted its failure on ${outcome.version} (${describeFailure(outcome.failure)}); it counts as up to date`,
  };
}

export interface AcceptOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  namespace: string;
  node: string;
}

/** Exit code: 0 written or already accepted; 1 refused or any error (one `error: ...` line). */
export async function runAccept(
  opts: AcceptOptions,
  io: { out: (t: string) => void; err: (t: string) => void; clock?: Clock },
): Promise<number> {
  let rest: KubeRest | undefined;
  try {
    rest = new KubeRest(loadKubeConfig(opts));
    const path = paths.shadow(opts.namespace, shadowNameForNode(opts.node));
    let raw: Parameters<typeof parseShadow>[0];
    try {
      raw = await rest.get(path, { what: `GET BottlerocketShadow of ${opts.node}` });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      io.err(`error: node ${opts.node} has no BottlerocketShadow in namespace ${opts.namespace}\n`);
      return 1;
    }
    const decision = acceptDecision(opts.node, parseShadow(raw), (io.clock ?? systemClock).now());
    if (decision.kind === "refuse") {
      io.err(`error: ${decision.message}\n`);
      return 1;
    }
    if (decision.kind === "write")
      await rest.patch(
        path,
        "merge",
        { metadata: { annotations: { [ACCEPT_FAILURE_ANNOTATION]: decision.value } } },
        { what: `annotate BottlerocketShadow of ${opts.node}` },
      );
    io.out(`${decision.message}\n`);
    return 0;
  } catch (err) {
    io.err(`${errorLine(err)}\n`);
    return 1;
  } finally {
    rest?.close();
  }
}
