import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../../util/random.ts";
import { GaussianMixtureTask, type MixtureTaskOptions, type SequenceBatch, zipfWeights } from "./gaussian-mixture.ts";

const OPTS: MixtureTaskOptions = { dim: 16, classes: 200, labels: 10, context: 8, burst: 2, pBursty: 0.9, epsilon: 0.1, zipf: 0 };

const row = (a: Int32Array, b: number, n: number) => Array.from(a.subarray(b * n, (b + 1) * n));
const vec = (s: SequenceBatch, b: number, pos: number) => Array.from(s.inputs.subarray((b * s.T + pos) * s.dim, (b * s.T + pos + 1) * s.dim));

/** The classes of a sequence with their counts, the query left out. */
function counts(classes: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const c of classes.slice(0, -1)) m.set(c, (m.get(c) ?? 0) + 1);
  return m;
}

test("bursty sequences hold N/B distinct classes B times each, with distinct labels k mod L, and the query is one of them", () => {
  for (const burst of [1, 2, 4]) {
    const task = new GaussianMixtureTask({ ...OPTS, burst }, 1);
    const s = task.sample(200, "bursty", new Rng(2));
    for (let b = 0; b < s.batch; b++) {
      const classes = row(s.classes, b, 9),
        labels = row(s.labels, b, 9);
      const m = counts(classes);
      assert.equal(m.size, 8 / burst);
      for (const n of m.values()) assert.equal(n, burst);
      assert.ok(m.has(classes[8]), "the query's class is in the context");
      classes.forEach((c, i) => assert.equal(labels[i], c % 10));
      assert.equal(new Set(labels.slice(0, -1)).size, 8 / burst, "distinct labels");
      assert.equal(s.targets[b], classes[8] % 10);
    }
  }
});

test("the vectors are the item at 2i, its label's vector at 2i+1 and the query at 2N; with ε = 0 an item is its class mean", () => {
  const task = new GaussianMixtureTask({ ...OPTS, epsilon: 0 }, 3);
  const s = task.sample(20, "iid", new Rng(4));
  const D = OPTS.dim;
  for (let b = 0; b < s.batch; b++) {
    const classes = row(s.classes, b, 9),
      labels = row(s.labels, b, 9);
    for (let i = 0; i <= 8; i++) {
      assert.deepEqual(vec(s, b, 2 * i), Array.from(task.means.subarray(classes[i] * D, (classes[i] + 1) * D)));
      if (i < 8) assert.deepEqual(vec(s, b, 2 * i + 1), Array.from(task.labelVectors.subarray(labels[i] * D, (labels[i] + 1) * D)));
    }
  }
});

test("an item is (μ + εη)/√(1+ε²) with fresh noise per occurrence: its mean over occurrences is μ/√(1+ε²), its spread ε/√(1+ε²)/√D", () => {
  const eps = 0.8,
    D = 16;
  const task = new GaussianMixtureTask({ ...OPTS, classes: 1, labels: 2, context: 1, burst: 1, epsilon: eps }, 5);
  const s = task.sample(4000, "iid", new Rng(6));
  const norm = 1 / Math.sqrt(1 + eps * eps);
  const mean = new Float64Array(D);
  let sq = 0;
  for (let b = 0; b < s.batch; b++) for (let d = 0; d < D; d++) mean[d] += vec(s, b, 0)[d] / s.batch;
  for (let b = 0; b < s.batch; b++) for (let d = 0; d < D; d++) sq += (vec(s, b, 0)[d] - task.means[d] * norm) ** 2 / (s.batch * D);
  for (let d = 0; d < D; d++) assert.ok(Math.abs(mean[d] - task.means[d] * norm) < 0.01, `component ${d}`);
  const sd = (eps * norm) / Math.sqrt(D);
  assert.ok(Math.abs(Math.sqrt(sq) / sd - 1) < 0.03, `spread ${Math.sqrt(sq)} vs ${sd}`);
  assert.notDeepEqual(vec(s, 0, 0), vec(s, 0, 2), "query and item of the same class differ");
});

test("classes follow Zipf(α): P(k) ∝ (k+1)^−α, uniform for α = 0", () => {
  for (const alpha of [0, 1, 2]) {
    const task = new GaussianMixtureTask({ ...OPTS, classes: 50, zipf: alpha }, 7);
    const rng = new Rng(8);
    const n = 200_000;
    const hist = new Float64Array(50);
    for (let i = 0; i < n; i++) hist[task.sampleClass(rng)]++;
    const w = zipfWeights(50, alpha);
    for (const k of [0, 1, 4, 49]) {
      const se = Math.sqrt((w[k] * (1 - w[k])) / n);
      assert.ok(Math.abs(hist[k] / n - w[k]) < 5 * se + 1e-4, `α=${alpha} class ${k}: ${hist[k] / n} vs ${w[k]}`);
    }
    assert.ok(Math.abs(w[0] / w[1] - 2 ** alpha) < 1e-9);
  }
});

test("a training batch is bursty with probability p_B", () => {
  const task = new GaussianMixtureTask({ ...OPTS, classes: 5000, labels: 32, pBursty: 0.3 }, 9);
  const s = task.sample(4000, "train", new Rng(10));
  let bursty = 0;
  for (let b = 0; b < s.batch; b++) {
    const m = counts(row(s.classes, b, 9));
    if (m.size === 4 && [...m.values()].every((n) => n === 2)) bursty++;
  }
  // i.i.d. sequences over 5000 classes are almost never 4 pairs.
  assert.ok(Math.abs(bursty / s.batch - 0.3) < 0.03, `${bursty / s.batch}`);
});

test("icl-novel: fresh class means every sequence, distinct random labels, the query's label only in the context", () => {
  const task = new GaussianMixtureTask({ ...OPTS, epsilon: 0 }, 11);
  const s = task.sample(50, "icl-novel", new Rng(12));
  const D = OPTS.dim;
  for (let b = 0; b < s.batch; b++) {
    const classes = row(s.classes, b, 9),
      labels = row(s.labels, b, 9);
    assert.ok(
      classes.every((c) => c < 0),
      "novel classes are negative",
    );
    assert.equal(new Set(labels.slice(0, -1)).size, 4);
    assert.ok(labels.slice(0, -1).includes(s.targets[b]));
    // With ε = 0 the items of a novel class are equal, and no trained mean.
    const q = vec(s, b, 16);
    const same = classes.indexOf(classes[8]);
    assert.deepEqual(vec(s, b, 2 * same), q);
    for (let k = 0; k < OPTS.classes; k++) assert.notDeepEqual(Array.from(task.means.subarray(k * D, (k + 1) * D)), q);
  }
  assert.notDeepEqual(vec(s, 0, 16), vec(s, 1, 16), "fresh means per sequence");
});

test("icl-swap: trained classes relabelled per sequence, every class given a distinct label other than its own", () => {
  const task = new GaussianMixtureTask(OPTS, 13);
  const s = task.sample(300, "icl-swap", new Rng(14));
  for (let b = 0; b < s.batch; b++) {
    const classes = row(s.classes, b, 9),
      labels = row(s.labels, b, 9);
    classes.forEach((c, i) => assert.notEqual(labels[i], c % 10));
    const byClass = new Map<number, number>();
    classes.forEach((c, i) => {
      assert.equal(byClass.get(c) ?? labels[i], labels[i], "one label per class within the sequence");
      byClass.set(c, labels[i]);
    });
    assert.equal(new Set(byClass.values()).size, byClass.size);
    assert.equal(s.targets[b], labels[8]);
  }
});

test("iwl: the query's class never appears in the context, and its target is its own label k mod L", () => {
  const task = new GaussianMixtureTask({ ...OPTS, zipf: 1 }, 15);
  const s = task.sample(500, "iwl", new Rng(16));
  for (let b = 0; b < s.batch; b++) {
    const classes = row(s.classes, b, 9);
    assert.ok(!classes.slice(0, -1).includes(classes[8]));
    assert.equal(s.targets[b], classes[8] % 10);
  }
});

test("the task is a function of its seed; sequences of the caller's generator", () => {
  const a = new GaussianMixtureTask(OPTS, 17),
    b = new GaussianMixtureTask(OPTS, 17);
  assert.deepEqual(a.means, b.means);
  assert.deepEqual(a.sample(3, "train", new Rng(1)).inputs, b.sample(3, "train", new Rng(1)).inputs);
  assert.notDeepEqual(new GaussianMixtureTask(OPTS, 18).means, a.means);
});

test("options are checked with messages that name them", () => {
  assert.throws(() => new GaussianMixtureTask({ ...OPTS, burst: 3 }, 0), /'context' \(8\) must be a multiple of 'burst' \(3\)/);
  assert.throws(() => new GaussianMixtureTask({ ...OPTS, labels: 3 }, 0), /N\/B = 4 classes/);
  assert.throws(() => new GaussianMixtureTask({ ...OPTS, pBursty: 2 }, 0), /'pBursty' must be in \[0, 1\]/);
  assert.throws(() => new GaussianMixtureTask({ ...OPTS, dim: 0 }, 0), /'dim' must be an integer ≥ 1/);
});
