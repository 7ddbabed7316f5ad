#!/usr/bin/env node
// Builds the native kernel addon (binding.gyp → build/Release/icl_native.node) with node-gyp.
//
//   node scripts/build-native.mjs            (npm install): a failed build prints one warning saying
//                                            what is missing and exits 0, so installation succeeds
//                                            and the engine falls back to the reference kernels;
//   node scripts/build-native.mjs --strict   (npm run build:native, CI): a failed build exits 1.
//
// node-gyp: the one npm passes in npm_config_node_gyp, else the copy bundled with npm, else a
// local node_modules one, else `npx --no-install node-gyp`. Node's headers: npm_config_nodedir
// when set, else the headers installed beside this node binary (Debian and nodesource packages ship
// them in <prefix>/include/node), so that nothing is downloaded.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ADDON = join(ROOT, "build", "Release", "icl_native.node");
const strict = process.argv.includes("--strict");
const INSTALL_HINT = "sudo apt-get install g++ make libdnnl-dev && npm run build:native";

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", ...opts });
}

function has(cmd, args = ["--version"]) {
  const r = run(cmd, args, { stdio: "ignore" });
  return r.status === 0;
}

/** What the build needs and this machine lacks, as short phrases. */
function missingPrerequisites() {
  const missing = [];
  const cxx = process.env.CXX || "g++";
  if (!has(cxx)) missing.push(`a C++ compiler (${cxx}; Debian package g++)`);
  if (!has("make")) missing.push("make");
  if (!has("python3")) missing.push("python3 (node-gyp runs gyp with it)");
  const dnnlHeader = ["/usr/include/oneapi/dnnl/dnnl.h", "/usr/local/include/oneapi/dnnl/dnnl.h"].some(existsSync);
  if (!dnnlHeader && missing.length === 0) {
    // Not in the usual places: ask the compiler, which knows CPATH and its own include paths.
    const probe = run(cxx, ["-x", "c++", "-fsyntax-only", "-"], { input: "#include <oneapi/dnnl/dnnl.h>\n" });
    if (probe.status !== 0) missing.push("oneDNN headers (Debian package libdnnl-dev)");
  } else if (!dnnlHeader) {
    missing.push("oneDNN headers (Debian package libdnnl-dev)");
  }
  if (!existsSync(join(ROOT, "node_modules", "node-addon-api"))) {
    missing.push("node-addon-api (run npm install)");
  }
  return missing;
}

/** [command, args] that runs node-gyp. */
function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, [fromNpm]];
  const candidates = [];
  // npm's own copy: <prefix>/lib/node_modules/npm (Unix) next to this node binary, or `npm prefix -g`.
  const prefix = resolve(dirname(process.execPath), "..");
  candidates.push(join(prefix, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  const g = run("npm", ["prefix", "-g"]);
  if (g.status === 0 && g.stdout.trim()) {
    candidates.push(join(g.stdout.trim(), "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  }
  candidates.push(join(ROOT, "node_modules", "node-gyp", "bin", "node-gyp.js"));
  for (const c of candidates) if (existsSync(c)) return [process.execPath, [c]];
  return ["npx", ["--no-install", "node-gyp"]];
}

/** --nodedir for the local headers unless npm already says where they are (avoids a download). */
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = resolve(dirname(process.execPath), "..");
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
}

function fail(why, details) {
  const lines = [
    `icl-lab: the native kernel addon was not built: ${why}.`,
    "  The engine will use the reference TypeScript kernels (correct, 10-100x slower).",
    `  To build it: ${INSTALL_HINT}`,
  ];
  if (details)
    lines.push(
      details
        .trimEnd()
        .split("\n")
        .slice(-25)
        .map((l) => `  | ${l}`)
        .join("\n"),
    );
  if (strict) {
    console.error(lines.join("\n"));
    process.exit(1);
  }
  console.warn(`warning: ${lines.join("\n")}`);
  process.exit(0);
}

const missing = missingPrerequisites();
if (missing.length > 0) fail(`missing ${missing.join(", ")}`);

const [cmd, pre] = nodeGyp();
const args = [...pre, "rebuild", ...nodedirArgs(), `--jobs=${availableParallelism()}`];
console.log(`icl-lab: building the native kernels (${[cmd === process.execPath ? "node" : cmd, ...args].join(" ")})`);
// Output is shown live when strict (a developer or CI wants the compiler's messages); during a plain
// npm install it is captured and only its tail is shown if the build fails.
const r = run(cmd, args, strict ? { stdio: "inherit" } : { stdio: ["ignore", "pipe", "pipe"] });
if (r.error) fail(`could not run node-gyp (${r.error.message})`);
if (r.status !== 0) {
  const out = `${r.stdout ?? ""}\n${r.stderr ?? ""}`;
  let why = "node-gyp failed";
  if (/dnnl\.h|cannot find -ldnnl|libdnnl/.test(out)) why += " (oneDNN not found: Debian package libdnnl-dev)";
  else if (/omp\.h|-fopenmp|libgomp/.test(out)) why += " (OpenMP not found: it comes with g++)";
  else if (/node_api\.h|napi\.h|common\.gypi|ENOTFOUND|EAI_AGAIN/.test(out)) why += " (Node headers or node-addon-api not found)";
  fail(why, strict ? undefined : out);
}
if (!existsSync(ADDON)) fail(`node-gyp finished but ${ADDON} is missing`);

// Load it once in a child process: a build that links but cannot load (libdnnl.so missing at run
// time) should be reported now, not at the first training step.
const check = run(process.execPath, ["-e", `require(${JSON.stringify(ADDON)}).getThreads()`]);
if (check.status !== 0) fail("the addon was built but does not load", check.stderr);
console.log(`icl-lab: native kernels built: ${ADDON}`);
