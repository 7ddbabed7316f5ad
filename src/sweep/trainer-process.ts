/**
 * The parent's handle on a trainer process (trainer-child.ts): forked with the tsx loader and
 * `ICL_LAB_THREADS` so that a pool of them does not oversubscribe the cores, kept alive across
 * runs (a fresh Node process costs ~0.5 s), replaced when it dies.
 *
 * `run()` resolves with the child's `done` message; it rejects with `TrainFailed` when training
 * threw (a bad config, a diverged loss: retrying would fail again) and with `TrainerCrashed` when
 * the process died mid-run (killed, out of memory: worth one retry, which resumes).
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ChildJob, ChildMessage, ParentMessage } from "./trainer-child.ts";

export type DoneMessage = Extract<ChildMessage, { type: "done" }>;

export class TrainFailed extends Error {
  constructor(
    message: string,
    readonly runId: string | null,
  ) {
    super(message);
    this.name = "TrainFailed";
  }
}

export class TrainerCrashed extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrainerCrashed";
  }
}

const CHILD = fileURLToPath(new URL("./trainer-child.ts", import.meta.url));
// Absolute, so children start wherever the user's working directory is.
const TSX = import.meta.resolve("tsx");

export interface TrainerProcessOptions {
  /** Kernel threads for this process's training (ICL_LAB_THREADS). */
  threads: number;
  /** See trainer-child.ts. */
  dataModule?: string;
}

export class TrainerProcess {
  private readonly child: ChildProcess;
  private readonly ready: Promise<void>;
  private current: { resolve: (m: DoneMessage) => void; reject: (e: Error) => void; onMessage: (m: ChildMessage) => void } | null = null;
  private exited: string | null = null;

  constructor(readonly options: TrainerProcessOptions) {
    const args = options.dataModule ? ["--data-module", options.dataModule] : [];
    this.child = fork(CHILD, args, {
      execArgv: ["--import", TSX],
      env: { ...process.env, ICL_LAB_THREADS: String(options.threads) },
      serialization: "advanced",
      // Its own process group: Ctrl-C reaches the parent, which decides (a worker returns the job
      // to the queue first); the child's watchdog still ends it if the parent dies.
      detached: true,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.ready = new Promise((resolve, reject) => {
      this.child.once("message", (m: ChildMessage) =>
        m.type === "ready" ? resolve() : reject(new TrainerCrashed(`trainer process sent ${m.type} before ready`)),
      );
      this.child.once("exit", () => reject(new TrainerCrashed(`trainer process exited while starting (${this.exited})`)));
    });
    this.ready.catch(() => {}); // observed by run()
    this.child.on("message", (m: ChildMessage) => {
      const cur = this.current;
      if (!cur || m.type === "ready") return;
      if (m.type === "done") {
        this.current = null;
        cur.resolve(m);
      } else if (m.type === "error") {
        this.current = null;
        cur.reject(new TrainFailed(m.message, m.runId));
      } else cur.onMessage(m);
    });
    this.child.on("exit", (code, signal) => {
      this.exited = signal ? `killed by ${signal}` : `exit code ${code}`;
      const cur = this.current;
      this.current = null;
      cur?.reject(new TrainerCrashed(`the trainer process died (${this.exited})`));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** False once the process has exited: replace it. */
  get alive(): boolean {
    return this.exited === null;
  }

  get busy(): boolean {
    return this.current !== null;
  }

  /** Trains one run; `onMessage` sees `started`, `checkpoint` and `log` messages. */
  async run(job: ChildJob, onMessage: (m: ChildMessage) => void = () => {}): Promise<DoneMessage> {
    if (this.current) throw new Error("TrainerProcess.run: this process is already training a run");
    await this.ready;
    if (!this.alive) throw new TrainerCrashed(`the trainer process has exited (${this.exited})`);
    return new Promise<DoneMessage>((resolve, reject) => {
      this.current = { resolve, reject, onMessage };
      this.child.send({ type: "run", job } satisfies ParentMessage);
    });
  }

  /** Ends the process now (a run in progress stays resumable from its last resume checkpoint). */
  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.alive) this.child.kill(signal);
  }

  /** Asks an idle process to exit and waits for it. */
  async close(): Promise<void> {
    if (!this.alive) return;
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    if (this.busy || !this.child.connected) this.kill();
    else this.child.send({ type: "exit" } satisfies ParentMessage);
    await gone;
  }
}
