/**
 * `icl-lab demo`: the main job (src/experiments/demo.ts) — trains 1-, 2- and 3-layer
 * attention-only models, then prints the table and writes the report.
 */
import type { Command } from "commander";
import { UserError } from "./errors.ts";

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v.replace(/_/g, ""));
    if (!Number.isInteger(n) || n < 1) throw new UserError(`--${name} must be a positive integer, found '${v}'`);
    return n;
  };
}

export function register(program: Command): void {
  program
    .command("demo")
    .description("Reproduce the induction-head phase change: 1-, 2- and 3-layer attention-only models, ICL score, head scores, report")
    .option("--lab <dir>", "lab folder (default ./icl-lab-runs or $ICL_LAB_DIR)")
    .option("--corpus <name=path>", "train on your own text (a file, a folder of .txt/.md, or JSONL) instead of the npm sources")
    .option("--tokens <n>", "training tokens per model", positiveInt("tokens"))
    .option("--seeds <n>", "seeds per model", positiveInt("seeds"))
    .option("--layers <list>", "layer counts, comma-separated (default 1,2,3)")
    .option("--json", "print the results as JSON")
    .action(async (o: { lab?: string; corpus?: string; tokens?: number; seeds?: number; layers?: string; json?: boolean }) => {
      const { runDemo } = await import("../experiments/demo.ts");
      const { RunStore, resolveLabDir } = await import("../store/run-store.ts");
      const { readRuns, summarize, renderReport } = await import("../report/index.ts");
      let corpus: { name: string; path?: string } | undefined;
      if (o.corpus !== undefined) {
        const m = /^([a-z][a-z0-9_]*)(?:=(.+))?$/.exec(o.corpus);
        if (m === null) throw new UserError(`--corpus must be NAME=PATH (NAME: lowercase letters, digits, '_'), found '${o.corpus}'`);
        corpus = { name: m[1], path: m[2] };
      }
      let layers: number[] | undefined;
      if (o.layers !== undefined) {
        layers = o.layers.split(",").map((x) => Number(x));
        if (layers.some((l) => !Number.isInteger(l) || l < 1 || l > 12)) throw new UserError(`--layers must be integers 1-12, found '${o.layers}'`);
      }
      const lab = resolveLabDir(o.lab);
      let result;
      try {
        result = await runDemo({ lab, corpus, tokens: o.tokens, seeds: o.seeds, layers });
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        if (/invalid|not found|unknown|expected|must/i.test(msg)) throw new UserError(msg);
        throw e;
      }
      const store = RunStore.open(lab);
      try {
        const infos = result.runs.map((r) => store.getRun(r.runId)!);
        const rows = readRuns(store, infos).map(summarize);
        const report = await renderReport({ lab, experiment: "demo" });
        if (o.json) {
          console.log(JSON.stringify({ seconds: result.seconds, runs: rows, report: report.html }, null, 2));
          return;
        }
        const f = (x: number | null, d = 3) => (x === null ? "—" : x.toFixed(d));
        const tok = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(0)}k`);
        const table = [["model", "ICL score [95% CI]", "phase change (tokens)", "best induction head", "loss@50", "loss@500"]];
        for (const r of rows) {
          table.push([
            r.model,
            `${f(r.score)} [${f(r.lo)}, ${f(r.hi)}]`,
            r.window ? `${tok(r.window.start)}–${tok(r.window.end)} (${f(r.window.size, 2)} nats)` : `none`,
            r.bestHead ? `L${r.bestHead.layer}H${r.bestHead.head} ${f(r.bestHead.induction, 2)}` : "—",
            f(r.loss50), f(r.loss500),
          ]);
        }
        const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
        for (const row of table) console.log(row.map((c, i) => c.padEnd(widths[i])).join("  "));
        console.log(`\nwall time ${(result.seconds / 60).toFixed(1)} min; report: ${report.html}`);
      } finally {
        store.close();
      }
    });
}
