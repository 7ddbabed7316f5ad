/**
 * The dashboard's server without a browser: the JSON API over a fixture lab (runs list with
 * stale, failed and corrupt runs, one run's data, series, attention, comparison), 404s for unknown
 * runs, files only from inside the lab folder, no write methods, loopback Host only, live events
 * after a checkpoint, and the `icl-lab serve` command.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { request } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { saveCheckpoint } from "../model/checkpoint.ts";
import { parseModelConfig } from "../model/config.ts";
import { buildModel } from "../model/model.ts";
import { RunStore } from "../store/run-store.ts";
import { dashboardUnderTest } from "./fixtures/dashboard-lab.ts";
import { buildDashboard, startDashboard } from "./server.ts";
import type { AttentionView, CompareView, RunEvent, RunsResponse, RunView } from "./types.ts";

const t = dashboardUnderTest("icl-serve-");

async function get<T>(url: string, status = 200): Promise<T> {
  const res = await t.app.inject({ method: "GET", url });
  assert.equal(res.statusCode, status, `${url}: ${res.body.slice(0, 300)}`);
  assert.match(String(res.headers["content-type"]), /application\/json/, url);
  return res.json() as T;
}

test("the runs list shows every run with its status, model, tokens and last ICL score", async () => {
  const body = await get<RunsResponse>("/api/runs");
  assert.equal(body.lab, t.lab.lab);
  assert.deepEqual(body.experiments, ["fixture-exp", "other"]);
  const byId = new Map(body.runs.map((r) => [r.id, r]));
  assert.deepEqual([...byId.keys()].sort(), ["bad-config", "bad-record", "broke", "fx-1l", "fx-2l", "fx-lstm", "gone"]);
  const two = byId.get("fx-2l")!;
  assert.equal(two.status, "finished");
  assert.equal(two.corrupt, null);
  assert.match(two.model, /^attn-only · 2 layers · d_model 16 · 2 heads × 8/);
  assert.equal(two.data, "brown");
  assert.equal(two.tokens, t.lab.runs.twoLayer.icl.at(-1)!.tokens);
  assert.equal(two.checkpoints, 1);
  const last = t.lab.runs.twoLayer.icl.at(-1)!;
  assert.deepEqual(two.icl, { tokens: last.tokens, score: last.score, lo: last.lo, hi: last.hi });
  assert.equal(byId.get("gone")!.status, "stale");
  assert.equal(byId.get("broke")!.status, "failed");
  assert.equal(byId.get("broke")!.error, "loss became NaN at step 7");
});

test("a corrupted run record shows as corrupt without breaking the list or its page", async () => {
  const rows = new Map((await get<RunsResponse>("/api/runs")).runs.map((r) => [r.id, r]));
  assert.match(rows.get("bad-config")!.corrupt!, /config is not valid JSON/);
  assert.equal(rows.get("bad-config")!.icl!.score, -0.1, "what can be read is still shown");
  assert.equal(rows.get("bad-record")!.corrupt, null, "the list does not read records");

  const badConfig = await get<RunView>("/api/runs/bad-config");
  assert.match(badConfig.row.corrupt!, /config is not valid JSON/);
  const badRecord = await get<RunView>("/api/runs/bad-record");
  assert.match(badRecord.row.corrupt!, /stored results cannot be read/);
  assert.deepEqual(badRecord.heads, []);
  const record = await t.app.inject({ url: "/api/runs/bad-record/records/heads.heads" });
  assert.equal(record.statusCode, 409);
  assert.match(record.json().error, /corrupt/);
});

test("the experiment filter lists only that experiment's runs", async () => {
  const body = await get<RunsResponse>("/api/runs?experiment=other");
  assert.deepEqual(body.runs.map((r) => r.id).sort(), ["broke", "gone"]);
  assert.deepEqual(body.experiments, ["fixture-exp", "other"]);
});

test("one run's data: series, the detected phase change and loss bump, head scores, ablation, checkpoints", async () => {
  const v = await get<RunView>("/api/runs/fx-2l");
  assert.equal(v.label, "fx-2l");
  assert.equal(v.icl.length, 25);
  assert.equal(v.trainLoss.length, 25);
  assert.equal(v.phase.status, "found");
  if (v.phase.status === "found") assert.ok(v.phase.start < 3e5 && v.phase.end > 3e5, `window ${v.phase.start}–${v.phase.end} holds 300k`);
  assert.equal(v.bump.status, "found");
  assert.equal(v.positionLoss.length, 25);
  assert.equal(v.positionLoss[0].meanLoss.length, 64);
  assert.equal(v.heads.length, 25);
  assert.deepEqual(v.bestHead && [v.bestHead.layer, v.bestHead.head], [1, 0]);
  assert.equal(v.ablation!.heads.length, 4);
  assert.equal(v.tasks!.tasks.length, 2);
  assert.deepEqual(
    v.checkpoints.map((c) => c.tokens),
    [t.lab.runs.twoLayer.icl.at(-1)!.tokens],
  );
  assert.equal(v.hasAttention, true);
  const lstm = await get<RunView>("/api/runs/fx-lstm");
  assert.equal(lstm.hasAttention, false);
  assert.equal(lstm.phase.status, "none");
});

test("series, vectors, records, checkpoints and the summary of a run", async () => {
  assert.ok((await get<string[]>("/api/runs/fx-2l/metrics")).includes("icl.score"));
  const icl = await get<Array<{ tokens: number; value: number }>>("/api/runs/fx-2l/metrics/icl.score");
  assert.deepEqual(
    icl,
    t.lab.runs.twoLayer.icl.map((c) => ({ tokens: c.tokens, value: c.score })),
  );
  assert.ok((await get<string[]>("/api/runs/fx-2l/vectors")).includes("positionLoss.meanLoss"));
  const vec = await get<Array<{ tokens: number; shape: number[]; data: number[] }>>("/api/runs/fx-2l/vectors/positionLoss.meanLoss");
  assert.deepEqual(vec[0].shape, [64]);
  assert.equal(vec[0].data.length, 64);
  const rec = await get<Array<{ tokens: number; value: unknown }>>("/api/runs/fx-2l/records/ablation.heads");
  assert.equal((rec[0].value as unknown[]).length, 4);
  assert.equal((await get<unknown[]>("/api/runs/fx-2l/checkpoints")).length, 1);
  const summary = await get<{ status: string; bestHead: { layer: number; head: number } }>("/api/runs/fx-2l/summary");
  assert.equal(summary.status, "finished");
  assert.deepEqual([summary.bestHead.layer, summary.bestHead.head], [1, 0]);
});

test("an unknown run, metric, vector, record or checkpoint is a 404 with a JSON error", async () => {
  for (const url of [
    "/api/runs/nope",
    "/api/runs/nope/summary",
    "/api/runs/nope/metrics/icl.score",
    "/api/runs/nope/attention",
    "/api/runs/..%2F..%2Fetc",
    "/api/runs/fx-2l/metrics/nope",
    "/api/runs/fx-2l/vectors/nope",
    "/api/runs/fx-2l/records/nope",
    "/api/runs/fx-2l/attention?checkpoint=12345",
    "/api/compare?runs=fx-2l,nope",
    "/api/compare?experiment=nope",
    "/api/nothing",
    "/nothing",
  ]) {
    const body = await get<{ error: string; statusCode: number }>(url, 404);
    assert.equal(body.statusCode, 404);
    assert.ok(body.error.length > 0, url);
  }
  assert.match((await get<{ error: string }>("/api/runs/nope", 404)).error, /no run 'nope'/);
  assert.match((await get<{ error: string }>("/api/runs/fx-2l/attention?checkpoint=12345", 404)).error, /no checkpoint at 12345 tokens/);
});

test("malformed queries are 400s that say what was expected", async () => {
  assert.match((await get<{ error: string }>("/api/runs/fx-2l/attention?length=abc", 400)).error, /'length' must be an integer/);
  assert.match((await get<{ error: string }>("/api/compare", 400)).error, /give 'runs'/);
  assert.match((await get<{ error: string }>("/api/runs/fx-lstm/attention", 400)).error, /lstm model: it has no attention heads/);
  assert.match((await get<{ error: string }>("/api/runs/fx-1l/attention", 404)).error, /no checkpoint file/);
});

test("attention: every head's pattern on a repeated random sequence, the stored induction head highlighted", async () => {
  const a = await get<AttentionView>("/api/runs/fx-2l/attention?length=10&seed=3");
  assert.equal(a.source, "repeated");
  assert.equal(a.tokens.length, 21, "BOS + 10 tokens twice");
  assert.equal(a.labels[0], "⟨bos⟩");
  assert.deepEqual(a.tokens.slice(1, 11), a.tokens.slice(11, 21));
  assert.equal(a.nLayers, 2);
  assert.equal(a.nHeads, 2);
  for (const layer of a.patterns) {
    for (const head of layer) {
      assert.equal(head.length, 21);
      head.forEach((row, q) => {
        assert.equal(row.length, q + 1, "causal rows");
        const sum = row.reduce((s, x) => s + x, 0);
        assert.ok(Math.abs(sum - 1) < 2e-3, `row ${q} sums to ${sum}`);
      });
    }
  }
  // Induction targets: from the second copy's token i to the token after its first occurrence.
  assert.equal(a.targets.length, 10);
  assert.deepEqual(a.targets[0], { query: 11, key: 2 });
  assert.ok(a.sequenceScores.flat().every((s) => s !== null && s >= 0 && s <= 1));
  assert.deepEqual(a.inductionHeads, ["L1H0"], "the stored induction score (0.8) marks L1H0");
  assert.equal(a.stored!.tokens, a.checkpoint);
  // The fixture run stored no measurement inputs (as runs trained before them): no pool to draw from, and the view says so.
  assert.deepEqual([a.pool, a.seed], ["all", 3]);
  assert.match(a.notes.join(" "), /no stored measurement inputs .* not from its head scores' pool/);
  // Same seed, same sequence.
  assert.deepEqual((await get<AttentionView>("/api/runs/fx-2l/attention?length=10&seed=3")).tokens, a.tokens);
  // Text needs a tokenizer whose vocabulary fits the model: the fixture's byte tokenizer (257) does not fit dVocab 24.
  assert.match((await get<{ error: string }>("/api/runs/fx-2l/attention?text=hello", 409)).error, /no usable tokenizer/);
});

test("attention on a text: encoded with the run's tokenizer, shown as text, cut to the context", async () => {
  // A byte-level run (dVocab 257) with a real checkpoint of a tiny model.
  const model = { kind: "attn-only", nLayers: 1, dModel: 8, nHeads: 2, dHead: 4, nCtx: 24, dVocab: 257 };
  const store = RunStore.open(t.lab.lab);
  try {
    store.createRun({ id: "bytes", experiment: "text", kind: "attn-only", config: { name: "bytes", model, data: { tokenizer: { kind: "byte" } } } });
    const m = buildModel(parseModelConfig(model), 1);
    const params: Record<string, { data: Float32Array; shape: number[] }> = {};
    for (const [name, p] of m.params) params[name] = { data: p.data as Float32Array, shape: [...p.shape] };
    const saved = saveCheckpoint(join(store.runDir("bytes"), "checkpoints"), 640, { params, extra: { step: 1 } });
    store.addCheckpoint("bytes", { tokens: 640, step: 1, path: saved.path, sha256: saved.sha256 });
    store.setStatus("bytes", "finished");
  } finally {
    store.close();
  }
  const a = await get<AttentionView>(`/api/runs/bytes/attention?text=${encodeURIComponent("ab c\nab")}`);
  assert.equal(a.source, "text");
  assert.deepEqual(a.labels, ["a", "b", "·", "c", "↵", "a", "b"]);
  assert.deepEqual(a.tokens, [97, 98, 32, 99, 10, 97, 98]);
  // The second "a" (5) repeats the first (0): an induction head looks at the "b" after it (1); likewise "b" (6) → 2.
  assert.deepEqual(a.targets, [
    { query: 5, key: 1 },
    { query: 6, key: 2 },
  ]);
  assert.equal(a.stored, null, "the run stored no head scores");
  assert.deepEqual([a.pool, a.seed, a.notes], [null, null, []], "a text needs no pool");
  const long = await get<AttentionView>(`/api/runs/bytes/attention?text=${"x".repeat(100)}`);
  assert.equal(long.tokens.length, 24);
  assert.match(long.notes.join(" "), /the text has 100 tokens; the first 24 are shown/);
});

test("a lab that does not exist yet reads as empty and is not created", async () => {
  const missing = join(t.dir, "not-yet");
  const d = await buildDashboard({ lab: missing });
  try {
    const res = await d.app.inject({ url: "/api/runs" });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json().runs, []);
    assert.equal((await d.app.inject({ url: "/api/runs/fx-2l" })).statusCode, 404);
    assert.equal(existsSync(missing), false);
  } finally {
    await d.app.close();
  }
});

test("a run page links the run's HTML report when the lab holds one", async () => {
  assert.equal((await get<RunView>("/api/runs/fx-2l")).report, "/files/reports/fx-2l/report.html");
  assert.equal((await get<RunView>("/api/runs/fx-1l")).report, null);
});

test("compare: the ICL curves of several runs with their labels, windows and the Shin-style table", async () => {
  const v = await get<CompareView>("/api/compare?runs=fx-2l,fx-1l,fx-lstm");
  assert.deepEqual(
    v.runs.map((r) => r.label),
    ["fx-2l", "fx-1l", "fx-lstm"],
  );
  assert.equal(v.icl.length, 75);
  assert.deepEqual([...new Set(v.icl.map((p) => p.label))], ["fx-2l", "fx-1l", "fx-lstm"]);
  assert.deepEqual(
    v.windows.map((w) => w.label),
    ["fx-2l"],
  );
  assert.deepEqual(
    v.positionLoss.map((c) => c.series),
    ["fx-2l", "fx-1l"],
  );
  assert.deepEqual(
    v.table!.rows.map((r) => r.label),
    ["fx-2l", "fx-1l", "fx-lstm"],
  );
  const byExperiment = await get<CompareView>("/api/compare?experiment=fixture-exp");
  assert.deepEqual(
    byExperiment.runs.map((r) => r.id),
    ["fx-2l", "fx-1l", "fx-lstm", "bad-config", "bad-record"],
  );
});

test("files inside the lab folder are served; every way out of it is a 404", async () => {
  const ok = await t.app.inject({ url: `/files/${t.lab.report}` });
  assert.equal(ok.statusCode, 200);
  assert.match(ok.body, /report of fx-2l/);
  assert.match(String(ok.headers["content-type"]), /text\/html/);
  for (const url of [
    "/files/../secret.txt",
    "/files/..%2Fsecret.txt",
    "/files/%2e%2e/secret.txt",
    "/files/%2E%2E%2Fsecret.txt",
    "/files/reports/../../secret.txt",
    "/files/reports/%2e%2e/%2e%2e/secret.txt",
    "/files/..%5Csecret.txt",
    `/files/${encodeURIComponent(t.lab.secret)}`,
    `/files/%2F${t.lab.secret.slice(1)}`,
    "/files/runs/fx-2l/escape.txt",
    "/files/runs/fx-2l",
    "/files/",
    "/files/nothing.txt",
    "/files/reports/fx-2l/report.html%00.png",
    "/../secret.txt",
    "/%2e%2e/secret.txt",
  ]) {
    const res = await t.app.inject({ url });
    assert.equal(res.statusCode, 404, `${url} → ${res.statusCode} ${res.body.slice(0, 80)}`);
    assert.doesNotMatch(res.body, /not for the dashboard/, url);
  }
});

test("there are no write endpoints: POST, PUT, PATCH and DELETE are 405 everywhere", async () => {
  for (const method of ["POST", "PUT", "PATCH", "DELETE"] as const) {
    for (const url of ["/api/runs", "/api/runs/fx-2l", `/files/${t.lab.report}`, "/", "/api/events"]) {
      const res = await t.app.inject({ method, url, payload: method === "DELETE" ? undefined : { status: "failed" } });
      assert.equal(res.statusCode, 405, `${method} ${url}`);
      assert.equal(res.headers.allow, "GET, HEAD");
    }
  }
  const store = RunStore.open(t.lab.lab);
  try {
    assert.equal(store.getRun("fx-2l")!.status, "finished");
  } finally {
    store.close();
  }
});

test("on a loopback address, requests for another host name are refused (DNS rebinding)", async () => {
  const res = await t.app.inject({ url: "/api/runs", headers: { host: "evil.example:7007" } });
  assert.equal(res.statusCode, 403);
  const ok = await t.app.inject({ url: "/api/runs", headers: { host: "127.0.0.1:7007" } });
  assert.equal(ok.statusCode, 200);
});

test("the page and its script are served, with a policy that loads nothing from elsewhere", async () => {
  const page = await t.app.inject({ url: "/" });
  assert.equal(page.statusCode, 200);
  assert.match(page.body, /<script type="module" src="\/app\.js">/);
  assert.match(String(page.headers["content-security-policy"]), /default-src 'self'/);
  const js = await t.app.inject({ url: "/app.js" });
  assert.equal(js.statusCode, 200);
  assert.ok(js.body.length > 100_000, "vega, vega-lite and vega-embed are bundled");
  assert.doesNotMatch(js.body, /cdn\.jsdelivr|unpkg\.com/);
  assert.equal((await t.app.inject({ url: "/app.css" })).statusCode, 200);
});

/** Reads server-sent events from `url` until `until` returns true. */
function readEvents(
  url: string,
  until: (events: Array<{ event: string; data: unknown }>) => boolean,
  timeoutMs: number,
): Promise<Array<{ event: string; data: unknown }>> {
  return new Promise((resolve, reject) => {
    const events: Array<{ event: string; data: unknown }> = [];
    let buffer = "";
    const req = request(url, (res) => {
      assert.match(String(res.headers["content-type"]), /text\/event-stream/);
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
          if (block.includes(": connected")) events.push({ event: "connected", data: null });
        }
        if (until(events)) {
          clearTimeout(timer);
          req.destroy();
          resolve(events);
        }
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(events)}`));
    }, timeoutMs);
    req.on("error", (e) => {
      if (!req.destroyed) reject(e);
    });
    req.end();
  });
}

test("live: a new checkpoint of a run is pushed as a server-sent event within 2 s", async () => {
  const dashboard = await startDashboard({ lab: t.lab.lab, port: 0, pollMs: 200 });
  try {
    const store = RunStore.open(t.lab.lab);
    try {
      store.createRun({ id: "live-1", experiment: "other", kind: "attn-only", config: { name: "live-1" } });
      let written = 0;
      const events = await readEvents(
        `${dashboard.url}api/events`,
        (evs) => {
          if (evs.some((e) => e.event === "connected") && written === 0) {
            // Connected: now a checkpoint arrives (the trainer logs its results, then touches the run).
            setTimeout(() => {
              store.logMetrics("live-1", 512, { train_loss: 3.1, "icl.score": -0.05 });
              store.heartbeat("live-1", 512);
              written = Date.now();
            }, 300);
            written = -1;
          }
          return evs.some((e) => e.event === "run" && (e.data as RunEvent).id === "live-1" && (e.data as RunEvent).tokens === 512);
        },
        5000,
      );
      const ev = events.find((e) => e.event === "run" && (e.data as RunEvent).id === "live-1")!.data as RunEvent;
      assert.equal(ev.status, "running");
      assert.ok(Date.now() - written < 2000, `pushed ${Date.now() - written} ms after the checkpoint`);
    } finally {
      store.close();
    }
  } finally {
    await dashboard.close();
  }
});

test("`icl-lab serve --port 0` prints its address, serves the lab and stops on SIGTERM", async () => {
  const bin = fileURLToPath(new URL("../../bin/icl-lab.js", import.meta.url));
  const child = spawn(process.execPath, [bin, "serve", "--lab", t.lab.lab, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`no address printed within 20 s; stderr: ${stderr}`)), 20_000);
      child.stdout.on("data", (d) => {
        out += d;
        const m = /dashboard of .* at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.on("exit", (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
    });
    const res = await fetch(`${url}api/runs`);
    assert.equal(res.status, 200);
    assert.ok(((await res.json()) as RunsResponse).runs.some((r) => r.id === "fx-2l"));
  } finally {
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    assert.equal(await exited, 0, stderr);
  }
});
