/**
 * The dashboard's read-only JSON API (every route is GET; see server.ts for the rest):
 *
 *   GET /api/runs[?experiment=E]              runs list (types.ts RunsResponse)
 *   GET /api/runs/:id                         the run page's data (RunView)
 *   GET /api/runs/:id/summary                 the report's summary of the run
 *   GET /api/runs/:id/metrics                 names of its scalar metrics
 *   GET /api/runs/:id/metrics/:name           one metric's series [{tokens, value}]
 *   GET /api/runs/:id/vectors                 names of its vectors
 *   GET /api/runs/:id/vectors/:name           one vector's values [{tokens, shape, data}]
 *   GET /api/runs/:id/records/:name           one structured record's values [{tokens, value}]
 *   GET /api/runs/:id/checkpoints             checkpoint files recorded [{tokens, step, sha256}]
 *   GET /api/runs/:id/attention?checkpoint=T&text=…|length=N&seed=S   every head's attention (AttentionView)
 *   GET /api/compare?runs=a,b,c | ?experiment=E   several runs overlaid (CompareView)
 *   GET /api/reports                          the lab's report folders, newest first (ReportRow[])
 *   GET /api/reports/:name                    one report (ReportRow)
 *   GET /api/reports/:name/figures/:figure    one figure's Vega-Lite spec (<figure>.vl.json, parsed)
 *
 * Errors are JSON `{ error, statusCode }`: 404 for an unknown run (or metric, vector, record,
 * checkpoint, report, figure), 400 for a malformed query, 409 for a run (or figure) whose stored
 * data cannot serve the request.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { checkRunId, type RunInfo, type RunStore } from "../store/run-store.ts";
import { readRun } from "../report/data.ts";
import { summarize } from "../report/summary.ts";
import { NAME } from "./files.ts";
import type { Lab } from "./lab.ts";
import { CorruptFigureError, hasReport, listReports, readFigure, readReport } from "./reports.ts";
import type { ApiError, ReportRow, RunsResponse } from "./types.ts";
import { compareView, runRow, runView } from "./views.ts";

/** An error the API answers with its status code and message. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export function sendError(reply: FastifyReply, statusCode: number, message: string): FastifyReply {
  const body: ApiError = { error: message, statusCode };
  return reply.code(statusCode).type("application/json; charset=utf-8").send(body);
}

const MAX_COMPARE = 24;

/** The stored series served by name under /api/runs/:id/<path>. */
const STORED_SERIES: Record<string, { what: string; names: (s: RunStore, id: string) => string[]; read: (s: RunStore, id: string, name: string) => unknown }> =
  {
    metrics: { what: "metric", names: (s, id) => s.metricNames(id), read: (s, id, name) => s.metricSeries(id, name) },
    vectors: {
      what: "vector",
      names: (s, id) => s.vectorNames(id),
      read: (s, id, name) => s.vectors(id, name).map((v) => ({ tokens: v.tokens, shape: v.shape, data: Array.from(v.data) })),
    },
  };

function runOf(store: RunStore | null, id: string): { store: RunStore; info: RunInfo } {
  try {
    checkRunId(id);
  } catch {
    throw new HttpError(404, `no run '${id}' in this lab`);
  }
  const info = store?.getRun(id);
  if (!store || !info) throw new HttpError(404, `no run '${id}' in this lab`);
  return { store, info };
}

function checkName(name: string, what: string): void {
  if (!NAME.test(name)) throw new HttpError(400, `${what} name must be 1-200 letters, digits or . _ @ : -, found ${JSON.stringify(name)}`);
}

function intParam(q: Record<string, string | undefined>, key: string, range: [number, number]): number | undefined {
  const v = q[key];
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < range[0] || n > range[1]) {
    throw new HttpError(400, `'${key}' must be an integer in [${range[0]}, ${range[1]}], found ${JSON.stringify(v)}`);
  }
  return n;
}

type Params = { id: string; name: string };
type ReportParams = { name: string; figure: string };

/** Report folders under <lab>/reports (reports.ts); a name that could leave the folder is as unknown as a missing one. */
function registerReports(app: FastifyInstance, lab: Lab): void {
  app.get("/api/reports", async (): Promise<ReportRow[]> => listReports(lab.dir));

  app.get<{ Params: ReportParams }>("/api/reports/:name", async (req) => {
    const report = readReport(lab.dir, req.params.name);
    if (!report) throw new HttpError(404, `no report '${req.params.name}' in this lab`);
    return report;
  });

  app.get<{ Params: ReportParams }>("/api/reports/:name/figures/:figure", async (req) => {
    const { name, figure } = req.params;
    if (!hasReport(lab.dir, name)) throw new HttpError(404, `no report '${name}' in this lab`);
    let figureSpec: { spec: unknown } | null;
    try {
      figureSpec = readFigure(lab.dir, name, figure);
    } catch (e) {
      if (e instanceof CorruptFigureError) throw new HttpError(409, e.message);
      throw e;
    }
    if (!figureSpec) throw new HttpError(404, `report '${name}' has no figure '${figure}' (no ${figure}.vl.json)`);
    return figureSpec.spec;
  });
}

type Query = Record<string, string | undefined>;

export function registerApi(app: FastifyInstance, lab: Lab): void {
  registerReports(app, lab);
  app.get<{ Querystring: Query }>("/api/runs", async (req) => {
    const store = lab.open();
    const all = store?.listRuns() ?? [];
    const experiment = req.query.experiment || undefined;
    const shown = experiment === undefined ? all : all.filter((r) => r.experiment === experiment);
    const body: RunsResponse = {
      lab: lab.dir,
      experiments: [...new Set(all.map((r) => r.experiment).filter((e): e is string => e !== null))].sort(),
      runs: shown.map((info) => runRow(store!, info)),
    };
    return body;
  });

  app.get<{ Params: Params }>("/api/runs/:id", async (req) => {
    const { store, info } = runOf(lab.open(), req.params.id);
    return runView(store, info);
  });

  app.get<{ Params: Params }>("/api/runs/:id/summary", async (req) => {
    const { store, info } = runOf(lab.open(), req.params.id);
    try {
      const label = (info.config as { name?: unknown } | null)?.name;
      return summarize({ ...readRun(store, info), label: typeof label === "string" ? label : info.id, group: "" });
    } catch (e) {
      throw new HttpError(409, `run '${info.id}': stored results cannot be read (${(e as Error).message})`);
    }
  });

  // A run's metric series and vectors: the names, then one by name (404 when the run has none of it).
  for (const [path, kind] of Object.entries(STORED_SERIES)) {
    app.get<{ Params: Params }>(`/api/runs/:id/${path}`, async (req) => {
      const { store, info } = runOf(lab.open(), req.params.id);
      return kind.names(store, info.id);
    });
    app.get<{ Params: Params }>(`/api/runs/:id/${path}/:name`, async (req) => {
      const { store, info } = runOf(lab.open(), req.params.id);
      checkName(req.params.name, kind.what);
      if (!kind.names(store, info.id).includes(req.params.name)) throw new HttpError(404, `run '${info.id}' has no ${kind.what} '${req.params.name}'`);
      try {
        return kind.read(store, info.id, req.params.name);
      } catch (e) {
        throw new HttpError(409, (e as Error).message);
      }
    });
  }

  app.get<{ Params: Params }>("/api/runs/:id/records/:name", async (req) => {
    const { store, info } = runOf(lab.open(), req.params.id);
    checkName(req.params.name, "record");
    let values;
    try {
      values = store.jsonSeries(info.id, req.params.name);
    } catch (e) {
      throw new HttpError(409, `record '${req.params.name}' of run '${info.id}' is corrupt (${(e as Error).message})`);
    }
    if (values.length === 0) throw new HttpError(404, `run '${info.id}' has no record '${req.params.name}'`);
    return values;
  });

  app.get<{ Params: Params }>("/api/runs/:id/checkpoints", async (req) => {
    const { store, info } = runOf(lab.open(), req.params.id);
    return store.checkpoints(info.id).map((c) => ({ tokens: c.tokens, step: c.step, sha256: c.sha256, createdAt: c.createdAt }));
  });

  app.get<{ Params: Params; Querystring: Query }>("/api/runs/:id/attention", async (req) => {
    const { store, info } = runOf(lab.open(), req.params.id);
    const q = req.query;
    const request = {
      checkpoint: intParam(q, "checkpoint", [0, Number.MAX_SAFE_INTEGER]),
      length: intParam(q, "length", [2, 1000]),
      seed: intParam(q, "seed", [0, 2 ** 31 - 1]),
      text: q.text === undefined || q.text === "" ? undefined : q.text,
    };
    if (request.text !== undefined && request.text.length > 10_000)
      throw new HttpError(400, `'text' must be at most 10,000 characters, found ${request.text.length}`);
    const { computeAttention, AttentionRequestError } = await import("./attention.ts");
    try {
      return computeAttention(store, info, request);
    } catch (e) {
      if (e instanceof AttentionRequestError) throw new HttpError(e.statusCode, e.message);
      throw new HttpError(409, `attention of run '${info.id}' could not be computed: ${(e as Error).message}`);
    }
  });

  app.get<{ Querystring: Query }>("/api/compare", async (req) => {
    const store = lab.open();
    let infos: RunInfo[];
    if (req.query.runs) {
      const ids = [
        ...new Set(
          req.query.runs
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s !== ""),
        ),
      ];
      if (ids.length > MAX_COMPARE) throw new HttpError(400, `at most ${MAX_COMPARE} runs can be compared, found ${ids.length}`);
      infos = ids.map((id) => runOf(store, id).info);
    } else if (req.query.experiment) {
      infos = store?.listRuns({ experiment: req.query.experiment }) ?? [];
      if (infos.length === 0) throw new HttpError(404, `no runs of experiment '${req.query.experiment}' in this lab`);
      infos = infos.slice(0, MAX_COMPARE);
    } else {
      throw new HttpError(400, "give 'runs' (comma-separated run ids) or 'experiment'");
    }
    return compareView(store!, infos);
  });
}
