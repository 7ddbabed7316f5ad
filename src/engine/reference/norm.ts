/**
 * Row-wise kernels over the last axis: softmax, layer norm, cross-entropy (fused log-softmax).
 * Sums and statistics are formed in float64.
 */
import type { F32, I32 } from "../kernels.ts";
import { checkDim, checkI32, checkLen, dims } from "./check.ts";

function checkRows(kernel: string, rows: number, n: number): void {
  checkDim(kernel, "rows", rows);
  checkDim(kernel, "n", n);
}

export function softmax(x: F32, rows: number, n: number, out: F32): void {
  const K = "softmax";
  checkRows(K, rows, n);
  const what = dims({ rows, n });
  checkLen(K, "x", x, rows * n, what);
  checkLen(K, "out", out, rows * n, what);
  const e = new Float64Array(n); // out may be x, so keep the exponentials here
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let max = -Infinity;
    for (let j = 0; j < n; j++) max = Math.max(max, x[o + j]); // Math.max propagates NaN
    let sum = 0;
    for (let j = 0; j < n; j++) {
      e[j] = Math.exp(x[o + j] - max);
      sum += e[j];
    }
    for (let j = 0; j < n; j++) out[o + j] = e[j] / sum;
  }
}

export function softmaxBackward(y: F32, dy: F32, rows: number, n: number, dx: F32): void {
  const K = "softmaxBackward";
  checkRows(K, rows, n);
  const what = dims({ rows, n });
  checkLen(K, "y", y, rows * n, what);
  checkLen(K, "dy", dy, rows * n, what);
  checkLen(K, "dx", dx, rows * n, what);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let dot = 0;
    for (let j = 0; j < n; j++) dot += dy[o + j] * y[o + j];
    for (let j = 0; j < n; j++) dx[o + j] += y[o + j] * (dy[o + j] - dot);
  }
}

export function layerNorm(x: F32, gamma: F32 | null, beta: F32 | null, rows: number, n: number, eps: number, y: F32, mean: F32, rstd: F32): void {
  const K = "layerNorm";
  checkRows(K, rows, n);
  const what = dims({ rows, n });
  checkLen(K, "x", x, rows * n, what);
  checkLen(K, "y", y, rows * n, what);
  if (gamma !== null) checkLen(K, "gamma", gamma, n, `n=${n}`);
  if (beta !== null) checkLen(K, "beta", beta, n, `n=${n}`);
  checkLen(K, "mean", mean, rows, `rows=${rows}`);
  checkLen(K, "rstd", rstd, rows, `rows=${rows}`);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let s = 0;
    for (let j = 0; j < n; j++) s += x[o + j];
    const mu = s / n;
    let v = 0;
    for (let j = 0; j < n; j++) {
      const d = x[o + j] - mu;
      v += d * d;
    }
    const rs = 1 / Math.sqrt(v / n + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let j = 0; j < n; j++) {
      const g = gamma === null ? 1 : gamma[j];
      const b = beta === null ? 0 : beta[j];
      y[o + j] = (x[o + j] - mu) * rs * g + b;
    }
  }
}

/**
 * With x̂ = (x − mean)·rstd and g = dy·gamma:
 *   dx += rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂)),  dgamma += Σ_rows dy ⊙ x̂,  dbeta += Σ_rows dy.
 */
export function layerNormBackward(
  dy: F32,
  x: F32,
  gamma: F32 | null,
  mean: F32,
  rstd: F32,
  rows: number,
  n: number,
  dx: F32,
  dgamma: F32 | null,
  dbeta: F32 | null,
): void {
  const K = "layerNormBackward";
  checkRows(K, rows, n);
  const what = dims({ rows, n });
  checkLen(K, "dy", dy, rows * n, what);
  checkLen(K, "x", x, rows * n, what);
  checkLen(K, "dx", dx, rows * n, what);
  if (gamma !== null) checkLen(K, "gamma", gamma, n, `n=${n}`);
  if (dgamma !== null) checkLen(K, "dgamma", dgamma, n, `n=${n}`);
  if (dbeta !== null) checkLen(K, "dbeta", dbeta, n, `n=${n}`);
  checkLen(K, "mean", mean, rows, `rows=${rows}`);
  checkLen(K, "rstd", rstd, rows, `rows=${rows}`);
  if (n === 0) return;

  const dgAcc = new Float64Array(n);
  const dbAcc = new Float64Array(n);
  const xhat = new Float64Array(n);
  const g = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    const mu = mean[r];
    const rs = rstd[r];
    let sumG = 0;
    let sumGX = 0;
    for (let j = 0; j < n; j++) {
      xhat[j] = (x[o + j] - mu) * rs;
      g[j] = dy[o + j] * (gamma === null ? 1 : gamma[j]);
      sumG += g[j];
      sumGX += g[j] * xhat[j];
      dgAcc[j] += dy[o + j] * xhat[j];
      dbAcc[j] += dy[o + j];
    }
    const meanG = sumG / n;
    const meanGX = sumGX / n;
    for (let j = 0; j < n; j++) dx[o + j] += rs * (g[j] - meanG - xhat[j] * meanGX);
  }
  if (rows === 0) return;
  if (dgamma !== null) for (let j = 0; j < n; j++) dgamma[j] += dgAcc[j];
  if (dbeta !== null) for (let j = 0; j < n; j++) dbeta[j] += dbAcc[j];
}

function checkTargets(kernel: string, targets: I32, rows: number, n: number): void {
  checkI32(kernel, "targets", targets);
  checkLen(kernel, "targets", targets, rows, `rows=${rows}`);
  for (let r = 0; r < rows; r++) {
    const t = targets[r];
    if (t >= n) {
      throw new Error(`${kernel}: target ${t} at row ${r} is out of range for n=${n} classes (valid: 0..${n - 1}, or negative for no loss)`);
    }
  }
}

/** Log-sum-exp of row `o..o+n` of x, max-subtracted. */
function logSumExp(x: F32, o: number, n: number): number {
  let max = -Infinity;
  for (let j = 0; j < n; j++) max = Math.max(max, x[o + j]);
  if (max === -Infinity) return -Infinity; // all −Inf (or n = 0): the sum of exponentials is 0
  let sum = 0;
  for (let j = 0; j < n; j++) sum += Math.exp(x[o + j] - max);
  return max + Math.log(sum);
}

export function crossEntropy(logits: F32, targets: I32, rows: number, n: number, losses: F32, lse: F32): void {
  const K = "crossEntropy";
  checkRows(K, rows, n);
  const what = dims({ rows, n });
  checkLen(K, "logits", logits, rows * n, what);
  checkTargets(K, targets, rows, n);
  checkLen(K, "losses", losses, rows, `rows=${rows}`);
  checkLen(K, "lse", lse, rows, `rows=${rows}`);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    const l = logSumExp(logits, o, n);
    lse[r] = l;
    const t = targets[r];
    losses[r] = t < 0 ? 0 : l - logits[o + t];
  }
}

export function crossEntropyBackward(logits: F32, targets: I32, lse: F32, dloss: F32, rows: number, n: number, dlogits: F32): void {
  const K = "crossEntropyBackward";
  checkRows(K, rows, n);
  const what = dims({ rows, n });
  checkLen(K, "logits", logits, rows * n, what);
  checkTargets(K, targets, rows, n);
  checkLen(K, "lse", lse, rows, `rows=${rows}`);
  checkLen(K, "dloss", dloss, rows, `rows=${rows}`);
  checkLen(K, "dlogits", dlogits, rows * n, what);
  for (let r = 0; r < rows; r++) {
    const t = targets[r];
    if (t < 0) continue;
    const o = r * n;
    const l = lse[r];
    const d = dloss[r];
    for (let j = 0; j < n; j++) {
      const p = Math.exp(logits[o + j] - l);
      dlogits[o + j] += d * (j === t ? p - 1 : p);
    }
  }
}
