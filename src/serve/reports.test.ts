/**
 * The dashboard's reports API over the fixture lab (fixtures/reports.ts: `implicit-dynamics` with
 * two figure specs and a summary, `fx-2l` with only its report.html): the list, newest first, with
 * HTML paths that the /files route serves; one report; a figure's spec as written; 404s for
 * missing reports and figures, for names that would leave the reports folder, and for symbolic
 * links out of it; and an empty list for a lab without reports.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { dashboardUnderTest } from "./fixtures/dashboard-lab.ts";
import { buildDashboard } from "./server.ts";
import type { ReportRow } from "./types.ts";

const t = dashboardUnderTest("icl-serve-reports-");

async function get<T>(url: string): Promise<T> {
  const res = await t.app.inject({ method: "GET", url });
  assert.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 300)}`);
  assert.match(String(res.headers["content-type"]), /application\/json/, url);
  return res.json() as T;
}

test("the reports list: every report folder, newest first, with its HTML, figures, summary and time", async () => {
  const reports = await get<ReportRow[]>("/api/reports");
  assert.deepEqual(
    reports.map((r) => r.name),
    t.lab.reports.names,
  );
  const [dynamics, fx] = reports;
  assert.deepEqual(dynamics, {
    name: "implicit-dynamics",
    html: "reports/implicit-dynamics/index.html",
    figures: ["cosine", "loss-vs-examples"],
    summary: t.lab.reports.summary,
    modified: Date.UTC(2024, 5, 1),
  });
  assert.deepEqual(fx, { name: "fx-2l", html: "reports/fx-2l/report.html", figures: [], summary: null, modified: Date.UTC(2024, 0, 1) });
  // The HTML paths are served under /files.
  for (const r of reports) {
    const res = await t.app.inject({ url: `/files/${r.html}` });
    assert.equal(res.statusCode, 200, r.html!);
    assert.match(String(res.headers["content-type"]), /text\/html/);
  }
  assert.deepEqual(await get<ReportRow>("/api/reports/implicit-dynamics"), dynamics);
});

test("a figure's Vega-Lite spec is served as written", async () => {
  for (const [name, spec] of Object.entries(t.lab.reports.figures)) {
    assert.deepEqual(await get<unknown>(`/api/reports/implicit-dynamics/figures/${name}`), spec, name);
  }
});

test("a missing report or figure, a name that leaves the reports folder, and links out of it are 404s", async () => {
  for (const [url, message] of [
    ["/api/reports/nothing", /no report 'nothing'/],
    ["/api/reports/nothing/figures/cosine", /no report 'nothing'/],
    ["/api/reports/fx-2l/figures/cosine", /report 'fx-2l' has no figure 'cosine'/],
    ["/api/reports/implicit-dynamics/figures/nothing", /report 'implicit-dynamics' has no figure 'nothing'/],
    ["/api/reports/implicit-dynamics/figures/leak", /has no figure 'leak'/],
    ["/api/reports/implicit-dynamics/figures/%2e%2e%2fsecret", /has no figure/],
    ["/api/reports/..%2Flab/figures/x", /no report '\.\.\/lab'/],
    ["/api/reports/implicit-dynamics%2F..%2F..%2F..%2Fsecret.txt", /no report/],
    ["/api/reports/elsewhere", /no report 'elsewhere'/],
    ["/api/reports/elsewhere/figures/x", /no report 'elsewhere'/],
  ] as const) {
    const res = await t.app.inject({ url });
    assert.equal(res.statusCode, 404, `${url} → ${res.statusCode} ${res.body.slice(0, 120)}`);
    assert.match(res.json().error, message, url);
    assert.doesNotMatch(res.body, /not for the dashboard/, url);
  }
  const names = (await get<ReportRow[]>("/api/reports")).map((r) => r.name);
  assert.ok(!names.includes("elsewhere"), "a link to a folder outside the lab is not a report");
});

test("'.' and '..' segments sent as they are (clients and t.app.inject resolve them first) are 404s too", async () => {
  await t.app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = t.app.server.address() as AddressInfo;
  for (const path of [
    "/api/reports/..",
    "/api/reports/../figures/x",
    "/api/reports/%2e%2e/figures/secret",
    "/api/reports/%2E%2E",
    "/api/reports/implicit-dynamics/figures/..",
    "/api/reports/implicit-dynamics/figures/%2e%2e",
    "/api/reports/./figures/x",
    "/api/reports/%2e",
  ]) {
    const res = await rawGet(port, path);
    assert.equal(res.status, 404, `${path} → ${res.status} ${res.body.slice(0, 120)}`);
    assert.match(res.body, /no report|has no figure/, path);
  }
});

/** A GET whose path is sent byte for byte (fetch and t.app.inject resolve '..' before sending). */
function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "GET" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("a lab without a reports folder has no reports", async () => {
  const d = await buildDashboard({ lab: join(t.dir, "not-yet") });
  try {
    const res = await d.app.inject({ url: "/api/reports" });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), []);
    assert.equal((await d.app.inject({ url: "/api/reports/fx-2l" })).statusCode, 404);
  } finally {
    await d.app.close();
  }
});
