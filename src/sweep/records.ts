/**
 * What a checkpoint stored, as plain JSON: a worker reads it from its own runs store after each
 * checkpoint and sends it through the queue; the coordinator writes it into its store. Exact:
 * vectors travel as their raw float32/float64 bytes (base64) and non-finite metrics as strings,
 * so NaN and ±Infinity survive JSON.
 */
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import type { RunStore } from "../store/run-store.ts";

export interface CheckpointReport {
  runId: string;
  tokens: number;
  /** Scalars; NaN and ±Infinity as "NaN", "Infinity", "-Infinity". */
  metrics: Record<string, number | string>;
  vectors: Array<{ name: string; dtype: "f32" | "f64"; shape: number[]; base64: string }>;
  json: Array<{ name: string; value: unknown }>;
  /** The checkpoint file, relative to the run folder (`checkpoints/…`). */
  checkpoint?: { step: number; file: string; sha256: string };
}

const encodeNumber = (v: number): number | string => (Number.isFinite(v) ? v : String(v));
const decodeNumber = (v: number | string): number => (typeof v === "number" ? v : Number(v));

/** What `store` holds for `runId` at `tokens`; `jsonNames`: the structured records to include. */
export function readCheckpointReport(store: RunStore, runId: string, tokens: number, jsonNames: readonly string[] = []): CheckpointReport {
  const metrics: CheckpointReport["metrics"] = {};
  for (const name of store.metricNames(runId)) {
    const point = store.metricSeries(runId, name).find((p) => p.tokens === tokens);
    if (point) metrics[name] = encodeNumber(point.value);
  }
  const vectors: CheckpointReport["vectors"] = [];
  for (const name of store.vectorNames(runId)) {
    const v = store.vectors(runId, name).find((p) => p.tokens === tokens);
    if (v) {
      vectors.push({
        name,
        dtype: v.data instanceof Float32Array ? "f32" : "f64",
        shape: v.shape,
        base64: Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength).toString("base64"),
      });
    }
  }
  const json: CheckpointReport["json"] = [];
  for (const name of jsonNames) {
    const r = store.jsonSeries(runId, name).find((p) => p.tokens === tokens);
    if (r) json.push({ name, value: r.value });
  }
  const ck = store.checkpoints(runId).find((c) => c.tokens === tokens);
  const checkpoint = ck && { step: ck.step, file: relative(store.runDir(runId), ck.path), sha256: ck.sha256 };
  return { runId, tokens, metrics, vectors, json, ...(checkpoint ? { checkpoint } : {}) };
}

/**
 * Writes a report into `store` (the run must exist). The checkpoint file is recorded only where
 * this machine sees it: under `runsFolder/<id>/` (a shared folder), else the lab's own run folder.
 */
export function writeCheckpointReport(store: RunStore, report: CheckpointReport, runsFolder?: string): void {
  const { runId, tokens } = report;
  store.batch(() => {
    const metrics: Record<string, number> = {};
    for (const [name, v] of Object.entries(report.metrics)) metrics[name] = decodeNumber(v);
    if (Object.keys(metrics).length) store.logMetrics(runId, tokens, metrics);
    for (const v of report.vectors) {
      const bytes = Buffer.from(v.base64, "base64");
      const ctor = v.dtype === "f32" ? Float32Array : Float64Array;
      const data = new ctor(bytes.byteLength / ctor.BYTES_PER_ELEMENT);
      new Uint8Array(data.buffer).set(bytes);
      store.logVector(runId, tokens, v.name, data, v.shape);
    }
    for (const r of report.json) store.logJson(runId, tokens, r.name, r.value);
    if (report.checkpoint) {
      const path = join(runsFolder ?? join(store.labDir, "runs"), runId, report.checkpoint.file);
      if (existsSync(path)) store.addCheckpoint(runId, { tokens, step: report.checkpoint.step, path, sha256: report.checkpoint.sha256 });
    }
    store.heartbeat(runId, tokens);
  });
}
