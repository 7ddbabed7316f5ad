/**
 * The CLI's error policy (errors.ts, main.ts): a bad argument to any command, or a library error
 * it causes, is one line `icl-lab: …` on stderr and a non-zero exit, never a stack trace; internal
 * errors say so; `--debug` / ICL_LAB_DEBUG=1 ask for the stack. Each command is run as a real
 * child process of bin/icl-lab.js on a temporary lab, with arguments that fail before any work.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError, debugFromEnv, describeError, isInternalError, withUserErrors } from "./errors.ts";
import { BIN } from "./test-helpers.ts";

const root = mkdtempSync(join(tmpdir(), "icl-lab-cli-errors-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));

const lab = join(root, "lab");
mkdirSync(lab);
// A lab whose database is not SQLite: every command that opens it meets a library error.
const corruptLab = join(root, "corrupt-lab");
mkdirSync(corruptLab);
writeFileSync(join(corruptLab, "lab.db"), "this is not an SQLite database, just a text file of 64 bytes or so\n");
// A regular file where a lab folder should be: creating the lab fails inside the library.
const fileLab = join(root, "not-a-folder");
writeFileSync(fileLab, "");

interface Result {
  code: number | null;
  signal: string | null;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const { ICL_LAB_DEBUG: _, ...rest } = process.env;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      // A command that hangs (a worker waiting for Redis) is killed: the test then fails on the signal.
      { encoding: "utf8", timeout: 60_000, env: { ...rest, ICL_LAB_DIR: lab, ...env } },
      (error, _stdout, stderr) => {
        const e = error as (Error & { code?: number | string; signal?: string | null }) | null;
        resolve({ code: e === null ? 0 : typeof e.code === "number" ? e.code : null, signal: e?.signal ?? null, stderr });
      },
    );
  });
}

// One bad argument per command, chosen to fail before any training or data preparation.
const CASES: Record<string, { args: string[]; message: RegExp }> = {
  corpus: { args: ["corpus", "add", "mine", join(root, "no-such-text"), "--domain", "notes", "--lab", lab], message: /does not exist/ },
  demo: { args: ["demo", "--dry-run", "--lab", fileLab], message: /not a directory|ENOTDIR|EEXIST/ },
  experiment: { args: ["experiment", "no-such-experiment", "--lab", lab], message: /unknown experiment 'no-such-experiment'/ },
  export: { args: ["export", "no-such-run", "--lab", corruptLab], message: /not a database/ },
  measure: { args: ["measure", "icl", "--run", "no-such-run", "--lab", corruptLab], message: /not a database/ },
  report: { args: ["report", "no-such-run", "--lab", corruptLab], message: /not a database/ },
  runs: { args: ["runs", "--lab", corruptLab], message: /not a database/ },
  serve: { args: ["serve", "--port", "99999", "--lab", lab], message: /--port must be an integer/ },
  sweep: { args: ["sweep", join(root, "no-such-spec.yaml"), "--lab", lab], message: /does not exist/ },
  tokenizer: { args: ["tokenizer", "encode", "hello", "--tokenizer", "no-such-kind", "--lab", lab], message: /--tokenizer must be/ },
  train: { args: ["train", "--preset", "no-such-preset", "--lab", lab], message: /unknown preset 'no-such-preset'/ },
  // Nothing listens on port 1: the worker must say so and exit, not wait for Redis forever.
  worker: { args: ["worker", "--queue", "redis://127.0.0.1:1", "--lab", lab], message: /cannot reach Redis/ },
};

function assertOneLine(r: Result, message: RegExp): void {
  assert.equal(r.signal, null, `killed by ${r.signal} (hung?); stderr: ${r.stderr}`);
  assert.notEqual(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /^\s{4}at /m, `a stack trace on stderr:\n${r.stderr}`);
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, `expected one line on stderr, found:\n${r.stderr}`);
  assert.match(lines[0], /^icl-lab: /);
  assert.match(lines[0], message);
}

describe("a bad argument to each command is one line on stderr and a non-zero exit", { concurrency: 2 }, () => {
  test("every command of `icl-lab --help` has a case here", async () => {
    const help = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [BIN, "--help"], { encoding: "utf8" }, (e, out) => (e ? reject(e) : resolve(out))),
    );
    const commands = help
      .slice(help.indexOf("Commands:"))
      .split("\n")
      .map((l) => /^ {2}([a-z][a-z-]*)/.exec(l)?.[1])
      .filter((c): c is string => c !== undefined && c !== "help");
    assert.deepEqual([...commands].sort(), Object.keys(CASES).sort());
  });

  for (const [command, { args, message }] of Object.entries(CASES)) {
    test(`${command}: ${args
      .slice(1)
      .map((a) => (a.startsWith(root) ? "<tmp>" : a))
      .join(" ")}`, async () => {
      assertOneLine(await cli(args), message);
    });
  }
});

test("--debug and ICL_LAB_DEBUG=1 print the library error's stack after its line", async () => {
  for (const r of [await cli(["--debug", "runs", "--lab", corruptLab]), await cli(["runs", "--lab", corruptLab], { ICL_LAB_DEBUG: "1" })]) {
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^icl-lab: file is not a database\n/);
    assert.match(r.stderr, /^\s{4}at /m);
  }
});

test("withUserErrors() turns a library Error into a UserError that keeps it as cause", async () => {
  const original = new Error("sweep spec x.yaml: runs must be an array");
  const e = await withUserErrors(async () => {
    throw original;
  })().catch((x: unknown) => x);
  assert.ok(e instanceof UserError);
  assert.equal(e.message, original.message);
  assert.equal(e.cause, original);
});

test("withUserErrors() passes UserErrors and internal errors through unchanged", async () => {
  for (const thrown of [new UserError("--port must be an integer"), new TypeError("x is undefined"), new RangeError("bad length")]) {
    const e = await withUserErrors(async () => {
      throw thrown;
    })().catch((x: unknown) => x);
    assert.equal(e, thrown);
  }
});

test("withUserErrors() gives a system error with an empty message its code", async () => {
  const system = Object.assign(new AggregateError([], ""), { code: "ECONNREFUSED" });
  const e = await withUserErrors(async () => {
    throw system;
  })().catch((x: unknown) => x);
  assert.ok(e instanceof UserError);
  assert.equal(e.message, "ECONNREFUSED");
});

test("describeError() prints one line for user and library errors, a stack only with debug", () => {
  assert.deepEqual(describeError(new UserError("no run 'x'"), false), { text: "icl-lab: no run 'x'", exitCode: 1 });
  assert.deepEqual(describeError(new Error("corrupt checkpoint"), false), { text: "icl-lab: corrupt checkpoint", exitCode: 1 });
  assert.deepEqual(describeError("a string", false), { text: "icl-lab: a string", exitCode: 1 });
  const debug = describeError(new UserError("no run 'x'", { cause: new Error("inner") }), true).text;
  assert.match(debug, /^icl-lab: no run 'x'\nError: inner\n\s{4}at /);
});

test("describeError() calls a TypeError an internal error, with its stack and how to report it", () => {
  assert.ok(isInternalError(new TypeError("x")));
  assert.ok(!isInternalError(new Error("x")));
  const { text, exitCode } = describeError(new TypeError("Cannot read properties of undefined"), false);
  assert.equal(exitCode, 1);
  assert.match(text, /^icl-lab: internal error: TypeError: Cannot read properties of undefined\n\s{4}at /);
  assert.match(text, /please report it/);
});

test("ICL_LAB_DEBUG asks for stacks unless empty, 0 or false", () => {
  assert.equal(debugFromEnv({ ICL_LAB_DEBUG: "1" }), true);
  for (const v of [undefined, "", "0", "false"]) assert.equal(debugFromEnv({ ICL_LAB_DEBUG: v }), false);
});
