/**
 * `icl-lab serve [--lab DIR] [--port N] [--host ADDR]`: the dashboard (src/serve/server.ts), a
 * read-only web page over the lab to watch runs train and explore their ICL curves, head scores
 * and attention patterns. Prints its address on stdout and serves until interrupted (Ctrl-C).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { resolveLabDir } from "../store/run-store.ts";
import { UserError, withUserErrors } from "./errors.ts";
import { LAB_HELP } from "./options.ts";

interface ServeOptions {
  lab?: string;
  port: string;
  host: string;
}

export function register(program: Command): void {
  program
    .command("serve")
    .description("serve the dashboard: watch runs train, compare ICL curves, explore head scores and attention (read-only)")
    .option("--lab <dir>", LAB_HELP)
    .option("--port <n>", "port to listen on (0: any free port)", "7007")
    .option("--host <addr>", "address to listen on; anything but a loopback address exposes the lab to the network, without authentication", "127.0.0.1")
    .action(
      withUserErrors(async (opts: ServeOptions) => {
        const port = Number(opts.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port must be an integer in [0, 65535], found '${opts.port}'`);
        const lab = resolveLabDir(opts.lab);
        const { startDashboard } = await import("../serve/server.ts");
        let dashboard;
        try {
          dashboard = await startDashboard({ lab, port, host: opts.host });
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === "EADDRINUSE") throw new UserError(`port ${port} on ${opts.host} is in use; choose another with --port (0 picks a free one)`);
          if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") throw new UserError(`cannot listen on --host ${opts.host}: no such local address`);
          throw e;
        }
        if (!existsSync(join(lab, "lab.db"))) {
          process.stderr.write(`icl-lab: no lab at ${lab} yet; runs appear on the page once one starts there\n`);
        }
        if (!/^(127\.|::1$|localhost$)/.test(opts.host)) {
          process.stderr.write(`icl-lab: warning: listening on ${opts.host}: anyone who can reach it can read the lab (no authentication)\n`);
        }
        process.stdout.write(`icl-lab: dashboard of ${lab} at ${dashboard.url} (Ctrl-C stops it)\n`);
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.off("SIGINT", stop);
            process.off("SIGTERM", stop);
            void dashboard.close().then(resolve, resolve);
          };
          process.on("SIGINT", stop);
          process.on("SIGTERM", stop);
        });
      }),
    );
}
