/**
 * Live updates as server-sent events (`GET /api/events`). While at least one page listens, the
 * hub polls the lab every `pollMs` (default 500 ms): a `stat` of `lab.db` and its WAL file tells
 * whether anything was written since the last look, and only then are the runs read; a full read
 * also happens every `fullEveryMs` (a run turns stale without any write). Each run whose status,
 * tokens or update time changed is sent as an event `run` (types.ts `RunEvent`); the trainer
 * touches the run record once a checkpoint's results are all stored, so the page refetches then.
 *
 * Events: `run` (data: RunEvent), `ping` comments every ~15 s so proxies keep the stream open.
 */
import { statSync } from "node:fs";
import type { ServerResponse } from "node:http";
import type { Lab } from "./lab.ts";
import type { RunEvent } from "./types.ts";
import { displayStatus } from "./views.ts";

export interface LiveHubOptions {
  pollMs?: number;
  fullEveryMs?: number;
}

export class LiveHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly seen = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private fileSignature = "";
  private lastFull = 0;
  private lastPing = 0;
  private primed = false;
  readonly pollMs: number;
  private readonly fullEveryMs: number;

  constructor(
    private readonly lab: Lab,
    options: LiveHubOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 500;
    this.fullEveryMs = options.fullEveryMs ?? 5000;
  }

  get size(): number {
    return this.clients.size;
  }

  /** Takes over `res` as an event stream until the client goes away or the hub closes. */
  add(res: ServerResponse): void {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    // Reconnect quickly after a restart; the first comment flushes the headers.
    res.write(`retry: 1000\n: connected\n\n`);
    this.clients.add(res);
    res.on("close", () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stop();
    });
    if (!this.timer) {
      if (!this.primed) this.poll(true);
      this.timer = setInterval(() => this.tick(), this.pollMs);
      this.timer.unref();
    }
  }

  /** Ends every stream (the server is closing). */
  close(): void {
    this.stop();
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    try {
      this.poll(false);
    } catch (e) {
      // A poll that fails (lab being migrated, disk hiccup) is retried at the next tick.
      this.broadcastComment(`poll failed: ${(e as Error).message.replace(/\n/g, " ")}`);
    }
    const now = Date.now();
    if (now - this.lastPing > 15_000) {
      this.lastPing = now;
      this.broadcastComment("ping");
    }
  }

  /** Reads the runs when the files changed (or `force`, or the full-read interval passed) and sends what changed. */
  private poll(force: boolean): void {
    const signature = this.signature();
    const now = Date.now();
    if (!force && signature === this.fileSignature && now - this.lastFull < this.fullEveryMs) return;
    this.fileSignature = signature;
    this.lastFull = now;
    const quiet = !this.primed; // the first read only learns the current state
    this.primed = true;
    const store = this.lab.open();
    if (!store) return;
    for (const info of store.listRuns()) {
      const event: RunEvent = { id: info.id, status: displayStatus(info), tokens: info.tokens, updatedAt: info.updatedAt };
      const fingerprint = `${event.status}|${event.tokens}|${event.updatedAt}`;
      const before = this.seen.get(info.id);
      if (before === fingerprint) continue;
      this.seen.set(info.id, fingerprint);
      if (!quiet) this.broadcast("run", before === undefined ? { ...event, added: true } : event);
    }
  }

  private signature(): string {
    const parts: string[] = [];
    for (const f of ["lab.db", "lab.db-wal"]) {
      try {
        const st = statSync(`${this.lab.dir}/${f}`);
        parts.push(`${st.mtimeMs}:${st.size}`);
      } catch {
        parts.push("-");
      }
    }
    return parts.join("|");
  }

  private broadcast(event: string, data: unknown): void {
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of this.clients) res.write(text);
  }

  private broadcastComment(text: string): void {
    for (const res of this.clients) res.write(`: ${text}\n\n`);
  }
}
