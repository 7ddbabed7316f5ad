/**
 * The dashboard's one connection to a lab. The lab may not exist yet when the dashboard starts
 * (a user opens it, then starts the first training run): the store is opened once `lab.db`
 * appears, and until then the lab reads as empty. The dashboard never creates the lab itself.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { RunStore } from "../store/run-store.ts";

export class Lab {
  private store: RunStore | null = null;

  constructor(
    readonly dir: string,
    private readonly options: { staleAfterS?: number } = {},
  ) {}

  /** The store, or null while the lab has no `lab.db`. */
  open(): RunStore | null {
    if (this.store) return this.store;
    if (!existsSync(join(this.dir, "lab.db"))) return null;
    this.store = RunStore.open(this.dir, { staleAfterS: this.options.staleAfterS, busyTimeoutMs: 2000 });
    return this.store;
  }

  close(): void {
    this.store?.close();
    this.store = null;
  }
}
