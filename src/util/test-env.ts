/**
 * The one rule for tests that need something npm does not install (PyTorch, Chromium, Redis, the
 * native addon, apt): on a developer's machine such a test is skipped, saying what is missing; in
 * strict mode — env `CI` non-empty, or `ICL_LAB_REQUIRE_TOOLS=1` — it fails instead, so that a CI
 * run or a "fresh machine" check cannot pass by skipping (`bash scripts/install-system.sh --test`
 * installs all of them). scripts/run-tests.mjs applies the same rule to the run's skipped count.
 */
import type { TestContext } from "node:test";

/** Whether a missing tool fails the test instead of skipping it. */
export function toolsRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.CI) || env.ICL_LAB_REQUIRE_TOOLS === "1";
}

/**
 * Marks `t` skipped with `reason`, or throws in strict mode. The caller returns right after:
 * `if (!available) return skipOrFail(t, "chromium is not installed");`.
 */
export function skipOrFail(t: TestContext, reason: string): void {
  if (toolsRequired()) throw new Error(`${reason} (required: CI / ICL_LAB_REQUIRE_TOOLS)`);
  t.skip(reason);
}
