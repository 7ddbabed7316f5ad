/**
 * The CLI's one error policy. A `UserError` (bad input: a flag, a missing run, a corrupt file)
 * prints as one line `icl-lab: MESSAGE` on stderr with exit code 1; an `Error` thrown by the
 * library (src/**) is treated the same way, since the library's messages name what was expected
 * and what was found. JavaScript's own error classes (TypeError, RangeError…) mean a bug in
 * icl-lab: they print "internal error", the stack and how to report it. `--debug` or
 * ICL_LAB_DEBUG=1 prints the stack of every error.
 */

/** An error caused by the user's input: printed as one line (no stack) with exit code 1. */
export class UserError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UserError";
  }
}

// Thrown by the language runtime for programming mistakes, not by the library on bad input.
const INTERNAL: ReadonlyArray<new (...args: never[]) => Error> = [TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError];

/** Whether `e` is a bug in icl-lab (a TypeError, RangeError…) rather than a library or user error. */
export function isInternalError(e: unknown): boolean {
  return INTERNAL.some((c) => e instanceof c);
}

/** The one-line message of a library error (Node's system errors can carry an empty message). */
function messageOf(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  if (e.message !== "") return e.message;
  const code = (e as NodeJS.ErrnoException).code;
  const first = (e as { errors?: unknown[] }).errors?.[0];
  return code ?? (first instanceof Error ? messageOf(first) : e.name);
}

/**
 * Wraps a command body: library errors become `UserError`s (the original kept as `cause`, for
 * `--debug`); UserErrors and internal errors pass through unchanged.
 */
export function withUserErrors<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      if (e instanceof UserError || isInternalError(e)) throw e;
      throw new UserError(messageOf(e), { cause: e });
    }
  };
}

/** Whether ICL_LAB_DEBUG asks for stacks ("", "0" and "false" do not). */
export function debugFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.ICL_LAB_DEBUG;
  return v !== undefined && !["", "0", "false"].includes(v.trim().toLowerCase());
}

/**
 * What the CLI prints on stderr for an error that ended a command (without a trailing newline),
 * and its exit code: one line for user and library errors, a stack for internal ones (and for
 * every error when `debug`).
 */
export function describeError(e: unknown, debug: boolean): { text: string; exitCode: number } {
  const stackOf = (x: unknown) => (x instanceof Error && x.stack ? x.stack : String(x));
  if (isInternalError(e)) {
    return {
      text: `icl-lab: internal error: ${stackOf(e)}\n` + "icl-lab: this is a bug in icl-lab; please report it with the command you ran and the output above",
      exitCode: 1,
    };
  }
  const line = `icl-lab: ${messageOf(e)}`;
  if (!debug) return { text: line, exitCode: 1 };
  const cause = e instanceof Error && e.cause !== undefined ? e.cause : e;
  return { text: `${line}\n${stackOf(cause)}`, exitCode: 1 };
}
