/**
 * bf16's accuracy on the demo's 2-layer model (issue: "the bf16 training loss at 2M tokens within
 * 0.02 nats of fp32"): trains the demo's config twice from the same seed and data, in fp32 and in
 * bf16, and prints the mean training loss over the last 10% of its logged steps for each. On a CPU without AMX the demo's products are all below bf16's break-even size
 * (src/engine/native/bf16.cc) and bf16 would compute exactly as fp32, so this script sets
 * ICL_LAB_BF16_ALL=1 before the addon loads: every product oneDNN has a bf16 kernel for runs in
 * bf16, as it would on AMX.
 *
 *   node --import tsx bench/bf16-accuracy.ts [--tokens 2000000] [--layers 2]
 */
process.env.ICL_LAB_BF16_ALL ??= "1";
const { mkdtempSync, rmSync } = await import("node:fs");
const { tmpdir } = await import("node:os");
const { join } = await import("node:path");
const { baseConfig, DEMO, demoMixture } = await import("../src/experiments/common.ts");
const { train } = await import("../src/train/train.ts");
const { RunStore } = await import("../src/store/run-store.ts");
const { METRIC } = await import("../src/measure/names.ts");
const { kernels } = await import("../src/engine/backend.ts");

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const tokens = opt("--tokens", 2_000_000);
const nLayers = opt("--layers", 2);
kernels().setThreads(1);
const lab = mkdtempSync(join(tmpdir(), "icl-lab-bf16-"));
try {
  const results: Record<string, { train: number; seconds: number }> = {};
  for (const precision of ["fp32", "bf16"] as const) {
    const config = {
      ...baseConfig({
        experiment: "bf16-accuracy",
        name: `bf16-accuracy-${precision}`,
        seed: 0,
        scale: "default",
        model: { ...DEMO.model, nLayers },
        sources: demoMixture(DEMO.natural),
        tokens,
        measures: [],
      }),
      precision,
    };
    const t0 = performance.now();
    const r = await train(config, { lab, log: () => {} });
    if (r.config.precision !== precision || kernels().getPrecision() !== precision)
      throw new Error(`bf16-accuracy: the run trained in ${kernels().getPrecision()}, not ${precision}`);
    const store = RunStore.open(lab);
    const losses = store.metricSeries(r.runId, METRIC.trainLoss);
    store.close();
    const tail = losses.slice(Math.floor(losses.length * 0.9));
    results[precision] = {
      train: tail.reduce((a, b) => a + b.value, 0) / tail.length,
      seconds: (performance.now() - t0) / 1000,
    };
    console.log(
      `${precision}: ${nLayers} layers, ${tokens.toLocaleString("en-US")} tokens, mean train loss (last 10% of ${losses.length} points) ` +
        `${results[precision].train.toFixed(4)}, ${results[precision].seconds.toFixed(0)} s`,
    );
  }
  console.log(`bf16 − fp32: ${(results.bf16.train - results.fp32.train).toFixed(4)} nats of mean training loss`);
} finally {
  rmSync(lab, { recursive: true, force: true });
}
