/**
 * The CLI tests' one way to run `icl-lab`: bin/icl-lab.js as a child process, its exit code and
 * output returned. Not a test file itself (the runner only picks up *.test.ts).
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The `icl-lab` executable of this checkout. */
export const BIN = fileURLToPath(new URL("../../bin/icl-lab.js", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `icl-lab ARGS` (then `--lab LAB` when `lab` is given) to its end. */
export function runCli(args: readonly string[], opts: { lab?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): CliResult {
  const argv = [BIN, ...args, ...(opts.lab !== undefined ? ["--lab", opts.lab] : [])];
  const r = spawnSync(process.execPath, argv, { encoding: "utf8", env: opts.env, timeout: opts.timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
