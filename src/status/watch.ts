// `brupop status --watch`: keeps informer caches (list+watch, src/k8s/informer.ts) of the shadows, the
// Nodes and the controller's state ConfigMap, and re-renders when they change — no polling LISTs. A
// periodic re-evaluation (default 5 s) from the caches catches verdicts that change with the clock
// alone (a back-off or window ending, an allowance running out). Pods and PDBs are read only for
// nodes that are draining, at each render.
import type { Clock } from "../clock.js";
import { Informer } from "../k8s/informer.js";
import type { KubeRest } from "../k8s/rest.js";
import type { Logger } from "../log.js";
import { buildFleetStatus, drainingNodes } from "./core.js";
import { configMapsPath, NODES_PATH, shadowsPath, type StatusReader } from "./fetch.js";
import { slimNode, type RawConfigMap, type RawNode, type RawShadow, type StatusInput } from "./inputs.js";
import type { FleetStatus } from "./model.js";
import { changeKey, renderStatus, type OutputFormat } from "./output.js";

/** Clear screen and home the cursor (what `watch` does between frames). */
export const CLEAR_SCREEN = "\x1b[H\x1b[2J";

/**
 * Decides what to write for each snapshot. A terminal showing the table is redrawn whenever the text
 * changes (relative times tick); anything else (a pipe, JSON, YAML) gets a new document only when
 * the facts change.
 */
export class FrameWriter {
  readonly #format: OutputFormat;
  readonly #tty: boolean;
  readonly #write: (text: string) => void;
  #lastKey: string | undefined;
  #lastText: string | undefined;
  frames = 0;

  constructor(format: OutputFormat, tty: boolean, write: (text: string) => void) {
    this.#format = format;
    this.#tty = tty;
    this.#write = write;
  }

  /** Returns whether it wrote. */
  push(status: FleetStatus, now: Date): boolean {
    const redraw = this.#tty && this.#format === "table";
    const text = renderStatus(status, this.#format, now, true);
    const key = changeKey(status);
    const changed = redraw ? text !== this.#lastText : key !== this.#lastKey;
    if (!changed) return false;
    this.#lastKey = key;
    this.#lastText = text;
    const sep = this.frames === 0 || redraw || this.#format !== "table" ? "" : "\n";
    this.#write(redraw ? `${CLEAR_SCREEN}${text}` : `${sep}${text}`);
    this.frames++;
    return true;
  }
}

export interface WatchDeps {
  rest: KubeRest;
  reader: StatusReader;
  clock: Clock;
  logger: Logger;
}

export interface WatchOptions {
  format: OutputFormat;
  tty: boolean;
  write: (text: string) => void;
  /** Ends the watch (Ctrl-C). */
  signal: AbortSignal;
  /** Re-evaluation period without events. */
  refreshMs?: number;
  /** Delay between a cache event and the render it causes (coalesces bursts). */
  debounceMs?: number;
}

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

/**
 * Runs until `signal` aborts. The first snapshot is read directly, so an unreachable cluster, a
 * missing CRD or a forbidden LIST fail at once with a clear error instead of a silent retry loop.
 */
export async function watchStatus(deps: WatchDeps, opts: WatchOptions): Promise<void> {
  const { rest, reader, clock, logger } = deps;
  const frames = new FrameWriter(opts.format, opts.tty, opts.write);
  const first = await reader.snapshot(() => clock.now());
  frames.push(buildFleetStatus(first), first.now);

  const ns = reader.namespace;
  const shadows = new Informer<RawShadow>({ rest, path: shadowsPath(ns), logger });
  const nodes = new Informer<RawNode>({ rest, path: NODES_PATH, logger, transform: slimNode });
  // May be forbidden to list/watch for a user who can only get it: then the first read stays in use.
  const state = new Informer<RawConfigMap>({
    rest,
    path: configMapsPath(ns),
    fieldSelector: `metadata.name=${reader.configMapName}`,
    logger,
  });

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  const snapshotFromCaches = async (): Promise<StatusInput> => {
    const shadowList = shadows.list();
    const nodeList = nodes.list();
    const cm = state.synced ? (state.list()[0] ?? null) : undefined;
    const drain = await reader.readDrain(drainingNodes(shadowList, nodeList));
    return {
      ...first,
      now: clock.now(),
      shadows: shadowList,
      nodes: nodeList,
      ...(cm !== undefined && {
        controllerState: cm === null ? null : (cm.data ?? {}),
        controllerStateError: undefined,
      }),
      drain,
    };
  };
  const render = (): void => {
    if (!shadows.synced || !nodes.synced) return; // a half-filled cache would show a partial fleet
    if (running !== undefined) {
      again = true;
      return;
    }
    running = (async () => {
      try {
        const input = await snapshotFromCaches();
        if (!opts.signal.aborted) frames.push(buildFleetStatus(input), input.now);
      } catch (err) {
        logger.warn({ err }, "status render failed; retrying at the next change");
      } finally {
        running = undefined;
        if (again && !opts.signal.aborted) {
          again = false;
          render();
        }
      }
    })();
  };
  const soon = (): void => {
    if (timer !== undefined || opts.signal.aborted) return;
    timer = setTimeout(() => {
      timer = undefined;
      render();
    }, opts.debounceMs ?? 200);
  };

  for (const inf of [shadows, nodes, state] as Informer<RawShadow | RawNode | RawConfigMap>[]) {
    inf.on(() => soon());
    inf.start();
  }
  const interval = setInterval(render, opts.refreshMs ?? 5_000);
  try {
    await Promise.race([
      Promise.all([shadows.waitForSync(), nodes.waitForSync()]),
      untilAborted(opts.signal),
    ]);
    if (!opts.signal.aborted) render();
    await untilAborted(opts.signal);
  } finally {
    clearInterval(interval);
    clearTimeout(timer);
    await Promise.all([shadows.stop(), nodes.stop(), state.stop()]);
    await running;
  }
}
