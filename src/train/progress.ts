/** The trainer's progress output: a one-line bar on a terminal, plain log lines at checkpoints otherwise. */
import { formatTokens } from "../util/format.ts";

/** A progress bar on a terminal (tokens, tokens/s, loss, last ICL score, ETA); lines otherwise. */
export class Progress {
  private readonly tty: boolean;
  private lastDraw = 0;
  private readonly t0 = Date.now();
  constructor(
    private readonly mode: "auto" | "lines" | "none",
    private readonly total: number,
    private readonly log: (s: string) => void,
  ) {
    this.tty = mode === "auto" && process.stderr.isTTY === true;
  }
  private line(tokens: number, tps: number, loss: number, icl: number | null): string {
    const eta = tps > 0 ? (this.total - tokens) / tps : 0;
    return (
      `${formatTokens(tokens)}/${formatTokens(this.total)} tokens  ${tps.toFixed(0)} tok/s  loss ${loss.toFixed(3)}` +
      `  icl ${icl === null ? "—" : icl.toFixed(3)}  eta ${fmtSeconds(eta)}`
    );
  }
  update(tokens: number, tps: number, loss: number, icl: number | null): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.lastDraw < 200) return;
    this.lastDraw = now;
    const w = 24,
      filled = Math.round((w * tokens) / this.total);
    process.stderr.write(`\r[${"#".repeat(filled)}${".".repeat(w - filled)}] ${this.line(tokens, tps, loss, icl)}\x1b[K`);
  }
  checkpoint(tokens: number, loss: number, icl: number | null): void {
    if (this.mode === "none") return;
    if (this.tty) process.stderr.write("\r\x1b[K");
    const elapsed = (Date.now() - this.t0) / 1000;
    this.log(
      `checkpoint ${formatTokens(tokens)} tokens: loss ${loss.toFixed(4)}${icl === null ? "" : `, icl score ${icl.toFixed(4)}`} (${fmtSeconds(elapsed)})`,
    );
  }
  done(): void {
    if (this.tty) process.stderr.write("\r\x1b[K");
  }
}

function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return "—";
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, "0")}m`;
}
