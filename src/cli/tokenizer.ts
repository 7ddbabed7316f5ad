/**
 * `icl-lab tokenizer …`: train a BPE tokenizer on chosen sources (cached: a second run with the
 * same sources and size loads it), and encode a text to see its tokens. Takes `--lab DIR` and
 * `--json`; progress on stderr, results on stdout.
 */
import { isUtf8 } from "node:buffer";
import type { Command } from "commander";
import { DEFAULT_SUITE, buildTextStore, buildTokenStore, getBpeTokenizer, getTokenizer, splitDocuments } from "../data/index.ts";
import { UserError, withUserErrors } from "./errors.ts";
import { formatTable } from "./format-table.ts";
import { labOptions, splitList, tokenizerSpecFrom } from "./options.ts";
import { stderrLog } from "./progress.ts";

export function register(program: Command): void {
  const tok = program.command("tokenizer").description("train and try tokenizers");

  labOptions(
    tok
      .command("train")
      .description("train a byte-level BPE tokenizer (Hugging Face tokenizers) on the training splits of sources")
      .option("--sources <ids>", "comma-separated source ids (default: the default suite)")
      .option("--vocab <n>", "vocabulary size, including 256 bytes and the end-of-document token", "4096")
      .option("--bytes-per-source <n>", "training text taken from each source, in bytes", "4000000")
      .option("--out <file>", "also write tokenizer.json here"),
    { quiet: true },
  ).action(
    withUserErrors(async (opts: { sources?: string; vocab: string; bytesPerSource: string; out?: string; lab?: string; json?: boolean; quiet?: boolean }) => {
      const log = stderrLog(opts.quiet);
      const vocab = Number(opts.vocab);
      const perSource = Number(opts.bytesPerSource);
      if (!Number.isInteger(vocab)) throw new UserError(`--vocab must be an integer, found '${opts.vocab}'`);
      if (!Number.isInteger(perSource) || perSource < 1) throw new UserError(`--bytes-per-source must be a positive integer, found '${opts.bytesPerSource}'`);
      const sources = opts.sources ? splitList(opts.sources) : [...DEFAULT_SUITE];
      const { tokenizer, dir, meta, cached } = await getBpeTokenizer({ kind: "bpe", vocab, sources, trainBytesPerSource: perSource }, { lab: opts.lab, log });
      if (opts.out) tokenizer.save(opts.out);
      // Compression on each source's held-out documents (never seen in training).
      const compression: Array<{ id: string; bytes: number; tokens: number; bytesPerToken: number }> = [];
      for (const id of sources) {
        const text = (await buildTextStore(id, { lab: opts.lab, log })).manifest;
        const m = (await buildTokenStore(id, tokenizer, { lab: opts.lab, log })).manifest;
        const split = splitDocuments(m.docOffsets, m.docHashes);
        // Tail splits (few documents): the whole source stands in for its held-out tails.
        const docs = split.kind === "documents" ? split.heldOut.map((g) => g.doc) : Array.from({ length: m.nDocs }, (_, d) => d);
        const bytes = docs.reduce((a, d) => a + text.docOffsets[d + 1] - text.docOffsets[d], 0);
        const tokens = docs.reduce((a, d) => a + m.docOffsets[d + 1] - m.docOffsets[d], 0);
        compression.push({ id, bytes, tokens, bytesPerToken: Number((bytes / Math.max(1, tokens)).toFixed(3)) });
      }
      const result = {
        id: tokenizer.id,
        vocabSize: tokenizer.vocabSize,
        requestedVocab: vocab,
        eodId: tokenizer.eodId,
        path: `${dir}/tokenizer.json`,
        cached,
        trainSeconds: meta.trainSeconds,
        trainedOn: meta.sources,
        heldOutCompression: compression,
      };
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `${cached ? "cached" : "trained"} ${tokenizer.id}: vocab ${tokenizer.vocabSize} (256 bytes, end-of-document id ${tokenizer.eodId}, ` +
          `${tokenizer.vocabSize - 257} merges)${cached ? "" : ` in ${meta.trainSeconds.toFixed(1)} s`}\n` +
          `  ${result.path}${opts.out ? `\n  also written to ${opts.out}` : ""}\n\n` +
          `${formatTable(
            ["source", "trained on (MB)", "held-out bytes/token"],
            compression.map((c) => [c.id, ((meta.sources.find((s) => s.id === c.id)?.trainBytes ?? 0) / 1e6).toFixed(1), c.bytesPerToken.toFixed(2)]),
          )}\n`,
      );
    }),
  );

  labOptions(
    tok
      .command("encode")
      .description("show the tokens of a text")
      .argument("<text>", "text to encode")
      .option("--tokenizer <kind>", "byte, bpe (default: BPE on the default suite) or a tokenizer.json path")
      .option("--vocab <n>", "BPE vocabulary size (default 4096)")
      .option("--tokenizer-sources <ids>", "sources the BPE tokenizer is trained on (default: the default suite)"),
  ).action(
    withUserErrors(async (text: string, opts: { tokenizer?: string; vocab?: string; tokenizerSources?: string; lab?: string; json?: boolean }) => {
      const t = await getTokenizer(tokenizerSpecFrom(opts), { lab: opts.lab, log: stderrLog(false) });
      const ids = Array.from(t.encode(text));
      // A token can be part of a UTF-8 character: show those as byte escapes.
      const pieces = ids.map((id) => {
        const b = Buffer.from(t.tokenBytes(id));
        return isUtf8(b) ? b.toString("utf8") : Array.from(b, (x) => `\\x${x.toString(16).padStart(2, "0")}`).join("");
      });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ tokenizer: t.id, ids, pieces }, null, 2)}\n`);
        return;
      }
      process.stdout.write(`${t.id}: ${ids.length} tokens\n${ids.map((id, i) => `${id}\t${JSON.stringify(pieces[i])}`).join("\n")}\n`);
    }),
  );
}
