/**
 * Process helpers of the Debian sources: finding an executable on a PATH (`which`), running a tool
 * with its stdout as bytes and a failure message that names the command and quotes its stderr
 * (`run`), and a bounded pool that keeps a few tool runs in flight while yielding results in input
 * order (`mapPool`, used to render man pages on all cores yet keep the corpus order deterministic).
 */
import { spawn } from "node:child_process";
import { existsSync, lstatSync } from "node:fs";
import { delimiter, join } from "node:path";

/** Full path of an executable on the PATH of `env`, or null. */
export function which(cmd: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (cmd.includes("/")) return existsSync(cmd) ? cmd : null;
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const p = join(dir, cmd);
    try {
      if (lstatSync(p).isFile() || lstatSync(p).isSymbolicLink()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** The tools of `tools` that are not on the PATH of `env`. */
export function missingTools(tools: string[], env: NodeJS.ProcessEnv): string[] {
  return tools.filter((t) => which(t, env) === null);
}

/** Runs a command; resolves with stdout bytes, rejects with a message naming the command and stderr. */
export function run(
  cmd: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: Uint8Array; timeoutMs?: number } = {},
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs !== undefined) timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`could not run ${cmd}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out));
      else {
        const stderr = Buffer.concat(err).toString("utf8").trim().split("\n").slice(-3).join(" | ");
        reject(new Error(`${cmd} ${args.join(" ")} failed (${signal ?? `exit ${code}`}): ${stderr}`));
      }
    });
    child.stdin.on("error", () => {
      // The tool may exit before reading all input; its exit status reports the problem.
    });
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

/** Runs `fn` over items with at most `limit` in flight, yielding results in input order. */
export async function* mapPool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const pending: Array<Promise<R>> = [];
  let next = 0;
  while (next < items.length && pending.length < limit) pending.push(fn(items[next++]));
  while (pending.length > 0) {
    const r = await pending.shift()!;
    if (next < items.length) pending.push(fn(items[next++]));
    yield r;
  }
}
