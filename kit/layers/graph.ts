// The import graph of src/ and the layer rules it must keep (docs/architecture.md).
// Pure over a map of file → source text, so the rules are tested on small tables; `readTree`
// is the one I/O edge.
import { readdirSync, readFileSync } from "node:fs";
import { join, posix, relative } from "node:path";
import ts from "typescript";

/**
 * Layers of src/, lowest first (docs/architecture.md). A product module may import its own folder
 * and any lower layer; never a folder of its own layer or above, but for the ALLOWED edges.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ["src"], // src/*.ts: clock, errors, log
  ["model"],
  ["http", "runtime"],
  ["k8s", "bottlerocket"],
  ["config"],
  ["controller", "agent", "apiserver"],
  ["status"],
  ["cli"],
];

/**
 * Inside src/controller/, the folders of its pipeline, lowest first (docs/architecture.md): the pure
 * decisions, the view of the fleet they are fed, the stages that act on them, and the running
 * component. A controller module imports its own folder or a lower one: decide/ never imports
 * view/, act/ or run/; act/ never imports run/.
 */
export const CONTROLLER_STAGES: readonly string[] = ["decide", "view", "act", "run"];

/** Imports across one layer that are part of the design, each with its reason. */
export const ALLOWED: readonly { from: string; to: string; why: string }[] = [
  {
    from: "agent",
    to: "src/apiserver/client.ts",
    why: "the apiserver's client is the agent's one way to it",
  },
];

/** Folders above src/: they may import src/; src's product modules never import them. */
export const ABOVE_SRC: readonly string[] = ["kit", "test", "bench", "tools"];

/** Test files in src/ may use the test helpers (test/kit, ADR 0007) and the kit (kit/), not bench/ or tools/. */
const TEST_MAY_IMPORT = ["test/kit/", "kit/"];

export interface Edge {
  readonly from: string;
  readonly to: string;
}

export interface Violation extends Edge {
  readonly why: string;
}

const isTest = (file: string): boolean => file.endsWith(".test.ts");

/** "src/k8s/api.ts" → "k8s"; "src/log.ts" → "src"; outside src → undefined. */
export function folderOf(file: string): string | undefined {
  const parts = file.split("/");
  if (parts[0] !== "src") return undefined;
  return parts.length === 2 ? "src" : parts[1];
}

/** "src/controller/act/stages.ts" → "act"; a file outside src/controller/ → undefined. */
export function controllerStageOf(file: string): string | undefined {
  const parts = file.split("/");
  if (parts[0] !== "src" || parts[1] !== "controller") return undefined;
  const stage = parts.length === 4 ? parts[2] : undefined;
  if (stage === undefined || !CONTROLLER_STAGES.includes(stage)) {
    throw new Error(`${file} is in no stage of src/controller (CONTROLLER_STAGES in kit/layers/graph.ts)`);
  }
  return stage;
}

/** Within src/controller/: an import from a lower pipeline stage to a higher one. */
function wrongStage(edge: Edge): Violation | undefined {
  const [from, to] = [controllerStageOf(edge.from), controllerStageOf(edge.to)];
  if (from === undefined || to === undefined) return undefined;
  if (CONTROLLER_STAGES.indexOf(to) <= CONTROLLER_STAGES.indexOf(from)) return undefined;
  return { ...edge, why: `controller/${from} imports controller/${to} (a later stage)` };
}

export function layerOf(folder: string): number {
  const index = LAYERS.findIndex((layer) => layer.includes(folder));
  if (index < 0) throw new Error(`src/${folder} is in no layer of kit/layers/graph.ts: add it to LAYERS`);
  return index;
}

/** Relative module specifiers of one file (static, re-exports, dynamic `import("…")`, type-only). */
export function specifiersOf(text: string): string[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((ref) => ref.fileName)
    .filter((name) => name.startsWith("."));
}

/** Resolves "./x.js" from "src/a/b.ts" to "src/a/x.ts" (NodeNext: explicit extensions). */
export function resolve(from: string, specifier: string): string {
  const joined = posix.normalize(posix.join(posix.dirname(from), specifier));
  return joined.replace(/\.js$/, ".ts");
}

export function edgesOf(files: ReadonlyMap<string, string>): Edge[] {
  const edges: Edge[] = [];
  for (const [from, text] of files) {
    for (const specifier of specifiersOf(text)) edges.push({ from, to: resolve(from, specifier) });
  }
  return edges;
}

/** An import that points the wrong way, or undefined when it is allowed. */
export function wrongWay(edge: Edge): Violation | undefined {
  const fromFolder = folderOf(edge.from);
  if (fromFolder === undefined) return undefined; // kit/test/bench/tools may import anything
  const toFolder = folderOf(edge.to);
  if (toFolder === undefined) {
    if (isTest(edge.from) && TEST_MAY_IMPORT.some((prefix) => edge.to.startsWith(prefix))) return undefined;
    return { ...edge, why: `src imports ${edge.to.split("/")[0]}/` };
  }
  // A test may import any module of src/ (the layers order the product, not its tests).
  if (isTest(edge.from)) return undefined;
  if (toFolder === fromFolder) return fromFolder === "controller" ? wrongStage(edge) : undefined;
  if (ALLOWED.some((a) => a.from === fromFolder && a.to === edge.to)) return undefined;
  const [fromLayer, toLayer] = [layerOf(fromFolder), layerOf(toFolder)];
  if (toLayer < fromLayer) return undefined;
  const where = toLayer === fromLayer ? "its own layer" : "a higher layer";
  return { ...edge, why: `${fromFolder} imports ${toFolder} (${where})` };
}

/** Import cycles among src's product modules (tests left out), each as its strongly connected set. */
export function cyclesOf(edges: readonly Edge[]): string[][] {
  const product = (file: string): boolean => file.startsWith("src/") && !isTest(file);
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) {
    if (!product(from) || !product(to)) continue;
    next.set(from, [...(next.get(from) ?? []), to]);
    if (!next.has(to)) next.set(to, []);
  }
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const lower = (node: string, value: number | undefined): void => {
    low.set(node, Math.min(low.get(node) ?? 0, value ?? 0));
  };
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node) ?? 0);
    stack.push(node);
    onStack.add(node);
    for (const to of next.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        lower(node, low.get(to));
      } else if (onStack.has(to)) lower(node, index.get(to));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
      onStack.delete(top);
      component.push(top);
      if (top === node) break;
    }
    const selfLoop = (next.get(node) ?? []).includes(node);
    if (component.length > 1 || selfLoop) cycles.push(component.sort());
  };
  for (const node of [...next.keys()].sort()) if (!index.has(node)) visit(node);
  return cycles;
}

/** Cycles among src's folders (through product modules), each as its strongly connected set. */
export function folderCyclesOf(edges: readonly Edge[]): string[][] {
  const folderEdges: Edge[] = [];
  for (const { from, to } of edges) {
    const [a, b] = [folderOf(from), folderOf(to)];
    if (a === undefined || b === undefined || a === b || isTest(from)) continue;
    folderEdges.push({ from: `src/${a}`, to: `src/${b}` });
  }
  return cyclesOf(folderEdges);
}

/** Every .ts file under src/, keyed by its path from the repository root. */
export function readTree(root: string, dir = "src"): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ts")) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(root, path).split("\\").join("/"), readFileSync(path, "utf8"));
  }
  return files;
}

export interface Report {
  readonly wrongWay: Violation[];
  readonly cycles: string[][];
  readonly folderCycles: string[][];
}

export function check(files: ReadonlyMap<string, string>): Report {
  const edges = edgesOf(files);
  return {
    wrongWay: edges.map(wrongWay).filter((v): v is Violation => v !== undefined),
    cycles: cyclesOf(edges),
    folderCycles: folderCyclesOf(edges),
  };
}

export function describe(report: Report): string {
  return [
    `${report.wrongWay.length} wrong-way imports, ${report.cycles.length} module cycles, ${report.folderCycles.length} folder cycles`,
    ...report.wrongWay.map((v) => `  ${v.from} → ${v.to}: ${v.why}`),
    ...report.cycles.map((c) => `  module cycle: ${c.join(" ↔ ")}`),
    ...report.folderCycles.map((c) => `  folder cycle: ${c.join(" ↔ ")}`),
  ].join("\n");
}
