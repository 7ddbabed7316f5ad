/**
 * A process of the classification runs' pool (src/experiments/classifier-pool.ts), forked with the
 * tsx loader and `ICL_LAB_THREADS`: it trains the jobs it is sent, one after another, each recorded
 * in the lab's store by the run itself (src/train/classifier-run.ts), and reports progress lines,
 * the outcome or the error over the IPC channel. It exits when the channel closes (the parent is
 * done, or gone).
 *
 *   node --import tsx classifier-child.ts --lab DIR
 */
import { pathToFileURL } from "node:url";
import { type ClassifierRunJob, type ClassifierRunOutcome, runClassifierJob } from "../train/classifier-run.ts";

export type ChildRequest = { type: "run"; job: ClassifierRunJob };
export type ChildReply =
  | { type: "ready" }
  | { type: "log"; line: string }
  | { type: "done"; outcome: ClassifierRunOutcome }
  | { type: "failed"; runId: string; error: string };

function main(): void {
  if (!process.send) throw new Error("classifier-child.ts must be started with an IPC channel (child_process.fork)");
  const i = process.argv.indexOf("--lab");
  if (i < 0 || process.argv[i + 1] === undefined) throw new Error("classifier-child.ts: --lab DIR is required");
  const lab = process.argv[i + 1];
  const send = (m: ChildReply) => process.send!(m);
  process.on("message", (m: ChildRequest) => {
    if (m.type !== "run") return;
    try {
      const outcome = runClassifierJob(lab, m.job, { log: (line) => send({ type: "log", line }) });
      send({ type: "done", outcome });
    } catch (e) {
      send({ type: "failed", runId: m.job.runId, error: (e as Error).message });
    }
  });
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready" });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main();
