/**
 * The `icl-lab` command line: one file per command group under src/cli/, each exporting
 * `register(program)`. Every error that ends a command goes through `describeError` (errors.ts):
 * one line `icl-lab: MESSAGE` and exit 1, a stack only for internal errors or with `--debug`.
 */
import { Command, CommanderError } from "commander";
import { debugFromEnv, describeError } from "./errors.ts";

type Registrar = (program: Command) => void;

// One line per command group; keep the list sorted.
const groups: Array<() => Promise<{ register: Registrar }>> = [
  () => import("./corpus.ts"),
  () => import("./demo.ts"),
  () => import("./experiment.ts"),
  () => import("./report.ts"),
  () => import("./export.ts"),
  () => import("./measure.ts"),
  () => import("./runs.ts"),
  () => import("./serve.ts"),
  () => import("./sweep.ts"),
  () => import("./tokenizer.ts"),
  () => import("./train.ts"),
];

export async function main(argv: string[]): Promise<void> {
  const program = new Command("icl-lab")
    .description("Train small language models on your CPU and watch in-context learning appear.")
    .option("--debug", "print the stack of any error (also: ICL_LAB_DEBUG=1)")
    .exitOverride()
    .showHelpAfterError();
  try {
    for (const load of groups) (await load()).register(program);
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    const { text, exitCode } = describeError(e, debugFromEnv() || program.opts().debug === true);
    process.stderr.write(`${text}\n`);
    process.exitCode = exitCode;
  }
}
