/**
 * The `icl-lab` command line: one file per command group under src/cli/, each exporting
 * `register(program)`. Errors raised with `UserError` print as one clear line and exit 1.
 */
import { Command, CommanderError } from "commander";
import { UserError } from "./errors.ts";

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
    .exitOverride()
    .showHelpAfterError();
  for (const load of groups) (await load()).register(program);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    if (e instanceof UserError) {
      console.error(`icl-lab: ${e.message}`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}
