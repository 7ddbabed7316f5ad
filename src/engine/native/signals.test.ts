/**
 * Regression test: a signal arriving while a native kernel runs must not corrupt the heap.
 * oneDNN 2.6's JIT sgemm points rsp into a heap workspace (uxlfoundation/oneDNN#4845), so before
 * addon.cc held signals back during kernels, `node --cpu-prof` (SIGPROF every 100 µs) aborted this
 * child with "corrupted size vs. prev_size while consolidating" within a few products.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadNativeKernels } from "./index.ts";
import { skipOrFail } from "../../util/test-env.ts";

test("kernels survive a storm of signals (node --cpu-prof, SIGPROF every 100 µs)", (t) => {
  const loaded = loadNativeKernels();
  if (!loaded.ok) {
    skipOrFail(t, loaded.reason);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "icl-lab-signals-"));
  try {
    const script = fileURLToPath(new URL("./fixtures/signal-storm.ts", import.meta.url));
    for (const threads of ["1", "2"]) {
      const r = spawnSync(process.execPath, ["--cpu-prof", "--cpu-prof-interval", "100", "--cpu-prof-dir", dir, "--import", "tsx", script], {
        encoding: "utf8",
        env: { ...process.env, ICL_LAB_THREADS: threads, OMP_NUM_THREADS: threads },
        timeout: 120_000,
      });
      assert.equal(r.status, 0, `${threads} thread(s): exit ${r.status} signal ${r.signal}: ${r.stderr.slice(-400)}`);
      assert.match(r.stdout, /signal-storm: ok/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
