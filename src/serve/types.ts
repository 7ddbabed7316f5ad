/**
 * The dashboard's JSON API payloads: what the server (api.ts, views.ts) sends and the page
 * (web/) reads. Type declarations only, so the browser bundle imports them at no cost.
 *
 * Numbers that a run lacks are null. NaN never reaches the page: JSON writes it as null.
 */
import type { HeadAblation } from "../measure/ablation.ts";
import type { HeadScore } from "../measure/heads.ts";
import type { TaskResult } from "../measure/tasks.ts";
import type { IclPoint, PositionCurve, TokenWindow } from "../report/charts.ts";
import type { ShinTable } from "../report/tables.ts";

/** A run's status as shown: `stale` is a run marked running whose process is gone. */
export type DisplayStatus = "running" | "finished" | "failed" | "stale";

/** One row of the runs list. */
export interface RunRow {
  id: string;
  experiment: string | null;
  kind: string | null;
  status: DisplayStatus;
  /** Why the run's stored record cannot be read (config or results), or null. */
  corrupt: string | null;
  /** The error a failed run recorded. */
  error: string | null;
  /** "attn-only · 2 layers · d_model 16 · 2 heads × 8". */
  model: string;
  /** "brown+email", or null when the config does not say. */
  data: string | null;
  seed: number | null;
  /** Tokens the config asks for (the run's goal), when known. */
  targetTokens: number | null;
  /** Tokens trained so far. */
  tokens: number;
  checkpoints: number;
  /** The last stored ICL score with its interval. */
  icl: { tokens: number; score: number; lo: number | null; hi: number | null } | null;
  trainLoss: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface RunsResponse {
  lab: string;
  /** Every experiment name of the lab (the filter's choices), sorted. */
  experiments: string[];
  runs: RunRow[];
}

/** A detected change (phase change, induction rise, loss bump), or why none was found. */
export type Detection =
  | { status: "found"; start: number; end: number; size: number; peak?: number; shareInWindow?: number | null }
  | { status: "none"; reason: string };

/** Everything the run page draws. */
export interface RunView {
  row: RunRow;
  /** Label of the run in charts (its config name, else its id). */
  label: string;
  config: unknown;
  icl: Array<{ tokens: number; score: number; lo: number | null; hi: number | null; loss50: number | null; loss500: number | null }>;
  phase: Detection;
  trainLoss: Array<{ tokens: number; value: number }>;
  bump: Detection;
  positionLoss: Array<{ tokens: number; meanLoss: number[] }>;
  heads: Array<{ tokens: number; heads: HeadScore[] }>;
  inductionPhase: Detection & { layer: number | null; head: number | null };
  bestHead: { layer: number; head: number; induction: number } | null;
  ablation: { tokens: number; clean: { score: number; lo: number; hi: number } | null; heads: HeadAblation[] } | null;
  tasks: { tokens: number; tasks: TaskResult[] } | null;
  /** Checkpoint files recorded (the attention view loads one). */
  checkpoints: Array<{ tokens: number; step: number }>;
  /** Whether the model has attention heads (the attention view applies). */
  hasAttention: boolean;
  /** URL of the run's HTML report (`icl-lab report`), when one was written in the lab. */
  report: string | null;
}

/** The compare page: several runs' curves overlaid. */
export interface CompareView {
  runs: Array<{ id: string; label: string; status: DisplayStatus; model: string }>;
  icl: IclPoint[];
  windows: TokenWindow[];
  /** Each run's loss by position at its last checkpoint. */
  positionLoss: PositionCurve[];
  /** Shin-style table of the last checkpoints (null with fewer than two rows). */
  table: ShinTable | null;
}

/** Attention of every head of one checkpoint on one sequence. */
export interface AttentionView {
  runId: string;
  checkpoint: number;
  source: "text" | "repeated";
  /** Seed of a repeated sequence's random tokens (the run's measurement seed unless asked), null for a text. */
  seed: number | null;
  /** Where a repeated sequence's tokens come from: the run's head-score pool, or (no stored inputs) every token but BOS; null for a text. */
  pool: "run" | "all" | null;
  /** Token ids and how each is shown. */
  tokens: number[];
  labels: string[];
  nLayers: number;
  nHeads: number;
  /** patterns[layer][head][query][key] (lower triangular; rows sum to 1). */
  patterns: number[][][][];
  /** Induction score of each head on this sequence (null when no token repeats). */
  sequenceScores: Array<Array<number | null>>;
  /** Stored head scores at the checkpoint nearest at or before it, when the run measured them. */
  stored: { tokens: number; heads: HeadScore[] } | null;
  /** Heads shown as induction heads, "L1H0". */
  inductionHeads: string[];
  /** Cells (query, key) where an ideal induction head attends. */
  targets: Array<{ query: number; key: number }>;
  notes: string[];
}

/** One experiment report of the lab: the folder `<lab>/reports/<name>/` (src/serve/reports.ts). */
export interface ReportRow {
  name: string;
  /** Its HTML report as a path inside the lab (served at `/files/<path>`): `reports/<name>/report.html` or `…/index.html`; null without one. */
  html: string | null;
  /** Names of the figures whose Vega-Lite spec it holds (`<figure>.vl.json`), sorted. */
  figures: string[];
  /** The text of its summary.txt, or null without one. */
  summary: string | null;
  /** When its newest file was written, ms since the epoch. */
  modified: number;
}

/** An API error body. */
export interface ApiError {
  error: string;
  statusCode: number;
}

/** A server-sent event `run`: the run's record changed (new checkpoint, status, heartbeat). */
export interface RunEvent {
  id: string;
  status: DisplayStatus;
  tokens: number;
  updatedAt: number;
  /** True when the run is new to the lab. */
  added?: boolean;
}
