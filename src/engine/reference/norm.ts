/**
 * Row-wise kernels over the last axis: softmax, layer norm, cross-entropy (fused log-softmax).
 * Sums and statistics are formed in float64.
 */
import type { F32, I32, Kernels } from "../kernels.ts";
import { checkDims, checkI32, checkLen, checkLens, dims, present } from "./check.ts";

/** Checks rows and n; returns the length and description of a [rows, n] buffer, of one value per row and per column. */
function checkRows(kernel: string, rows: number, n: number): Record<"total" | "row" | "col", [number, string]> {
  checkDims(kernel, { rows, n });
  return { total: [rows * n, dims({ rows, n })], row: [rows, `rows=${rows}`], col: [n, `n=${n}`] };
}

export const softmax: Kernels["softmax"] = (x, rows, n, out) => {
  const K = "softmax";
  checkLens(K, { x, out }, ...checkRows(K, rows, n).total);
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
};

export const softmaxBackward: Kernels["softmaxBackward"] = (y, dy, rows, n, dx) => {
  const K = "softmaxBackward";
  checkLens(K, { y, dy, dx }, ...checkRows(K, rows, n).total);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let dot = 0;
    for (let j = 0; j < n; j++) dot += dy[o + j] * y[o + j];
    for (let j = 0; j < n; j++) dx[o + j] += y[o + j] * (dy[o + j] - dot);
  }
};

export const layerNorm: Kernels["layerNorm"] = (x, gamma, beta, rows, n, eps, y, mean, rstd) => {
  const K = "layerNorm";
  const L = checkRows(K, rows, n);
  checkLens(K, { x, y }, ...L.total);
  checkLens(K, present({ gamma, beta }), ...L.col);
  checkLens(K, { mean, rstd }, ...L.row);
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
};

/**
 * With x̂ = (x − mean)·rstd and g = dy·gamma:
 *   dx += rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂)),  dgamma += Σ_rows dy ⊙ x̂,  dbeta += Σ_rows dy.
 */
export const layerNormBackward: Kernels["layerNormBackward"] = (dy, x, gamma, mean, rstd, rows, n, dx, dgamma, dbeta) => {
  const K = "layerNormBackward";
  const L = checkRows(K, rows, n);
  checkLens(K, { dy, x, dx }, ...L.total);
  checkLens(K, present({ gamma, dgamma, dbeta }), ...L.col);
  checkLens(K, { mean, rstd }, ...L.row);
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
};

/** The checks both cross-entropy kernels start with: rows, n, logits [rows, n], targets; returns checkRows's lengths. */
function checkLogits(kernel: string, logits: F32, targets: I32, rows: number, n: number): ReturnType<typeof checkRows> {
  const L = checkRows(kernel, rows, n);
  checkLen(kernel, "logits", logits, ...L.total);
  checkI32(kernel, "targets", targets);
  checkLen(kernel, "targets", targets, ...L.row);
  for (let r = 0; r < rows; r++) {
    const t = targets[r];
    if (t >= n) {
      throw new Error(`${kernel}: target ${t} at row ${r} is out of range for n=${n} classes (valid: 0..${n - 1}, or negative for no loss)`);
    }
  }
  return L;
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

export const crossEntropy: Kernels["crossEntropy"] = (logits, targets, rows, n, losses, lse) => {
  const K = "crossEntropy";
  checkLens(K, { losses, lse }, ...checkLogits(K, logits, targets, rows, n).row);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    const l = logSumExp(logits, o, n);
    lse[r] = l;
    const t = targets[r];
    losses[r] = t < 0 ? 0 : l - logits[o + t];
  }
};

export const crossEntropyBackward: Kernels["crossEntropyBackward"] = (logits, targets, lse, dloss, rows, n, dlogits) => {
  const K = "crossEntropyBackward";
  const L = checkLogits(K, logits, targets, rows, n);
  checkLens(K, { lse, dloss }, ...L.row);
  checkLen(K, "dlogits", dlogits, ...L.total);
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
};
