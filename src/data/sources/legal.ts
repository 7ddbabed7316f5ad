/**
 * Licence texts (npm `spdx-license-list`, CC0): the full text of every SPDX licence, one document
 * each. Many licences are near-copies of each other; exact duplicates are removed by cleaning.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { npmSource, requirePackage } from "./npm-package.ts";
import type { SourceDef } from "./types.ts";

const PACKAGE = "spdx-license-list";

export const legal: SourceDef = {
  id: "legal",
  domain: "licences",
  language: "en",
  licence: "CC0-1.0",
  ...npmSource("legal", PACKAGE),
  description: "SPDX licence texts, one document per licence, exact duplicates removed",
  defaultSuite: true,
  approxMB: 5.0,
  version: 1,
  *documents() {
    const dir = join(requirePackage("legal", PACKAGE).dir, "licenses");
    const files = readdirSync(dir)
      .filter((f) => f.endsWith(".json"))
      .sort();
    for (const f of files) {
      const path = join(dir, f);
      let json: { licenseText?: unknown };
      try {
        json = JSON.parse(readFileSync(path, "utf8")) as { licenseText?: unknown };
      } catch (e) {
        throw new Error(`source 'legal': ${path} is not valid JSON (${(e as Error).message})`);
      }
      if (typeof json.licenseText === "string") yield { text: json.licenseText, origin: path };
    }
  },
};
