// The benchmark's observer, a child process of bench/run.ts (forked with IPC): one LIST+WATCH of the
// BottlerocketShadows in a namespace, every event appended to a JSON-lines file with the time it
// arrived. It runs apart from the process hosting hundreds of agents so that event times are not
// skewed by that process's event-loop lag, and with its own identity (not counted as brupop load).
//
//   node --import tsx bench/observer.ts <kubeconfig> <namespace> <events.jsonl>
//
// Messages from the parent: {type:"expect", id, version, nodes} → {type:"done", id, t} once every
// listed node is done with `version`; {type:"stop"} → flush and exit. Sends {type:"synced"} first.
import { createWriteStream } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { Informer } from "../src/k8s/informer.js";
import { KubeRest } from "../src/k8s/rest.js";
import { silentLogger } from "../src/log.js";
import { API_GROUP, PLURAL } from "../src/model/constants.js";
import { isDone, type ShadowSample } from "../kit/bench/rollout.js";

interface RawShadow {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; managedFields?: unknown };
  spec?: { state?: string; version?: string | null };
  status?: { current_state?: string; current_version?: string; target_version?: string };
}

interface Expectation {
  id: number;
  version: string;
  pending: Set<string>;
}

export type ObserverRequest =
  { type: "expect"; id: number; version: string; nodes: string[] } | { type: "stop" };
export type ObserverReport = { type: "synced" } | { type: "done"; id: number; t: number };

const now = (): number => performance.timeOrigin + performance.now();

function sample(type: ShadowSample["type"], raw: RawShadow, t: number): ShadowSample {
  const s: ShadowSample = { t, name: raw.metadata?.name ?? "", type };
  if (raw.spec?.state !== undefined) s.spec = { state: raw.spec.state, version: raw.spec.version ?? null };
  if (raw.status?.current_state !== undefined) {
    s.status = {
      current_state: raw.status.current_state,
      current_version: raw.status.current_version ?? "",
      target_version: raw.status.target_version ?? "",
    };
  }
  return s;
}

function send(msg: ObserverReport): void {
  process.send?.(msg);
}

async function main(): Promise<void> {
  const [kubeconfig, namespace, file] = process.argv.slice(2);
  if (kubeconfig === undefined || namespace === undefined || file === undefined) {
    throw new Error("usage: observer.ts <kubeconfig> <namespace> <events.jsonl>");
  }
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const rest = new KubeRest(kc);
  const out = createWriteStream(file, { flags: "a" });
  const latest = new Map<string, ShadowSample>();
  const expectations: Expectation[] = [];

  const settle = (): void => {
    for (const e of [...expectations]) {
      for (const n of [...e.pending]) {
        const s = latest.get(n);
        if (s !== undefined && isDone(s, e.version)) e.pending.delete(n);
      }
      if (e.pending.size === 0) {
        expectations.splice(expectations.indexOf(e), 1);
        send({ type: "done", id: e.id, t: now() });
      }
    }
  };

  const informer = new Informer<RawShadow>({
    rest,
    path: `/apis/${API_GROUP}/v2/namespaces/${namespace}/${PLURAL}`,
    logger: silentLogger(),
  });
  informer.on((type, raw) => {
    const s = sample(type, raw, now());
    out.write(`${JSON.stringify(s)}\n`);
    latest.set(s.name, s);
    const e = expectations.find((x) => x.pending.has(s.name));
    if (e !== undefined && isDone(s, e.version)) settle();
  });
  process.on("message", (raw: ObserverRequest) => {
    if (raw.type === "expect") {
      // Shadows are named after their nodes (brs-<node>).
      expectations.push({ id: raw.id, version: raw.version, pending: new Set(raw.nodes) });
      settle();
    } else if (raw.type === "stop") {
      void informer
        .stop()
        .then(() => new Promise<void>((resolve) => out.end(resolve)))
        .then(() => {
          rest.close();
          process.exit(0);
        });
    }
  });
  process.on("disconnect", () => process.exit(0));
  informer.start();
  await informer.waitForSync();
  send({ type: "synced" });
}

main().catch((err: unknown) => {
  process.stderr.write(`observer: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
