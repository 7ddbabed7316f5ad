/**
 * `icl-lab serve`: a read-only web dashboard over a lab (Fastify). It serves
 *
 *   GET /                 the single-page app (web/index.html; pages are #/ hash routes)
 *   GET /app.js, /app.css the page's script (bundled at startup, bundle.ts) and style
 *   GET /api/...          the JSON API (api.ts)
 *   GET /api/events       live updates as server-sent events (sse.ts)
 *   GET /files/<path>     a file inside the lab folder (reports, figures), nothing outside it (files.ts)
 *
 * Nothing else: every other path is a 404 with a JSON error, and every method but GET and HEAD a
 * 405 (there are no write endpoints). Bound to 127.0.0.1 by default; on a loopback address it
 * also refuses requests whose Host header is not a loopback name (a web page elsewhere cannot
 * read the lab through DNS rebinding). Pages load nothing from outside the machine (see the CSP).
 */
import { createReadStream } from "node:fs";
import Fastify, { type FastifyInstance } from "fastify";
import { resolveLabDir } from "../store/run-store.ts";
import { HttpError, registerApi, sendError } from "./api.ts";
import { webAssets } from "./bundle.ts";
import { contentType, fileInside } from "./files.ts";
import { Lab } from "./lab.ts";
import { LiveHub } from "./sse.ts";

export interface DashboardOptions {
  /** The lab folder (default $ICL_LAB_DIR or ./icl-lab-runs). */
  lab?: string;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 7007; 0 picks a free one). */
  port?: number;
  /** How often live updates look at the lab, ms (default 500). */
  pollMs?: number;
  /** A running run without a heartbeat for this long shows as stale (default: the store's, 300 s). */
  staleAfterS?: number;
}

export interface Dashboard {
  /** "http://127.0.0.1:7007/". */
  url: string;
  app: FastifyInstance;
  lab: Lab;
  close(): Promise<void>;
}

export const DEFAULT_PORT = 7007;

const CSP = [
  "default-src 'self'",
  // Vega compiles its expressions with Function().
  "script-src 'self' 'unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

function hostName(header: string | undefined): string {
  if (!header) return "";
  if (header.startsWith("[")) return header.slice(1, header.indexOf("]"));
  return header.split(":")[0];
}

/** The app without listening (tests use `app.inject`). */
export async function buildDashboard(opts: DashboardOptions = {}): Promise<{ app: FastifyInstance; lab: Lab; hub: LiveHub }> {
  const lab = new Lab(resolveLabDir(opts.lab), { staleAfterS: opts.staleAfterS });
  const hub = new LiveHub(lab, { pollMs: opts.pollMs });
  const host = opts.host ?? "127.0.0.1";
  const loopbackOnly = LOOPBACK.test(host);
  const app = Fastify({ logger: false, exposeHeadRoutes: true, routerOptions: { ignoreTrailingSlash: true } });

  app.addHook("onRequest", async (req, reply) => {
    if (loopbackOnly && !LOOPBACK.test(hostName(req.headers.host))) {
      return sendError(reply, 403, `this dashboard answers only requests to a loopback address, not '${req.headers.host ?? ""}'`);
    }
  });
  app.addHook("onSend", async (_req, reply, payload) => {
    reply.header("content-security-policy", CSP);
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "no-referrer");
    return payload;
  });
  app.addHook("preClose", async () => hub.close());
  app.addHook("onClose", async () => lab.close());

  app.setNotFoundHandler((req, reply) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      reply.header("allow", "GET, HEAD");
      return sendError(reply, 405, `${req.method} is not allowed: the dashboard is read-only`);
    }
    return sendError(reply, 404, `no such page or API route: ${req.url.split("?")[0]}`);
  });
  app.setErrorHandler((e, req, reply) => {
    const err = e instanceof Error ? e : new Error(String(e));
    if (err instanceof HttpError) return sendError(reply, err.statusCode, err.message);
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) return sendError(reply, status, err.message);
    process.stderr.write(`icl-lab serve: ${req.method} ${req.url}: ${err.stack ?? err.message}\n`);
    return sendError(reply, 500, `internal error: ${err.message}`);
  });

  // The page. Bundling starts now so the first visit does not wait for it.
  const assets = webAssets();
  assets.catch(() => {}); // reported by the routes below
  app.get("/", async (_req, reply) =>
    reply
      .type("text/html; charset=utf-8")
      .header("cache-control", "no-cache")
      .send((await assets).html),
  );
  app.get("/app.js", async (_req, reply) =>
    reply
      .type("text/javascript; charset=utf-8")
      .header("cache-control", "no-cache")
      .send((await assets).js),
  );
  app.get("/app.css", async (_req, reply) =>
    reply
      .type("text/css; charset=utf-8")
      .header("cache-control", "no-cache")
      .send((await assets).css),
  );
  app.get("/favicon.ico", async (_req, reply) => reply.code(204).send());

  app.route({
    method: "GET",
    url: "/api/events",
    exposeHeadRoute: false,
    handler: (req, reply) => {
      reply.hijack();
      hub.add(reply.raw);
      req.raw.on("error", () => reply.raw.end());
    },
  });

  app.get<{ Params: { "*": string } }>("/files/*", async (req, reply) => {
    const file = fileInside(lab.dir, req.params["*"] ?? "");
    if (!file) throw new HttpError(404, `no file '${req.params["*"]}' in the lab folder`);
    return reply.type(contentType(file.path)).header("content-length", file.size).send(createReadStream(file.path));
  });

  registerApi(app, lab);
  return { app, lab, hub };
}

/** Starts the dashboard and resolves once it listens (and its page is bundled). */
export async function startDashboard(opts: DashboardOptions = {}): Promise<Dashboard> {
  const { app, lab } = await buildDashboard(opts);
  await webAssets();
  const host = opts.host ?? "127.0.0.1";
  await app.listen({ host, port: opts.port ?? DEFAULT_PORT });
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : (opts.port ?? DEFAULT_PORT);
  const shown = host.includes(":") ? `[${host}]` : host;
  return { url: `http://${shown}:${port}/`, app, lab, close: () => app.close() };
}
