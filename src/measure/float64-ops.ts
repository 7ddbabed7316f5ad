/**
 * Float64 arithmetic on flat row-major arrays for the implicit-update measurement
 * (float64-transformer.ts, implicit-update.ts): GELU and its derivative, dot products, vector ×
 * matrix, layer norm of one row and its backward. The conventions are src/model/transformer.ts's:
 * layer norm eps 1e-5 with biased variance, GELU's tanh approximation.
 */

/** ops.layerNorm's default eps, which the transformer uses. */
const LN_EPS = 1e-5;
/** GPT-2's tanh approximation of GELU (the engine's gelu). */
const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

export function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + GELU_A * x * x * x)));
}

export function geluGrad(x: number): number {
  const th = Math.tanh(GELU_C * (x + GELU_A * x * x * x));
  return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * GELU_C * (1 + 3 * GELU_A * x * x);
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>, n = a.length, ao = 0, bo = 0): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[ao + i] * b[bo + i];
  return s;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** out[m] = x[n]·W[n, m] (+ bias), x read from x[xo..xo+n). */
export function vecMat(x: ArrayLike<number>, xo: number, W: Float64Array, n: number, m: number, bias: Float64Array | null, out: Float64Array, oo = 0): void {
  for (let c = 0; c < m; c++) out[oo + c] = bias === null ? 0 : bias[c];
  for (let r = 0; r < n; r++) {
    const xr = x[xo + r];
    if (xr === 0) continue;
    const row = r * m;
    for (let c = 0; c < m; c++) out[oo + c] += xr * W[row + c];
  }
}

/** out[n] = W[n, m]·g[m] (the backward of vecMat with respect to x). */
export function matVec(W: Float64Array, n: number, m: number, g: ArrayLike<number>): Float64Array {
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) out[r] = dot(W, g, m, r * m, 0);
  return out;
}

/** Layer norm of x[xo..xo+n) into out[oo..): (x − mean)/√(var + eps)·γ + β, biased variance. */
export function layerNormRow(x: ArrayLike<number>, xo: number, n: number, gamma: Float64Array, beta: Float64Array, out: Float64Array, oo = 0): void {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[xo + i];
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[xo + i] - mean) ** 2;
  const rstd = 1 / Math.sqrt(v / n + LN_EPS);
  for (let i = 0; i < n; i++) out[oo + i] = (x[xo + i] - mean) * rstd * gamma[i] + beta[i];
}

/** ∂/∂x of layer norm at x (n values), given the gradient gy of its output. */
export function layerNormBackward(x: ArrayLike<number>, n: number, gamma: Float64Array, gy: ArrayLike<number>): Float64Array {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i];
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[i] - mean) ** 2;
  const rstd = 1 / Math.sqrt(v / n + LN_EPS);
  const xhat = new Float64Array(n),
    gx = new Float64Array(n);
  let mg = 0,
    mgx = 0;
  for (let i = 0; i < n; i++) {
    xhat[i] = (x[i] - mean) * rstd;
    const g = gy[i] * gamma[i];
    mg += g;
    mgx += g * xhat[i];
  }
  mg /= n;
  mgx /= n;
  for (let i = 0; i < n; i++) gx[i] = rstd * (gy[i] * gamma[i] - mg - xhat[i] * mgx);
  return gx;
}
