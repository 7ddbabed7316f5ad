/**
 * Size limits that keep every module and function readable in one sitting (issue 17): no TypeScript
 * file of src/ over 450 lines and no function (declaration, method, function expression or arrow
 * function, tests' callbacks included) over 120 lines, except the entries of the allow-lists below,
 * each with its reason. Functions are found with the TypeScript compiler's parser; a function's
 * length runs from its first line to its last, nested functions included. The C++ kernels
 * (src/engine/native/*.cc) are not TypeScript and not counted: kernel code is exempt by the issue.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const SRC = dirname(fileURLToPath(import.meta.url));
const MAX_FILE_LINES = 450;
const MAX_FUNCTION_LINES = 120;

/**
 * Files allowed over MAX_FILE_LINES (paths relative to src/). An entry whose file is no longer over
 * the limit fails the test, so the list only shrinks.
 */
const ALLOWED_LONG_FILES: readonly { file: string; why: string }[] = [
  {
    file: "engine/native/native.test.ts",
    why: "kernel tests: one suite per native kernel against the reference kernels; under the engine's bf16 rewrite, split with it",
  },
];

/**
 * Functions allowed over MAX_FUNCTION_LINES, as `path:name` (the name `functionName` prints). As
 * above, an entry that matches no long function fails the test.
 */
const ALLOWED_LONG_FUNCTIONS: readonly { fn: string; why: string }[] = [];

const rel = (p: string) => relative(SRC, p).split(sep).join("/");

/** The TypeScript files of src/, declaration files left out. */
function tsFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) tsFiles(p, out);
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** A readable name for a function node: its own name, the variable or property it is assigned to, or the call it is passed to. */
function functionName(node: ts.FunctionLikeDeclaration, sf: ts.SourceFile): string {
  if (node.name) return node.name.getText(sf);
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) return parent.name.getText(sf);
  if (ts.isCallExpression(parent)) {
    const first = parent.arguments[0];
    const label = first && ts.isStringLiteralLike(first) ? first.text : "";
    return `${parent.expression.getText(sf)}(${label})`;
  }
  return "<anonymous>";
}

/** Every function of a source text longer than `maxLines` lines, as `name` with its first line and length. */
export function longFunctions(fileName: string, text: string, maxLines: number): { name: string; line: number; lines: number }[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: { name: string; line: number; lines: number }[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body !== undefined) {
      const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      if (lines > maxLines) found.push({ name: functionName(node as ts.FunctionLikeDeclaration, sf), line: first + 1, lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** The number of lines of a text, as `wc -l` counts them for a file that ends with a newline. */
function lineCount(text: string): number {
  return text.endsWith("\n") ? text.split("\n").length - 1 : text.split("\n").length;
}

test("longFunctions() finds long declarations, arrows, methods and callbacks, nested ones included", () => {
  const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join("\n");
  const text = [
    `export function long() {\n${body(5)}\n}`,
    `function short() {\n${body(1)}\n}`,
    `const arrow = () => {\n${body(5)}\n};`,
    `class C {\n  method() {\n${body(5)}\n  }\n}`,
    `test("a case", () => {\n  const inner = function () {\n${body(5)}\n  };\n});`,
  ].join("\n");
  const found = longFunctions("x.ts", text, 6).map((f) => `${f.name}:${f.lines}`);
  assert.deepEqual(found, ["long:7", "arrow:7", "method:7", "test(a case):9", "inner:7"]);
});

test(`no file of src/ is over ${MAX_FILE_LINES} lines (allow-list aside)`, () => {
  const long = new Map<string, number>();
  for (const file of tsFiles(SRC)) {
    const n = lineCount(readFileSync(file, "utf8"));
    if (n > MAX_FILE_LINES) long.set(rel(file), n);
  }
  const allowed = new Set(ALLOWED_LONG_FILES.map((a) => a.file));
  const over = [...long].filter(([f]) => !allowed.has(f)).map(([f, n]) => `${f}: ${n} lines`);
  assert.deepEqual(over, [], `files over ${MAX_FILE_LINES} lines: split them by what they do`);
  const stale = ALLOWED_LONG_FILES.filter((a) => !long.has(a.file)).map((a) => a.file);
  assert.deepEqual(stale, [], "allow-list entries no longer over the limit (remove them)");
});

test(`no function in src/ is over ${MAX_FUNCTION_LINES} lines (allow-list aside)`, () => {
  const long = new Map<string, string>();
  for (const file of tsFiles(SRC)) {
    for (const f of longFunctions(file, readFileSync(file, "utf8"), MAX_FUNCTION_LINES)) {
      long.set(`${rel(file)}:${f.name}`, `${rel(file)}:${f.line} ${f.name} (${f.lines} lines)`);
    }
  }
  const allowed = new Set(ALLOWED_LONG_FUNCTIONS.map((a) => a.fn));
  const over = [...long].filter(([k]) => !allowed.has(k)).map(([, v]) => v);
  assert.deepEqual(over, [], `functions over ${MAX_FUNCTION_LINES} lines: give their parts names`);
  const stale = ALLOWED_LONG_FUNCTIONS.filter((a) => !long.has(a.fn)).map((a) => a.fn);
  assert.deepEqual(stale, [], "allow-list entries that match no long function (remove them)");
});
