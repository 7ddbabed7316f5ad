/**
 * The dashboard end to end in headless Chromium (Debian's `chromium`, driven by playwright-core;
 * no browser is downloaded): the runs list shows the fixture's runs, a run page draws its charts
 * (counted in the rendered SVG marks and read back from the Vega views), the attention view
 * answers hovering, the compare page overlays runs, the reports pages list the lab's reports and
 * draw a report's figure specs, and a run training in this process updates its open page within
 * 2 s of each checkpoint. No request leaves the machine. Screenshots go to test-artifacts/serve/.
 *
 * Without /usr/bin/chromium (or the browser named by ICL_LAB_TEST_CHROMIUM) these tests skip, except
 * in strict mode (CI, ICL_LAB_REQUIRE_TOOLS=1: src/util/test-env.ts), where they fail.
 */
import { after, before, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { useBackend } from "../engine/backend.ts";
import { referenceKernels } from "../engine/reference/index.ts";
import { syntheticData, tinyTrainConfig } from "../train/fixtures/synthetic-data.ts";
import { train } from "../train/train.ts";
import { buildDashboardLab, type DashboardLab } from "./fixtures/dashboard-lab.ts";
import { startDashboard, type Dashboard } from "./server.ts";
import { skipOrFail } from "../util/test-env.ts";

const CHROMIUM = process.env.ICL_LAB_TEST_CHROMIUM || "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
];
const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/serve/", import.meta.url));
const available = existsSync(CHROMIUM);

let dir: string;
let lab: DashboardLab;
let dashboard: Dashboard;
let browser: BrowserContext;
const requests: string[] = [];
const pageErrors: string[] = [];

before(async () => {
  if (!available) return;
  useBackend(referenceKernels); // the live run's training: small, and the same on every machine
  dir = mkdtempSync(join(tmpdir(), "icl-serve-browser-"));
  lab = buildDashboardLab(dir);
  dashboard = await startDashboard({ lab: lab.lab, port: 0, pollMs: 250 });
  mkdirSync(ARTIFACTS, { recursive: true });
  const { chromium } = await import("playwright-core");
  browser = await chromium.launchPersistentContext(join(dir, "chromium-profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
  browser.on("request", (r) => requests.push(r.url()));
  browser.on("weberror", (e) => pageErrors.push(e.error().message));
});

after(async () => {
  await browser?.close();
  await dashboard?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Skips (locally) or fails (strict mode) without Chromium; returns whether the test may go on. */
function needChromium(t: TestContext): boolean {
  if (available) return true;
  skipOrFail(t, `chromium not installed (${CHROMIUM}); \`bash scripts/install-system.sh --test\` installs it`);
  return false;
}

async function open(hash: string): Promise<Page> {
  const page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(`${dashboard.url}${hash}`);
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Waits until the page has drawn chart `name` and returns how many SVG marks of `kind` it holds (not axes' or legends'). */
async function marks(page: Page, name: string, kind: string): Promise<number> {
  await page.waitForFunction((n) => window.iclDashboard?.views.has(n), name, { timeout: 10_000 });
  return page.locator(`[data-chart="${name}"] svg g.mark-${kind}.role-mark path`).count();
}

test("the runs list shows the fixture's runs with status, ICL score and a corrupt run flagged", async (t) => {
  if (!needChromium(t)) return;
  const page = await open("#/");
  const row = page.locator('tr[data-run="fx-2l"]');
  await row.waitFor({ timeout: 10_000 });
  assert.equal(await row.locator(".status").first().textContent(), "finished");
  assert.match((await row.locator("td[data-icl]").textContent())!, /^−0\.456 \[−0\.49, −0\.43\]$/);
  assert.match((await row.textContent())!, /attn-only · 2 layers/);
  assert.equal(await page.locator('tr[data-run="gone"] [data-status="stale"]').count(), 1);
  assert.equal(await page.locator('tr[data-run="broke"] [data-status="failed"]').count(), 1);
  assert.equal(await page.locator('tr[data-run="bad-config"] [data-status="corrupt"]').count(), 1);
  assert.equal(await page.locator("tr[data-run]").count(), 7);
  await page.locator("#live.on").waitFor({ timeout: 5000 });
  await shot(page, "runs-list");

  // Filter by experiment.
  await page.selectOption("#experiment-filter", "other");
  await page.waitForFunction(() => document.querySelectorAll("tr[data-run]").length === 2);
  assert.deepEqual(await page.locator("tr[data-run]").evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.run).sort()), ["broke", "gone"]);
});

test("a run page draws its charts: ICL score and loss with the phase window and bump, position loss, head heatmaps with a slider, ablation", async (t) => {
  if (!needChromium(t)) return;
  const page = await open("#/run/fx-2l");
  // ICL score: 25 checkpoints drawn as 25 points, the detected window as a shaded rectangle.
  assert.equal(await marks(page, "icl", "symbol"), 25);
  assert.equal(await page.locator('[data-chart="icl"] svg g.mark-rect.role-mark path').count(), 1, "one phase-change window");
  assert.equal(await page.evaluate(() => window.iclDashboard.views.get("icl")!.data("icl").length), 25);
  // Training loss: 25 points, the bump shaded and its peak ruled.
  assert.equal(await marks(page, "trainLoss", "symbol"), 25);
  assert.equal(await page.locator('[data-chart="trainLoss"] svg g.mark-rect.role-mark path').count(), 1);
  assert.equal(await page.locator('[data-chart="trainLoss"] svg g.mark-rule.role-mark line').count(), 1);
  // Loss by position: the automatically chosen checkpoints (5 spread in log tokens + the window's ends).
  const curves = await marks(page, "positionLoss", "line");
  const ticked = await page.locator("#position-checkpoints input:checked").count();
  assert.ok(curves >= 5 && curves === ticked, `${curves} curves for ${ticked} ticked checkpoints`);
  const extra = await page.locator("#position-checkpoints input:not(:checked)").first().getAttribute("value");
  await page.locator(`#position-checkpoints input[value="${extra}"]`).check();
  await page.waitForFunction((n) => document.querySelectorAll('[data-chart="positionLoss"] svg g.mark-line.role-mark path').length === n + 1, curves);
  // Head scores: 4 heatmaps × 4 heads; the slider goes back to the first checkpoint, where L1H0 was no induction head yet.
  assert.equal(await marks(page, "heads", "rect"), 16);
  const inductionOf = () =>
    page.evaluate(
      () =>
        (window.iclDashboard.views.get("heads")!.data("heads") as Array<{ layer: number; head: number; score: string; value: number }>).find(
          (r) => r.layer === 1 && r.head === 0 && r.score === "induction",
        )!.value,
    );
  assert.ok((await inductionOf()) > 0.7);
  await page.locator("#heads-slider").fill("0");
  await page.waitForFunction(() => /^10\.0k tokens \(1 of 25\)/.test(document.getElementById("heads-slider-label")!.textContent!), undefined, {
    timeout: 5000,
  });
  await page.waitForFunction(
    () =>
      (window.iclDashboard.views.get("heads")!.data("heads") as Array<{ layer: number; head: number; score: string; value: number }>).some(
        (r) => r.layer === 1 && r.head === 0 && r.score === "induction" && r.value < 0.1,
      ),
    undefined,
    { timeout: 5000 },
  );
  assert.equal(await page.locator('[data-chart="heads"]').getAttribute("data-embeds"), "1", "the slider changes the data, not the chart");
  // Ablation table: L1H0 carries most of the ICL score.
  assert.equal(await page.locator("#ablation-table tbody tr").first().getAttribute("data-head"), "L1H0");
  assert.equal(await marks(page, "ablation", "rect"), 8);
  await shot(page, "run-page");

  // A corrupt run's page says so.
  const bad = await open("#/run/bad-config");
  await bad.locator(".error", { hasText: "corrupt" }).waitFor({ timeout: 10_000 });
  // An unknown run's page says there is none.
  const none = await open("#/run/no-such-run");
  await none.locator(".error", { hasText: "no run 'no-such-run'" }).waitFor({ timeout: 10_000 });
});

test("the attention view shows the tokens and, on hover, where every head attends from the hovered token", async (t) => {
  if (!needChromium(t)) return;
  const page = await open("#/run/fx-2l/attention?length=12&seed=1");
  await page.locator(".tok").first().waitFor({ timeout: 15_000 });
  assert.equal(await page.locator(".tok").count(), 25, "BOS + 12 tokens twice");
  assert.equal(await page.locator(".head-card").count(), 4);
  assert.deepEqual(await page.locator(".head-card.induction").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.head)), ["L1H0"]);

  for (const q of [20, 7]) {
    await page.hover(`.tok[data-i="${q}"]`);
    await page.waitForFunction((i) => document.getElementById("attention-query")?.dataset.query === String(i), q);
    // The tokens are shaded by the focused head's attention from token q: one weight per earlier token, summing to 1.
    const weights = await page.locator(".tok[data-w]").evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.w)));
    assert.equal(weights.length, q + 1);
    assert.ok(Math.abs(weights.reduce((s, w) => s + w, 0) - 1) < 5e-3, `weights sum to ${weights.reduce((s, w) => s + w, 0)}`);
    const top = Number(await page.locator("#attention-query").getAttribute("data-top"));
    assert.equal(top, weights.indexOf(Math.max(...weights)));
    // Every head's strip shows its own row.
    for (const head of ["L0H0", "L0H1", "L1H0", "L1H1"]) {
      assert.equal(await page.locator(`.head-card[data-head="${head}"] .cell[data-w]`).count(), q + 1, head);
    }
  }
  // Clicking a head focuses it and draws its whole pattern.
  await page.locator('.head-card[data-head="L0H1"]').click();
  await page.waitForFunction(() => document.getElementById("focus-title")?.textContent === "Pattern of L0H1");
  assert.equal((await marks(page, "attention", "rect")) > 0, true);
  await page.hover('.tok[data-i="20"]');
  await shot(page, "attention");
});

test("compare overlays the ICL curves of the selected runs", async (t) => {
  if (!needChromium(t)) return;
  const page = await open("#/");
  for (const id of ["fx-2l", "fx-1l", "fx-lstm"]) await page.locator(`tr[data-run="${id}"] input[type=checkbox]`).check();
  await page.locator("#compare-selected").click();
  assert.equal(await marks(page, "compareIcl", "symbol"), 75);
  const labels = await page.evaluate(() => [
    ...new Set((window.iclDashboard.views.get("compareIcl")!.data("icl") as Array<{ label: string }>).map((p) => p.label)),
  ]);
  assert.deepEqual(labels, ["fx-2l", "fx-1l", "fx-lstm"]);
  await page.locator("#compare-table table.shin").waitFor();
  assert.equal(await page.locator("#compare-table tbody tr").count(), 3);
  await shot(page, "compare");
});

test("reports: the list shows every report; a report page draws each of its figure specs", async (t) => {
  if (!needChromium(t)) return;
  const page = await open("#/reports");
  await page.locator("li[data-report]").first().waitFor({ timeout: 10_000 });
  assert.deepEqual(await page.locator("li[data-report]").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.report)), lab.reports.names);
  assert.equal(await page.locator('li[data-report="fx-2l"] a.html-link').getAttribute("href"), `/files/${lab.report}`);
  assert.equal(await page.locator('li[data-report="implicit-dynamics"] details pre').textContent(), lab.reports.summary);
  await shot(page, "reports");

  await page.locator('li[data-report="implicit-dynamics"] a.report-name').click();
  const figures = Object.keys(lab.reports.figures);
  await page.waitForFunction((names) => names.every((n) => window.iclDashboard.views.has(n)), figures, { timeout: 10_000 });
  assert.equal(await page.locator("#report-figures [data-chart] svg").count(), figures.length);
  assert.equal(await page.evaluate(() => window.iclDashboard.views.size), figures.length);
  // The drawn marks and data are the spec's: 5 points and 3 bars.
  const points = (lab.reports.figures["loss-vs-examples"] as { datasets: Record<string, unknown[]> }).datasets.points;
  assert.equal(await marks(page, "loss-vs-examples", "symbol"), points.length);
  assert.deepEqual(
    await page.evaluate(() =>
      window.iclDashboard.views
        .get("loss-vs-examples")!
        .data("points")
        .map((p) => ({ ...p })),
    ),
    points,
  );
  assert.equal(await marks(page, "cosine", "rect"), 3);
  assert.equal(await page.locator("a.html-link").getAttribute("href"), "/files/reports/implicit-dynamics/index.html");
  await shot(page, "report-figures");

  // A report without specs says so and links its HTML; an unknown one says there is none.
  const fx = await open("#/reports/fx-2l");
  await fx.locator("#report-figures .note", { hasText: "no figure specs" }).waitFor({ timeout: 10_000 });
  assert.equal(await fx.locator("#report-figures .note a").getAttribute("href"), "/files/reports/fx-2l/report.html");
  const none = await open("#/reports/no-such-report");
  await none.locator(".error", { hasText: "no report 'no-such-report'" }).waitFor({ timeout: 10_000 });
});

test("live: a run training in this process updates its open page within 2 s of each checkpoint", async (t) => {
  if (!needChromium(t)) return;
  let page: Page | null = null;
  const delays: number[] = [];
  let checkpoints = 0;
  const result = await train(tinyTrainConfig({ name: "live-demo", experiment: "live", seed: 1, tokens: 32 * 60, measures: ["icl"] }), {
    lab: lab.lab,
    progress: "none",
    log: () => {},
    data: async (c) => syntheticData({ vocab: 13, nCtx: c.model.nCtx, evalWindows: 4, seed: c.seed }),
    measures: {
      // A stand-in ICL score that falls as training goes on.
      icl: (_model, ctx) => {
        const score = -0.05 - 0.1 * Math.log10(ctx.tokens / 32);
        return { score, lo: score - 0.02, hi: score + 0.02, se: 0.01, loss50: 2.5, loss500: 2.5 + score };
      },
    },
    onCheckpoint: async (info) => {
      checkpoints++;
      if (page === null) {
        page = await open(`#/run/${info.runId}`);
        await page.waitForFunction(() => window.iclDashboard?.views.get("trainLoss")?.data("trainLoss").length === 1, undefined, { timeout: 10_000 });
        return;
      }
      // The trainer waits here (it awaits this callback): the page must show the new point within 2 s.
      const t0 = Date.now();
      await page.waitForFunction(
        (n) => window.iclDashboard.views.get("trainLoss")?.data("trainLoss").length === n && window.iclDashboard.views.get("icl")?.data("icl").length === n,
        checkpoints,
        { timeout: 2000, polling: 50 },
      );
      delays.push(Date.now() - t0);
    },
  });
  assert.ok(result.finished);
  assert.ok(checkpoints >= 5, `${checkpoints} checkpoints`);
  assert.equal(delays.length, checkpoints - 1);
  assert.ok(Math.max(...delays) <= 2000, `updates arrived ${delays.join(", ")} ms after the checkpoints`);
  const p = page as unknown as Page;
  // The charts were updated in place (view.change), not redrawn, and the status turns to finished.
  assert.equal(await p.locator('[data-chart="trainLoss"]').getAttribute("data-embeds"), "1");
  assert.ok(Number(await p.locator('[data-chart="trainLoss"]').getAttribute("data-renders")) >= checkpoints);
  assert.equal(await marks(p, "icl", "symbol"), checkpoints);
  await p.locator('#run-head [data-status="finished"]').waitFor({ timeout: 3000 });
  await shot(p, "live-run");
  t.diagnostic(`page updated ${delays.join(", ")} ms after each checkpoint`);
});

test("nothing is loaded from outside the machine and the pages raised no errors", async (t) => {
  if (!needChromium(t)) return;
  assert.ok(requests.length > 10);
  const outside = requests.filter((u) => !u.startsWith(dashboard.url) && !u.startsWith("data:") && !u.startsWith("blob:"));
  assert.deepEqual(outside, []);
  assert.deepEqual(pageErrors, []);
});
