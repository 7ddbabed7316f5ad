/**
 * Parsers of option values shared by several commands. Each throws a `UserError` that names the
 * flag, what it expects and what it found.
 */
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { DEFAULT_SUITE, type TokenizerSpec } from "../data/index.ts";
import { UserError } from "./errors.ts";

/** The help of every command's `--lab <dir>`. */
export const LAB_HELP = "lab folder (default: $ICL_LAB_DIR or ./icl-lab-runs)";

/** The options of the commands that read or write a lab and can print JSON: --lab, --json and, with `quiet`, -q. */
export function labOptions(cmd: Command, opts: { quiet?: boolean } = {}): Command {
  cmd.option("--lab <dir>", LAB_HELP).option("--json", "print JSON");
  if (opts.quiet) cmd.option("-q, --quiet", "no progress messages");
  return cmd;
}

/** A commander parser for `--name N`: a positive integer (underscores allowed), else a UserError. */
export function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v.replace(/_/g, ""));
    if (!/^[0-9_]+$/.test(v) || !Number.isInteger(n) || n < 1) throw new UserError(`--${name} must be a positive integer, found '${v}'`);
    return n;
  };
}

/** A commander parser for `--minutes M`: a positive number of minutes (at most a week), else a UserError. */
export function minutesOption(v: string): number {
  const n = Number(v);
  if (!/^[0-9]*\.?[0-9]+$/.test(v.trim()) || !(n > 0) || n > 7 * 24 * 60)
    throw new UserError(`--minutes must be a number of minutes above 0 and at most a week (10080), found '${v}'`);
  return n;
}

/** The help of `--minutes`. */
export const MINUTES_HELP =
  "a wall-time limit: train the largest budget (tokens per run) that fits it on this machine, from throughput measured now (instead of --tokens)";

/** Splits a list given as `a,b c`: commas and/or white space, empty items dropped. */
export function splitList(s: string): string[] {
  return s
    .split(/[,\s]+/)
    .map((x) => x.trim())
    .filter((x) => x !== "");
}

/** Parses `--tokenizer byte|bpe|FILE` with `--vocab` and `--tokenizer-sources` into a spec. */
export function tokenizerSpecFrom(opts: { tokenizer?: string; vocab?: string; tokenizerSources?: string }): TokenizerSpec {
  const kind = opts.tokenizer ?? "bpe";
  if (kind === "byte") return { kind: "byte" };
  if (kind === "bpe") {
    const vocab = opts.vocab === undefined ? 4096 : Number(opts.vocab);
    if (!Number.isInteger(vocab)) throw new UserError(`--vocab must be an integer, found '${opts.vocab}'`);
    const sources = opts.tokenizerSources ? splitList(opts.tokenizerSources) : [...DEFAULT_SUITE];
    return { kind: "bpe", vocab, sources };
  }
  if (existsSync(kind)) return { kind: "file", path: kind };
  throw new UserError(`--tokenizer must be 'byte', 'bpe' or the path of a tokenizer.json, found '${kind}'`);
}
