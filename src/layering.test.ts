/**
 * The layering of src/: every import points from a higher layer to a lower one (or stays inside its
 * layer), and no file reaches itself through imports. Runtime and type-only imports both count: a
 * type cycle still ties modules together for the reader and the compiler. Imports are read with a
 * regular expression over the source (static `import … from`, `export … from`, side-effect
 * `import "…"` and dynamic `import("…")`), relative specifiers only; tests are left out, because a
 * test may reach across layers to build its inputs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = dirname(fileURLToPath(import.meta.url));

/**
 * The layers, lowest first: a file may import from its own layer and the layers before it. The
 * issue's arrows (engine ← data, store ← model ← measure ← train, report ← serve,
 * sweep ← experiments ← cli) fix most of the order; the rest follows the code:
 * - data and store are siblings above engine (store comes after data only to make the list linear;
 *   store imports neither data nor model).
 * - report reads stored results (store) and measurements (measure) and never trains, so it could
 *   sit below train; it is placed right above train so that sweep (which runs training jobs and
 *   is used by experiments) and experiments (which print the report's tables) come after it.
 * - serve (the dashboard) reads the store and the report's readers and charts but neither sweeps
 *   nor experiments; it sits above them only because the list is linear. cli wires everything.
 * The top-level folder names the layer; serve/web (the page) belongs to serve.
 */
const LAYERS = ["util", "engine", "data", "store", "model", "measure", "train", "report", "sweep", "experiments", "serve", "cli"] as const;

/**
 * Imports that break the rule and are allowed for now, each with the reason; `from` and `to` are
 * paths relative to src/. An entry that no longer matches an import fails the test, so the list only
 * shrinks.
 */
const ALLOWED_UPWARD: readonly { from: string; to: string; why: string }[] = [];

/**
 * Import cycles allowed for now: each entry is the files of one cycle (a strongly connected
 * component of the import graph, paths relative to src/, sorted), with the reason. Like the list
 * above, an entry that no longer matches a cycle fails the test.
 */
const ALLOWED_CYCLES: readonly { files: readonly string[]; why: string }[] = [];

/** Files of src/ that the rule covers: TypeScript sources, tests and declaration files left out. */
function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith(".ts") && !name.endsWith(".test.ts") && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Source text without comments, so that an example in a doc comment is not read as an import. */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

/** The relative specifiers a file imports (static, re-export, side-effect and dynamic). */
export function importSpecifiers(text: string): string[] {
  const code = stripComments(text);
  const out: string[] = [];
  const patterns = [
    /(?:^|[\s;}])(?:import|export)\s+(?:type\s+)?[^;'"`]*?\bfrom\s*["']([^"']+)["']/g,
    /(?:^|[\s;])import\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) out.push(m[1]!);
  return out.filter((s) => s.startsWith("."));
}

/** The file a relative specifier names (`./x.ts`, `./x.js`, `./x` or `./x/index.ts`), or undefined. */
function resolveSpecifier(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec);
  const candidates = [base, base.replace(/\.js$/, ".ts"), `${base}.ts`, join(base, "index.ts")];
  return candidates.find((c) => c.endsWith(".ts") && existsSync(c) && statSync(c).isFile());
}

const rel = (p: string) => relative(SRC, p).split(sep).join("/");

/** The layer of a file of src/: the index in LAYERS of its top-level folder. */
function layerOf(file: string): number {
  const top = rel(file).split("/")[0]!;
  const i = (LAYERS as readonly string[]).indexOf(top);
  if (i < 0) throw new Error(`layering: src/${rel(file)} is in no layer (expected one of ${LAYERS.join(", ")})`);
  return i;
}

/** The import graph of src/ (files relative to src/), built once for both tests. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC).sort()) {
    const targets = new Set<string>();
    for (const spec of importSpecifiers(readFileSync(file, "utf8"))) {
      const target = resolveSpecifier(file, spec);
      if (target === undefined) throw new Error(`layering: src/${rel(file)} imports "${spec}", which is no file`);
      if (!target.endsWith(".test.ts")) targets.add(target);
    }
    graph.set(rel(file), [...targets].map(rel).sort());
  }
  return graph;
}

/** The cycles of a graph: one per strongly connected component of two or more files, or a self-import. */
function cycles(graph: Map<string, string[]>): string[][] {
  // Tarjan's algorithm, iterative so that deep import chains cannot overflow the stack.
  let next = 0;
  const index = new Map<string, number>(),
    low = new Map<string, number>();
  const onStack = new Set<string>(),
    stack: string[] = [];
  const found: string[][] = [];
  for (const root of graph.keys()) {
    if (index.has(root)) continue;
    const work: { node: string; edge: number }[] = [{ node: root, edge: 0 }];
    index.set(root, next), low.set(root, next++), stack.push(root), onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const edges = graph.get(frame.node) ?? [];
      if (frame.edge < edges.length) {
        const to = edges[frame.edge++]!;
        if (!index.has(to)) {
          index.set(to, next), low.set(to, next++), stack.push(to), onStack.add(to);
          work.push({ node: to, edge: 0 });
        } else if (onStack.has(to)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]!.node;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.node)!));
      }
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let n: string;
        do {
          n = stack.pop()!;
          onStack.delete(n);
          component.push(n);
        } while (n !== frame.node);
        if (component.length > 1 || edges.includes(frame.node)) found.push(component.sort());
      }
    }
  }
  return found;
}

test("importSpecifiers() reads static, type-only, re-export, side-effect and dynamic imports", () => {
  const text = [
    `import { a } from "./a.ts";`,
    `import type {`,
    `  B,`,
    `} from "../b.ts";`,
    `export { c } from "./c.ts";`,
    `export * from "./d.ts";`,
    `import "./e.ts";`,
    `const f = await import("./f.ts");`,
    `import { g } from "node:fs";`,
    `// import { h } from "./h.ts";`,
    `/** import { i } from "./i.ts"; */`,
  ].join("\n");
  assert.deepEqual(importSpecifiers(text).sort(), ["../b.ts", "./a.ts", "./c.ts", "./d.ts", "./e.ts", "./f.ts"]);
});

test("cycles() finds each cycle once, self-imports included, and no acyclic chain", () => {
  const graph = new Map([
    ["a", ["b"]],
    ["b", ["c"]],
    ["c", ["a", "d"]],
    ["d", []],
    ["e", ["e"]],
    ["f", ["d"]],
  ]);
  assert.deepEqual(cycles(graph), [["a", "b", "c"], ["e"]]);
});

test("no file of src/ imports from a higher layer", () => {
  const graph = importGraph();
  const upward: string[] = [];
  const allowedSeen = new Set<number>();
  for (const [from, targets] of graph) {
    for (const to of targets) {
      if (layerOf(join(SRC, to)) <= layerOf(join(SRC, from))) continue;
      const allowed = ALLOWED_UPWARD.findIndex((a) => a.from === from && a.to === to);
      if (allowed >= 0) allowedSeen.add(allowed);
      else upward.push(`${from} → ${to}`);
    }
  }
  assert.deepEqual(upward, [], `upward imports (layers, lowest first: ${LAYERS.join(" < ")})`);
  const stale = ALLOWED_UPWARD.filter((_, i) => !allowedSeen.has(i)).map((a) => `${a.from} → ${a.to}`);
  assert.deepEqual(stale, [], "allow-list entries that match no import (remove them)");
});

test("src/ has no import cycle (runtime or type-only)", () => {
  const key = (files: readonly string[]) => [...files].sort().join(" ↔ ");
  const found = cycles(importGraph()).map(key).sort();
  const allowed = new Set(ALLOWED_CYCLES.map((a) => key(a.files)));
  assert.deepEqual(
    found.filter((c) => !allowed.has(c)),
    [],
    "import cycles",
  );
  const stale = [...allowed].filter((c) => !found.includes(c));
  assert.deepEqual(stale, [], "allowed cycles that no longer exist (remove them)");
});
