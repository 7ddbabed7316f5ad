#!/usr/bin/env node
// Node 20's test runner does not expand globs, so this finds every *.test.ts under src/ (or the
// paths given) and runs them with the tsx loader, one file at a time (the 2-core budget of CI).
// The spec reporter goes to the terminal and a TAP copy to a temporary file, read afterwards so
// that skipped tests are listed at the very end, where they cannot be missed. In strict mode (env
// CI non-empty or ICL_LAB_REQUIRE_TOOLS=1, the rule of src/util/test-env.ts) a skipped test fails
// the run: CI and the "fresh machine" check must run every test.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { once } from "node:events";

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

/** The summary counts (`# pass 3`) and the skipped tests (`ok 4 - name # SKIP reason`) of a TAP report. */
function readTap(text) {
  const counts = {};
  const skipped = [];
  for (const line of text.split("\n")) {
    const c = /^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$/.exec(line);
    if (c) counts[c[1]] = Number(c[2]);
    const s = /^\s*ok \d+ - (.*?) # SKIP\s*(.*)$/.exec(line);
    // TAP escapes '#' and '\' in names and reasons.
    if (s) skipped.push({ name: s[1].replace(/\\(.)/g, "$1"), reason: s[2].replace(/\\(.)/g, "$1") });
  }
  return { counts, skipped };
}

const strict = Boolean(process.env.CI) || process.env.ICL_LAB_REQUIRE_TOOLS === "1";
const args = process.argv.slice(2);
const roots = args.length ? args : ["src"];
const files = roots.flatMap((r) => (statSync(r).isDirectory() ? walk(r, []) : [r])).sort();
if (files.length === 0) {
  console.error(`no *.test.ts files under ${roots.join(", ")}`);
  process.exit(1);
}
const tmp = mkdtempSync(join(tmpdir(), "icl-lab-tests-"));
const tapFile = join(tmp, "results.tap");
const child = spawn(
  process.execPath,
  [
    "--import",
    "tsx",
    "--test",
    "--test-concurrency=1",
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    "--test-reporter=tap",
    `--test-reporter-destination=${tapFile}`,
    ...files,
  ],
  // The suite computes in fp32 on every CPU, so that its expected values do not depend on whether
  // the machine has bf16 (tests of the bf16 path set the precision themselves).
  { stdio: "inherit", env: { ICL_LAB_PRECISION: "fp32", ...process.env } },
);
// A SIGTERM meant for the tests (timeout(1), a CI runner) reaches this process only: pass it on.
process.on("SIGTERM", () => child.kill("SIGTERM"));
const [code, signal] = await once(child, "exit");
let tap = "";
try {
  tap = readFileSync(tapFile, "utf8");
} catch {
  // no report: said below
}
rmSync(tmp, { recursive: true, force: true });

let status = code ?? 1;
const { counts, skipped } = readTap(tap);
console.log("");
if (counts.tests === undefined) {
  console.error(`icl-lab tests: no summary in the test runner's TAP report (exit ${code ?? signal})`);
  process.exit(status === 0 ? 1 : status);
}
if (skipped.length > 0) {
  console.log(`SKIPPED: ${skipped.length} test${skipped.length === 1 ? "" : "s"} did not run:`);
  for (const s of skipped) console.log(`  - ${s.name}: ${s.reason}`);
  console.log("`bash scripts/install-system.sh --test` installs what they need.");
}
const skippedCount = counts.skipped ?? skipped.length;
console.log(
  `icl-lab tests: ${counts.pass ?? 0} passed, ${counts.fail ?? 0} failed, ${skippedCount} skipped` +
    (counts.cancelled ? `, ${counts.cancelled} cancelled` : "") +
    (counts.todo ? `, ${counts.todo} todo` : "") +
    ` (${files.length} file${files.length === 1 ? "" : "s"})`,
);
if (strict && skippedCount > 0) {
  console.error(`icl-lab tests: FAILED: ${skippedCount} skipped in strict mode (CI / ICL_LAB_REQUIRE_TOOLS=1), where every test must run`);
  if (status === 0) status = 1;
}
process.exit(status);
