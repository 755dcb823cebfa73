// `brupop status --watch`: keeps informer caches (list+watch, src/k8s/informer.ts) of the shadows, the
// Nodes, the controller's state ConfigMap and its blocker verdicts (brupop-blockers), and re-renders
// when they change — no polling LISTs. A periodic re-evaluation (default 5 s) from the caches catches
// verdicts that change with the clock alone (a back-off or window ending, an allowance running out). Pods and PDBs are read only for
// nodes that are draining, at each render.
import type { Clock } from "../clock.js";
import { BLOCKERS_CONFIGMAP } from "../controller/act/blockers-publish.js";
import { Informer } from "../k8s/informer.js";
import type { KubeApi } from "../k8s/api.js";
import { paths } from "../k8s/objects.js";
import type { Logger } from "../log.js";
import { buildFleetStatus, drainingNodes } from "./core.js";
import type { StatusReader } from "./fetch.js";
import { slimNode, type RawConfigMap, type RawNode, type RawShadow, type StatusInput } from "./inputs.js";
import type { FleetStatus } from "./model.js";
import { changeKey, renderStatus, type OutputFormat } from "./output.js";
import { fitLines, LiveScreen, type Terminal, type TermSize } from "./screen.js";

/** What a status table that does not fit says in place of the nodes it leaves out. */
export function moreNodes(hidden: number): string {
  return `… ${hidden} more node${hidden === 1 ? "" : "s"} (a taller terminal or -o json shows all)`;
}

/**
 * The table of `renderTable` fitted to the terminal: the header, the summary and its note always
 * shown; the node rows that do not fit summed up in one line; every line cut to the width.
 */
export function fitStatusTable(text: string, nodes: number, size: TermSize): string[] {
  const lines = text.replace(/\n$/, "").split("\n");
  const head = nodes > 0 ? 1 : 0;
  return fitLines(lines, size, { head, tail: lines.length - head - nodes, more: moreNodes });
}

/**
 * Decides what to write for each snapshot. The table on a terminal is a full-screen live view (the
 * shared LiveScreen of src/cli/screen.ts, as `brupop demo` draws: alternate screen, drawn in place,
 * fitted to the terminal) redrawn whenever the text changes (relative times tick); anything else (a
 * pipe, JSON, YAML) gets a new document only when the facts change.
 */
export class FrameWriter {
  readonly #format: OutputFormat;
  readonly #write: (text: string) => void;
  readonly #terminal: Terminal | undefined;
  readonly #screen: LiveScreen | undefined;
  #lastKey: string | undefined;
  #last: { status: FleetStatus; now: Date } | undefined;
  #stopped = false;
  frames = 0;

  constructor(format: OutputFormat, write: (text: string) => void, terminal?: Terminal) {
    this.#format = format;
    this.#write = write;
    this.#terminal = format === "table" ? terminal : undefined;
    this.#screen = this.#terminal === undefined ? undefined : new LiveScreen(write);
  }

  /** Returns whether it wrote. */
  push(status: FleetStatus, now: Date): boolean {
    if (this.#stopped) return false;
    if (this.#screen !== undefined && this.#terminal !== undefined) {
      this.#last = { status, now };
      this.#screen.enter();
      const text = renderStatus(status, "table", now, true);
      const wrote = this.#screen.draw(fitStatusTable(text, status.nodes.length, this.#terminal.size()));
      if (wrote) this.frames++;
      return wrote;
    }
    const key = changeKey(status);
    if (key === this.#lastKey) return false;
    this.#lastKey = key;
    const sep = this.frames === 0 || this.#format !== "table" ? "" : "\n";
    this.#write(`${sep}${renderStatus(status, this.#format, now, true)}`);
    this.frames++;
    return true;
  }

  /** Draws the last frame again, fitted to the terminal's new size. */
  resized(): void {
    if (this.#last === undefined) return;
    this.#screen?.invalidate();
    this.push(this.#last.status, this.#last.now);
  }

  /** Leaves the live view (the screen and cursor as they were); writes nothing after. */
  stop(): void {
    this.#stopped = true;
    this.#screen?.leave();
  }
}

export interface WatchDeps {
  rest: KubeApi;
  reader: StatusReader;
  clock: Clock;
  logger: Logger;
}

export interface WatchOptions {
  format: OutputFormat;
  /** stdout is a terminal: the table is a full-screen live view. */
  terminal?: Terminal | undefined;
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
  const { reader, clock } = deps;
  const frames = new FrameWriter(opts.format, opts.write, opts.terminal);
  const first = await reader.snapshot(() => clock.now());
  try {
    frames.push(buildFleetStatus(first), first.now);
    await follow(deps, opts, first, frames);
  } finally {
    frames.stop(); // Ctrl-C or an error: the terminal comes back as it was
  }
}

/** Informers feeding `frames` until `opts.signal` aborts. */
async function follow(
  deps: WatchDeps,
  opts: WatchOptions,
  first: StatusInput,
  frames: FrameWriter,
): Promise<void> {
  const { rest, reader, clock, logger } = deps;

  const ns = reader.namespace;
  const shadows = new Informer<RawShadow>({ rest, path: paths.shadows(ns), logger });
  const nodes = new Informer<RawNode>({ rest, path: paths.nodes(), logger, transform: slimNode });
  // May be forbidden to list/watch for a user who can only get it: then the first read stays in use.
  const state = new Informer<RawConfigMap>({
    rest,
    path: paths.configMaps(ns),
    fieldSelector: `metadata.name=${reader.configMapName}`,
    logger,
  });

  // The controller's blocker verdicts (written on change only); absent: none.
  const blockers = new Informer<RawConfigMap>({
    rest,
    path: paths.configMaps(ns),
    fieldSelector: `metadata.name=${BLOCKERS_CONFIGMAP}`,
    logger,
  });

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  const snapshotFromCaches = async (): Promise<StatusInput> => {
    const shadowList = shadows.list();
    const nodeList = nodes.list();
    const cm = state.synced ? (state.list()[0] ?? null) : undefined;
    const [drain, policy] = await Promise.all([
      reader.readDrain(drainingNodes(shadowList, nodeList)),
      reader.readPolicy(),
    ]);
    return {
      ...first,
      policy,
      now: clock.now(),
      shadows: shadowList,
      nodes: nodeList,
      ...(cm !== undefined && {
        controllerState: cm === null ? null : (cm.data ?? {}),
        controllerStateError: undefined,
      }),
      drain,
      ...(blockers.synced && { blockers: blockers.list()[0]?.data ?? null }),
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

  for (const inf of [shadows, nodes, state, blockers] as Informer<RawShadow | RawNode | RawConfigMap>[]) {
    inf.on(() => soon());
    inf.start();
  }
  const interval = setInterval(render, opts.refreshMs ?? 5_000);
  const offResize = opts.terminal?.onResize(() => frames.resized());
  try {
    await Promise.race([
      Promise.all([shadows.waitForSync(), nodes.waitForSync()]),
      untilAborted(opts.signal),
    ]);
    if (!opts.signal.aborted) render();
    await untilAborted(opts.signal);
  } finally {
    offResize?.();
    clearInterval(interval);
    clearTimeout(timer);
    await Promise.all([shadows.stop(), nodes.stop(), state.stop(), blockers.stop()]);
    await running;
  }
}
