/**
 * The page's script: src/serve/web/app.ts and what it imports (the report's Vega-Lite spec
 * builders and table helpers, vega, vega-lite, vega-embed from node_modules) bundled by esbuild
 * into one ES module, in memory, once per process (under a second). Nothing is fetched from
 * outside the machine, at build time or in the page.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const WEB_DIR = fileURLToPath(new URL("./web/", import.meta.url));

export interface WebAssets {
  js: string;
  css: string;
  html: string;
}

let built: Promise<WebAssets> | null = null;

/** The bundled page (memoised; a failed build is retried on the next call). */
export function webAssets(): Promise<WebAssets> {
  built ??= build().catch((e) => {
    built = null;
    throw e;
  });
  return built;
}

async function build(): Promise<WebAssets> {
  const esbuild = await import("esbuild");
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(new URL("./web/app.ts", import.meta.url))],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    legalComments: "none",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "silent",
  });
  if (result.errors.length > 0) {
    throw new Error(`bundling the dashboard's page failed: ${result.errors.map((e) => e.text).join("; ")}`);
  }
  return {
    js: result.outputFiles[0].text,
    css: readFileSync(new URL("./web/app.css", import.meta.url), "utf8"),
    html: readFileSync(new URL("./web/index.html", import.meta.url), "utf8"),
  };
}
