/**
 * `icl-lab corpus …`: list the corpus sources (domains, availability, sizes), build their text and
 * token stores, show one source's details, and add or remove the user's own sources.
 * Every command takes `--lab DIR` (default $ICL_LAB_DIR or ./icl-lab-runs) and `--json`.
 * Progress goes to stderr, results to stdout.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import {
  DEFAULT_SUITE,
  buildTextStore,
  buildTokenStore,
  dataPaths,
  deleteUserSource,
  getBpeTokenizer,
  getSource,
  getTokenizer,
  latestTextStore,
  listSources,
  loadUserSources,
  saveUserSource,
  type SourceDef,
  type TokenStoreManifest,
  type Tokenizer,
  type TokenizerSpec,
} from "../data/index.ts";
import { SOURCE_ID, detectKind, type UserSourceKind } from "../data/sources/user.ts";
import { sourceContext } from "../data/text-store.ts";
import { writeFileAtomic } from "../data/util.ts";
import { UserError, withUserErrors } from "./errors.ts";
import { formatTable } from "./format-table.ts";
import { labOptions, tokenizerSpecFrom } from "./options.ts";
import { stderrLog } from "./progress.ts";

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------
// corpus list

interface ListRow {
  id: string;
  origin: SourceDef["origin"];
  domain: string;
  language: string;
  defaultSuite: boolean;
  available: boolean;
  note: string | null;
  built: boolean;
  documents: number | null;
  megabytes: string | null;
  approxMegabytes: number | null;
  description: string;
}

/** What `corpus list` and `corpus info` say first of a source. */
function sourceIdentity(s: SourceDef): Pick<ListRow, "id" | "origin" | "domain" | "language"> {
  return { id: s.id, origin: s.origin, domain: s.domain, language: s.language };
}

/** Whether a source is in the default suite and available here (and if not, why). */
function sourceAvailability(s: SourceDef, a: { ok: boolean; reason?: string }): Pick<ListRow, "defaultSuite" | "available" | "note"> {
  return { defaultSuite: s.defaultSuite === true, available: a.ok, note: a.reason ?? null };
}

async function listRows(lab: string | undefined): Promise<ListRow[]> {
  const ctx = sourceContext({ lab });
  const rows: ListRow[] = [];
  for (const s of listSources(ctx.paths)) {
    const a = await s.available(ctx);
    const built = latestTextStore(s.id, ctx.paths);
    rows.push({
      ...sourceIdentity(s),
      ...sourceAvailability(s, a),
      built: built !== null,
      documents: built?.nDocs ?? null,
      megabytes: built ? mb(built.nBytes) : null,
      approxMegabytes: s.approxMB ?? null,
      description: s.description,
    });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// corpus build

interface BuildRow {
  id: string;
  domain: string;
  documents: number;
  bytes: number;
  tokens: number;
  meanDocTokens: number;
  bytesPerToken: number;
  duplicatesDropped: number;
  invalidBytesDropped: number;
  seconds: number;
  store: string;
}

async function resolveTokenizer(spec: TokenizerSpec, lab: string | undefined, log: (m: string) => void): Promise<Tokenizer> {
  if (spec.kind === "bpe") return (await getBpeTokenizer(spec, { lab, log })).tokenizer;
  return getTokenizer(spec, { lab, log });
}

// ---------------------------------------------------------------------------------------------
// corpus info

function tokenStoresOf(id: string, lab: string | undefined): TokenStoreManifest[] {
  const dir = join(dataPaths(lab).stores, id);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => !n.includes(".tmp-") && existsSync(join(dir, n, "manifest.json")))
    .map((n) => JSON.parse(readFileSync(join(dir, n, "manifest.json"), "utf8")) as TokenStoreManifest);
}

// ---------------------------------------------------------------------------------------------

export function register(program: Command): void {
  const corpus = program.command("corpus").description("corpus sources: list, build, inspect, add your own");
  labOptions(corpus.command("list").description("list every source: domain, language, whether it is available here, size")).action(withUserErrors(listCommand));
  labOptions(
    corpus
      .command("build")
      .description("extract, clean and tokenize sources (default: the embedded default suite)")
      .argument("[ids...]", "source ids (default: the default suite)")
      .option("--all", "every source available on this machine")
      .option("--tokenizer <kind>", "byte, bpe (default: BPE trained on the default suite) or a tokenizer.json path")
      .option("--vocab <n>", "BPE vocabulary size (default 4096)")
      .option("--tokenizer-sources <ids>", "sources the BPE tokenizer is trained on (default: the default suite)")
      .option("--text-only", "only extract and clean (no tokenizer)"),
    { quiet: true },
  ).action(withUserErrors(buildCommand));
  labOptions(
    corpus.command("info").description("details of one source: metadata, cleaning and token statistics of what is built").argument("<id>", "source id"),
  ).action(withUserErrors(infoCommand));
  labOptions(
    corpus
      .command("add")
      .description('add your own text as a source: a file, a folder of .txt/.md files, or JSONL with a "text" field')
      .argument("<name>", "source id (lowercase letters, digits, _)")
      .argument("<path>", "file, folder or .jsonl file")
      .requiredOption("--domain <label>", 'domain label for reports (e.g. "lab notes")')
      .option("--language <code>", "language (BCP 47, e.g. en, zh)", "en")
      .option("--licence <text>", "licence note", "user-provided")
      .option("--kind <kind>", "file, folder or jsonl (default: from the path)"),
    { quiet: true },
  ).action(withUserErrors(addCommand));
  labOptions(corpus.command("remove").description("forget a user source (its files are not touched)").argument("<name>", "source id")).action(
    withUserErrors(removeCommand),
  );
}

/** `corpus list`. */
async function listCommand(opts: { lab?: string; json?: boolean }): Promise<void> {
  const rows = await listRows(opts.lab);
  if (opts.json) return printJson({ defaultSuite: DEFAULT_SUITE, sources: rows });
  const table = formatTable(
    ["id", "origin", "domain", "lang", "default", "available", "size", "status"],
    rows.map((r) => [
      r.id,
      r.origin,
      r.domain,
      r.language,
      r.defaultSuite ? "yes" : "",
      r.available ? "yes" : `no: ${r.note ?? ""}`,
      r.megabytes !== null ? `${r.megabytes} MB` : r.approxMegabytes !== null ? `~${r.approxMegabytes} MB` : "",
      r.built ? `built, ${r.documents?.toLocaleString("en-US")} docs` : r.available && r.note ? r.note : "",
    ]),
  );
  process.stdout.write(`${table}\n\ndefault suite: ${DEFAULT_SUITE.join(", ")} (icl-lab corpus build)\n`);
}

interface BuildOptions {
  all?: boolean;
  tokenizer?: string;
  vocab?: string;
  tokenizerSources?: string;
  textOnly?: boolean;
  lab?: string;
  json?: boolean;
  quiet?: boolean;
}

/** `corpus build [ids...]`. */
async function buildCommand(ids: string[], opts: BuildOptions): Promise<void> {
  const log = stderrLog(opts.quiet);
  const ctx = sourceContext({ lab: opts.lab, log });
  let wanted = ids.length > 0 ? ids : [...DEFAULT_SUITE];
  if (opts.all) {
    wanted = [];
    for (const s of listSources(ctx.paths)) if ((await s.available(ctx)).ok) wanted.push(s.id);
  }
  for (const id of wanted) getSource(id, ctx.paths); // unknown ids fail before any work
  const t0 = performance.now();
  const spec = tokenizerSpecFrom(opts);
  const tokenizer = opts.textOnly ? null : await resolveTokenizer(spec, opts.lab, log);
  const rows: BuildRow[] = [];
  for (const id of wanted) {
    const t = performance.now();
    const text = await buildTextStore(id, { lab: opts.lab, log });
    const tm = text.manifest;
    const store = tokenizer ? await buildTokenStore(id, tokenizer, { lab: opts.lab, log }) : null;
    rows.push({
      id,
      domain: tm.domain,
      documents: tm.nDocs,
      bytes: tm.nBytes,
      tokens: store?.manifest.nTokens ?? 0,
      meanDocTokens: store ? Math.round(store.manifest.stats.meanDocTokens) : 0,
      bytesPerToken: store ? Number(store.manifest.stats.bytesPerToken.toFixed(2)) : 0,
      duplicatesDropped: tm.clean.duplicatesDropped,
      invalidBytesDropped: tm.clean.invalidBytesDropped,
      seconds: Number(((performance.now() - t) / 1000).toFixed(1)),
      store: store?.dir ?? text.dir,
    });
  }
  const seconds = Number(((performance.now() - t0) / 1000).toFixed(1));
  if (opts.json) return printJson({ tokenizer: tokenizer ? { id: tokenizer.id, vocabSize: tokenizer.vocabSize } : null, seconds, sources: rows });
  process.stdout.write(
    `${formatTable(
      ["id", "domain", "docs", "MB", "tokens", "tokens/doc", "bytes/token", "dups", "bad bytes", "s"],
      rows.map((r) => [
        r.id,
        r.domain,
        r.documents,
        mb(r.bytes),
        r.tokens,
        r.meanDocTokens,
        r.bytesPerToken.toFixed(2),
        r.duplicatesDropped,
        r.invalidBytesDropped,
        r.seconds.toFixed(1),
      ]),
    )}\n${tokenizer ? `tokenizer ${tokenizer.id} (vocab ${tokenizer.vocabSize}); ` : ""}${seconds} s in all\n`,
  );
}

/** `corpus info ID`. */
async function infoCommand(id: string, opts: { lab?: string; json?: boolean }): Promise<void> {
  const ctx = sourceContext({ lab: opts.lab });
  const s = getSource(id, ctx.paths);
  const a = await s.available(ctx);
  const text = latestTextStore(id, ctx.paths);
  const stores = tokenStoresOf(id, opts.lab);
  const info = {
    ...sourceIdentity(s),
    licence: s.licence,
    description: s.description,
    ...sourceAvailability(s, a),
    text: text && {
      documents: text.nDocs,
      bytes: text.nBytes,
      meanDocBytes: Math.round(text.nBytes / text.nDocs),
      clean: text.clean,
      fingerprint: text.fingerprint,
      builtAt: text.createdAt,
    },
    tokenStores: stores.map((m) => ({ tokenizer: m.tokenizerId, ...m.stats, clean: undefined, builtAt: m.createdAt })),
  };
  if (opts.json) return printJson(info);
  const lines = [
    `${s.id}: ${s.description}`,
    `  origin ${s.origin}, domain ${s.domain}, language ${s.language}, licence ${s.licence}`,
    `  ${s.defaultSuite ? "in the default suite; " : ""}available: ${a.ok ? "yes" : "no"}${a.reason ? ` (${a.reason})` : ""}`,
  ];
  if (text) {
    const c = text.clean;
    lines.push(
      `  text: ${text.nDocs.toLocaleString("en-US")} documents, ${mb(text.nBytes)} MB, mean ${Math.round(text.nBytes / text.nDocs).toLocaleString("en-US")} bytes/document`,
      `  cleaning: ${c.docsIn.toLocaleString("en-US")} offered, ${c.duplicatesDropped} duplicates and ${c.emptyDropped} empty dropped, ` +
        `${c.invalidBytesDropped} invalid bytes and ${c.controlCharsDropped} control characters removed`,
    );
  } else lines.push(`  not built yet (icl-lab corpus build ${s.id})`);
  for (const m of stores) {
    lines.push(
      `  tokens (${m.tokenizerId}): ${m.nTokens.toLocaleString("en-US")}, mean ${Math.round(m.stats.meanDocTokens).toLocaleString("en-US")} per document, ${m.stats.bytesPerToken.toFixed(2)} bytes/token`,
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

interface AddOptions {
  domain: string;
  language: string;
  licence: string;
  kind?: string;
  lab?: string;
  json?: boolean;
  quiet?: boolean;
}

/** `corpus add NAME PATH`: registers the source and builds its text store now, so a bad file is reported here. */
async function addCommand(name: string, path: string, opts: AddOptions): Promise<void> {
  if (!SOURCE_ID.test(name)) throw new UserError(`source name '${name}' must be lowercase letters, digits and '_', starting with a letter`);
  const paths = dataPaths(opts.lab);
  const existing = listSources(paths).find((s) => s.id === name);
  if (existing !== undefined && existing.origin !== "user") throw new UserError(`'${name}' is a built-in source; choose another name`);
  if (opts.kind !== undefined && !["file", "folder", "jsonl"].includes(opts.kind)) {
    throw new UserError(`--kind must be file, folder or jsonl, found '${opts.kind}'`);
  }
  if (!existsSync(path)) throw new UserError(`source '${name}': ${path} does not exist (expected a file, a folder of .txt/.md files, or a .jsonl file)`);
  const before = existsSync(paths.userSources) ? readFileSync(paths.userSources) : null;
  const spec = saveUserSource(paths, {
    id: name,
    path,
    kind: (opts.kind as UserSourceKind | undefined) ?? detectKind(path),
    domain: opts.domain,
    language: opts.language,
    licence: opts.licence,
  });
  let store;
  try {
    // Build now, so a bad file is reported here, not in the middle of an experiment.
    store = await buildTextStore(name, { lab: opts.lab, log: stderrLog(opts.quiet) });
  } catch (e) {
    // Leave the lab as it was.
    if (before !== null) writeFileAtomic(paths.userSources, before);
    else deleteUserSource(paths, name);
    throw e;
  }
  const m = store.manifest;
  if (opts.json) return printJson({ source: spec, documents: m.nDocs, bytes: m.nBytes, clean: m.clean });
  process.stdout.write(
    `added '${name}' (${spec.kind} ${spec.path}): ${m.nDocs.toLocaleString("en-US")} documents, ${mb(m.nBytes)} MB` +
      `${m.clean.duplicatesDropped ? `, ${m.clean.duplicatesDropped} duplicates dropped` : ""}\n`,
  );
}

/** `corpus remove NAME`. */
async function removeCommand(name: string, opts: { lab?: string; json?: boolean }): Promise<void> {
  const paths = dataPaths(opts.lab);
  if (!loadUserSources(paths).some((s) => s.id === name)) throw new UserError(`no user source named '${name}'`);
  deleteUserSource(paths, name);
  if (opts.json) return printJson({ removed: name });
  process.stdout.write(`removed '${name}'\n`);
}
