/**
 * Server-side rendering of the chart specs (charts.ts): Vega-Lite → Vega → SVG with vega's
 * headless View, and SVG → PNG with resvg (a Rust SVG rasteriser, prebuilt per platform in npm).
 *
 * Fonts: resvg draws text only with fonts it is given. Vega writes `font-family="sans-serif"`;
 * we give resvg DejaVu Sans, from the system (Debian's fonts-dejavu-core:
 * /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf, or whatever `fc-match sans-serif` names), or
 * from the npm package `dejavu-fonts-ttf` when it is installed; with neither, resvg's own scan of
 * the system fonts is the last resort, and a PNG may then lack its text (the SVG never does).
 */
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { TopLevelSpec } from "vega-lite";
import { escapeHtml } from "./tables.ts";

/** A rendered chart: the SVG text and the Vega spec it was compiled to. */
export interface RenderedChart {
  svg: string;
  /** Warnings Vega-Lite raised while compiling (a spec error throws). */
  warnings: string[];
}

type VegaModule = typeof import("vega");
type VegaLiteModule = typeof import("vega-lite");
let libs: Promise<{ vega: VegaModule; vl: VegaLiteModule }> | undefined;

/** vega and vega-lite are loaded on first use (half a second), not when this module is imported. */
function loadLibs(): Promise<{ vega: VegaModule; vl: VegaLiteModule }> {
  libs ??= Promise.all([import("vega"), import("vega-lite")]).then(([vega, vl]) => ({ vega, vl }));
  return libs;
}

/** A figure of an experiment's report: file name stem, Vega-Lite spec, caption. */
export interface ReportFigure {
  name: string;
  spec: TopLevelSpec;
  caption: string;
}

/**
 * Renders each figure and writes `<name>.vl.json`, and `<name>.png` unless `png` is false, under the
 * existing folder `out`; returns the HTML <figure> elements in order and the paths of the PNGs.
 */
export async function writeFigures(figures: ReportFigure[], out: string, png: boolean | undefined): Promise<{ parts: string[]; written: string[] }> {
  const parts: string[] = [];
  const written: string[] = [];
  for (const f of figures) {
    const { svg } = await renderSvg(f.spec);
    if (png !== false) {
      const path = join(out, `${f.name}.png`);
      writeFileSync(path, await svgToPng(svg));
      written.push(path);
    }
    writeFileSync(join(out, `${f.name}.vl.json`), JSON.stringify(f.spec));
    parts.push(`<figure><div class="chart">${svg}</div><figcaption>${escapeHtml(f.caption)}</figcaption></figure>`);
  }
  return { parts, written };
}

let svgIds = 0;

/** Compiles a Vega-Lite spec and renders it to SVG (no browser, no canvas). */
export async function renderSvg(spec: TopLevelSpec): Promise<RenderedChart> {
  const { vega, vl } = await loadLibs();
  const warnings: string[] = [];
  const logger = {
    level(): number {
      return 0;
    },
    error(...args: unknown[]): never {
      throw new Error(`vega-lite: ${args.map(String).join(" ")}`);
    },
    warn(...args: unknown[]) {
      warnings.push(args.map(String).join(" "));
      return this;
    },
    info() {
      return this;
    },
    debug() {
      return this;
    },
  };
  const compiled = vl.compile(spec, { logger: logger as never }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    let svg = await view.toSVG();
    // Several SVGs inline in one page share one id space: make each chart's clip-path ids unique.
    const prefix = `c${++svgIds}_`;
    svg = svg.replace(/id="([^"]+)"/g, `id="${prefix}$1"`).replace(/url\(#([^)]+)\)/g, `url(#${prefix}$1)`);
    return { svg, warnings };
  } finally {
    view.finalize();
  }
}

/** Where the PNG text font comes from (reported in the HTML footer). */
export interface FontChoice {
  files: string[];
  /** The family name to map `sans-serif` to. */
  family: string;
  source: string;
}

let fontChoice: FontChoice | undefined;

/** DejaVu Sans from the system, or from the npm package dejavu-fonts-ttf; empty if neither (see the module comment). */
export function findFont(): FontChoice {
  if (fontChoice) return fontChoice;
  const candidates = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf"];
  for (const f of candidates) {
    if (existsSync(f)) return (fontChoice = { files: [f], family: "DejaVu Sans", source: `system font ${f}` });
  }
  try {
    const [f, family] = execFileSync("fc-match", ["-f", "%{file}|%{family[0]}", "sans-serif"], {
      encoding: "utf8",
      timeout: 5000,
      stdio: ["ignore", "pipe", "ignore"],
    })
      .trim()
      .split("|");
    if (f && family && /\.(ttf|otf|ttc)$/i.test(f) && existsSync(f)) return (fontChoice = { files: [f], family, source: `system font ${f} (fc-match)` });
  } catch {
    /* no fontconfig */
  }
  try {
    const pkg = createRequire(import.meta.url).resolve("dejavu-fonts-ttf/package.json");
    const f = join(dirname(pkg), "ttf", "DejaVuSans.ttf");
    if (existsSync(f)) return (fontChoice = { files: [f], family: "DejaVu Sans", source: `npm package dejavu-fonts-ttf (${f})` });
  } catch {
    /* not installed */
  }
  return (fontChoice = { files: [], family: "DejaVu Sans", source: "resvg's scan of the system fonts (no DejaVu Sans found; PNG text may be missing)" });
}

/** Rasterises an SVG to PNG at `scale` × its size (default 2, for sharp figures on high-DPI screens). */
export async function svgToPng(svg: string, opts: { scale?: number; background?: string } = {}): Promise<Buffer> {
  const { Resvg } = await import("@resvg/resvg-js");
  const font = findFont();
  const resvg = new Resvg(svg, {
    background: opts.background ?? "white",
    fitTo: { mode: "zoom", value: opts.scale ?? 2 },
    font: {
      fontFiles: font.files,
      loadSystemFonts: font.files.length === 0,
      defaultFontFamily: font.family,
      sansSerifFamily: font.family,
    },
  });
  return resvg.render().asPng();
}
