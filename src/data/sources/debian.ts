/**
 * Sources from Debian packages (recipes of ../shared/docs/corpora.md), fetched without root with
 * `apt-get download` + `dpkg-deb -x` and reused offline once fetched. This module is the public
 * face: it turns each recipe of debian/recipes.ts into a `SourceDef` (registry.ts lists them) and
 * re-exports what tests and other modules use. The parts live by concern under debian/: process.ts
 * (which, run), apt.ts (fetching, caching, availability), formats.ts (the file-format parsers) and
 * recipes.ts (which package gives which source). On a machine without apt-get / dpkg-deb these
 * sources report themselves unavailable, and building one fails with a message that says so.
 */
import type { Availability, SourceContext, SourceDef } from "./types.ts";
import { fetchDebianPackages, packageAvailability } from "./debian/apt.ts";
import { missingTools } from "./debian/process.ts";
import { type DebianRecipe, recipes } from "./debian/recipes.ts";

export { fetchDebianPackages } from "./debian/apt.ts";
export { bibleChapters, cleanGcide, dictdEntries, splitFortunes } from "./debian/formats.ts";
export { run, which } from "./debian/process.ts";

/** Every recipe's packages: one `apt-cache policy` call asks about all of them at once. */
const allPackages = recipes.flatMap((r) => r.packages);

/** Availability of a Debian source: apt tools, extra tools, and packages cached or known to apt. */
export function debianAvailability(ctx: SourceContext, recipe: { packages: string[]; tools?: string[] }): Availability {
  return packageAvailability(ctx, recipe, { askAlso: allPackages });
}

function recipeSource(rec: DebianRecipe): SourceDef {
  let fetched: Promise<{ roots: Record<string, string>; debs: string[] }> | null = null;
  let fetchedFor = "";
  const fetch = (ctx: SourceContext) => {
    if (fetched === null || fetchedFor !== ctx.paths.data) {
      fetchedFor = ctx.paths.data;
      fetched = fetchDebianPackages(rec.id, rec.packages, ctx);
      fetched.catch(() => {
        fetched = null;
      });
    }
    return fetched;
  };
  return {
    id: rec.id,
    domain: rec.domain,
    language: rec.language,
    licence: rec.licence,
    origin: "debian",
    description: rec.description,
    approxMB: rec.approxMB,
    version: rec.version,
    available: (ctx) => debianAvailability(ctx, rec),
    async fingerprint(ctx) {
      return (await fetch(ctx)).debs.join(" ");
    },
    async *documents(ctx) {
      const missing = missingTools(rec.tools ?? [], ctx.env ?? process.env);
      if (missing.length > 0) {
        const debs = missing.map((t) => (t === "groff" ? "groff-base" : t)).join(", ");
        throw new Error(`source '${rec.id}' runs ${missing.join(", ")}, which is not on this machine's PATH; install it (Debian package: ${debs})`);
      }
      const { roots } = await fetch(ctx);
      yield* rec.documents(roots, ctx);
    },
  };
}

/** All Debian-backed sources. */
export const debianSources: SourceDef[] = recipes.map(recipeSource);

/** The Debian packages each Debian source needs (for messages and docs). */
export const debianPackages: Record<string, string[]> = Object.fromEntries(recipes.map((r) => [r.id, r.packages]));
