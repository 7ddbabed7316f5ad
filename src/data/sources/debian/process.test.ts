import { test } from "node:test";
import assert from "node:assert/strict";
import { mapPool, run, which } from "./process.ts";

test("mapPool() keeps at most `limit` calls in flight and yields results in input order", async () => {
  let inFlight = 0;
  let most = 0;
  const slow = async (ms: number) => {
    most = Math.max(most, ++inFlight);
    await new Promise((r) => setTimeout(r, ms));
    inFlight--;
    return ms;
  };
  const out: number[] = [];
  for await (const r of mapPool([30, 5, 20, 1, 10], 2, slow)) out.push(r);
  assert.deepEqual(out, [30, 5, 20, 1, 10]);
  assert.equal(most, 2);
});

test("run() resolves with stdout bytes and rejects with the command, exit status and stderr", async () => {
  assert.equal((await run("sh", ["-c", "cat; printf ' out'"], { input: Buffer.from("in") })).toString(), "in out");
  await assert.rejects(run("sh", ["-c", "echo oops >&2; exit 3"]), /^Error: sh -c echo oops >&2; exit 3 failed \(exit 3\): oops$/);
  await assert.rejects(run("icl-lab-no-such-tool", []), /could not run icl-lab-no-such-tool: .*ENOENT/);
});

test("which() finds an executable on the given PATH only", () => {
  assert.equal(which("sh", { PATH: "/nonexistent" }), null);
  assert.ok(which("sh")?.endsWith("/sh"));
});
