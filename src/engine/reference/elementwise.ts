/**
 * Element-wise and data-movement kernels: binary (broadcasting by strides), unary and its
 * backward, sumInto (reduction by accumulation), permute, copyBlocks, sumSquares.
 */
import type { Kernels, UnaryOp } from "../kernels.ts";
import { checkDims, checkLen, checkLens, checkShape, checkStrides, dims } from "./check.ts";
import { contiguousStrides, forEachRow } from "./strided.ts";

const BINARY_OPS: readonly string[] = ["add", "sub", "mul", "div"];
const UNARY_OPS: readonly string[] = ["gelu", "tanh", "sigmoid", "relu", "exp", "log", "neg", "scale", "square"];

/** √(2/π), the constant of GPT-2's tanh approximation of GELU. */
export const GELU_C = Math.sqrt(2 / Math.PI);
export const GELU_A = 0.044715;

export const binary: Kernels["binary"] = (op, a, aStrides, b, bStrides, out, shape) => {
  const K = "binary";
  if (!BINARY_OPS.includes(op)) throw new Error(`${K}: unknown op '${op}', expected one of ${BINARY_OPS.join(", ")}`);
  const count = checkShape(K, "shape", shape);
  const needA = checkStrides(K, "aStrides", aStrides, shape);
  const needB = checkStrides(K, "bStrides", bStrides, shape);
  const what = `shape [${shape.join(", ")}]`;
  checkLen(K, "a", a, needA, `${what}, aStrides [${aStrides.join(", ")}]`);
  checkLen(K, "b", b, needB, `${what}, bStrides [${bStrides.join(", ")}]`);
  checkLen(K, "out", out, count, what);

  forEachRow(shape, [aStrides, bStrides, contiguousStrides(shape)], (off, len, inner) => {
    const [ia, ib, io] = off;
    const [sa, sb] = inner;
    switch (op) {
      case "add":
        for (let j = 0; j < len; j++) out[io + j] = a[ia + j * sa] + b[ib + j * sb];
        break;
      case "sub":
        for (let j = 0; j < len; j++) out[io + j] = a[ia + j * sa] - b[ib + j * sb];
        break;
      case "mul":
        for (let j = 0; j < len; j++) out[io + j] = a[ia + j * sa] * b[ib + j * sb];
        break;
      case "div":
        for (let j = 0; j < len; j++) out[io + j] = a[ia + j * sa] / b[ib + j * sb];
        break;
    }
  });
};

function checkUnaryOp(kernel: string, op: UnaryOp, alpha: number | undefined): void {
  if (!UNARY_OPS.includes(op)) throw new Error(`${kernel}: unknown op '${op}', expected one of ${UNARY_OPS.join(", ")}`);
  if (op === "scale" && (alpha === undefined || typeof alpha !== "number")) {
    throw new Error(`${kernel}: op 'scale' needs 'alpha', found ${alpha}`);
  }
}

export function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + GELU_A * x * x * x)));
}

export const unary: Kernels["unary"] = (op, x, out, alpha) => {
  const K = "unary";
  checkUnaryOp(K, op, alpha);
  const n = x.length;
  checkLen(K, "out", out, n, `n=${n} (the length of 'x')`);
  switch (op) {
    case "gelu":
      for (let i = 0; i < n; i++) out[i] = gelu(x[i]);
      break;
    case "tanh":
      for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]);
      break;
    case "sigmoid":
      for (let i = 0; i < n; i++) out[i] = 1 / (1 + Math.exp(-x[i]));
      break;
    case "relu":
      // Math.max(NaN, 0) is NaN: NaN propagates.
      for (let i = 0; i < n; i++) out[i] = Math.max(x[i], 0);
      break;
    case "exp":
      for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]);
      break;
    case "log":
      for (let i = 0; i < n; i++) out[i] = Math.log(x[i]);
      break;
    case "neg":
      for (let i = 0; i < n; i++) out[i] = -x[i];
      break;
    case "scale": {
      const s = alpha as number;
      for (let i = 0; i < n; i++) out[i] = x[i] * s;
      break;
    }
    case "square":
      for (let i = 0; i < n; i++) out[i] = x[i] * x[i];
      break;
  }
};

/** d gelu / dx of the tanh approximation. */
export function geluGrad(x: number): number {
  const u = GELU_C * (x + GELU_A * x * x * x);
  const t = Math.tanh(u);
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * x * x);
}

export const unaryBackward: Kernels["unaryBackward"] = (op, x, y, dy, dx, alpha) => {
  const K = "unaryBackward";
  checkUnaryOp(K, op, alpha);
  const n = x.length;
  checkLens(K, { y, dy, dx }, n, `n=${n} (the length of 'x')`);
  switch (op) {
    case "gelu":
      for (let i = 0; i < n; i++) dx[i] += geluGrad(x[i]) * dy[i];
      break;
    case "tanh":
      for (let i = 0; i < n; i++) dx[i] += (1 - y[i] * y[i]) * dy[i];
      break;
    case "sigmoid":
      for (let i = 0; i < n; i++) dx[i] += y[i] * (1 - y[i]) * dy[i];
      break;
    case "relu":
      // Slope 1 for x > 0, 0 for x ≤ 0 (PyTorch's choice at 0); a NaN input gives a NaN gradient.
      for (let i = 0; i < n; i++) {
        const xi = x[i];
        if (xi > 0) dx[i] += dy[i];
        else if (xi !== xi) dx[i] += xi;
      }
      break;
    case "exp":
      for (let i = 0; i < n; i++) dx[i] += y[i] * dy[i];
      break;
    case "log":
      for (let i = 0; i < n; i++) dx[i] += dy[i] / x[i];
      break;
    case "neg":
      for (let i = 0; i < n; i++) dx[i] -= dy[i];
      break;
    case "scale": {
      const s = alpha as number;
      for (let i = 0; i < n; i++) dx[i] += s * dy[i];
      break;
    }
    case "square":
      for (let i = 0; i < n; i++) dx[i] += 2 * x[i] * dy[i];
      break;
  }
};

/**
 * out[Σ ij·outStrides[j]] += x[i]. The sums are formed in float64 (a scratch buffer covering the
 * part of `out` that is reached) and added to `out` once, so long reductions do not lose precision.
 */
export const sumInto: Kernels["sumInto"] = (x, shape, out, outStrides) => {
  const K = "sumInto";
  const count = checkShape(K, "shape", shape);
  const needOut = checkStrides(K, "outStrides", outStrides, shape);
  const what = `shape [${shape.join(", ")}]`;
  checkLen(K, "x", x, count, what);
  checkLen(K, "out", out, needOut, `${what}, outStrides [${outStrides.join(", ")}]`);
  if (count === 0) return;

  const xStrides = contiguousStrides(shape);
  const reduces = shape.some((size, d) => size > 1 && outStrides[d] === 0);
  if (!reduces) {
    // A scatter (broadcast gradient of a same-size tensor): one term per output element.
    forEachRow(shape, [xStrides, outStrides], (off, len, inner) => {
      const [ix, io] = off;
      const so = inner[1];
      for (let j = 0; j < len; j++) out[io + j * so] += x[ix + j];
    });
    return;
  }
  // A reduction: form the sums in a float64 scratch buffer, then add each to `out` once.
  const acc = new Float64Array(needOut);
  forEachRow(shape, [xStrides, outStrides], (off, len, inner) => {
    const [ix, io] = off;
    const so = inner[1];
    if (so === 0) {
      let s = 0;
      for (let j = 0; j < len; j++) s += x[ix + j];
      acc[io] += s;
    } else {
      for (let j = 0; j < len; j++) acc[io + j * so] += x[ix + j];
    }
  });
  // Visit every reached output offset (the shape with the summed axes collapsed); clearing acc
  // makes a second visit of the same offset (overlapping strides) add nothing.
  const kept = shape.map((size, d) => (outStrides[d] === 0 ? 1 : size));
  forEachRow(kept, [outStrides], (off, len, inner) => {
    for (let j = 0; j < len; j++) {
      const o = off[0] + j * inner[0];
      out[o] += acc[o];
      acc[o] = 0;
    }
  });
};

export const permute: Kernels["permute"] = (x, shape, perm, out, accumulate) => {
  const K = "permute";
  const count = checkShape(K, "shape", shape);
  const rank = shape.length;
  if (!Array.isArray(perm) || perm.length !== rank) {
    throw new Error(`${K}: 'perm' has ${Array.isArray(perm) ? perm.length : "no"} entries, expected ${rank} (the rank of the shape)`);
  }
  const seen = new Array<boolean>(rank).fill(false);
  for (let d = 0; d < rank; d++) {
    const p = perm[d];
    if (!Number.isInteger(p) || p < 0 || p >= rank || seen[p]) {
      throw new Error(`${K}: 'perm' [${perm.join(", ")}] is not a permutation of 0..${rank - 1}`);
    }
    seen[p] = true;
  }
  checkLens(K, { x, out }, count, `shape [${shape.join(", ")}]`);

  // Walk out contiguously; x's stride along out-axis d is x's stride along axis perm[d].
  const xStrides = contiguousStrides(shape);
  const outShape = perm.map((p) => shape[p]);
  const xInOut = perm.map((p) => xStrides[p]);
  forEachRow(outShape, [xInOut, contiguousStrides(outShape)], (off, len, inner) => {
    const [ix, io] = off;
    const sx = inner[0];
    if (accumulate) for (let j = 0; j < len; j++) out[io + j] += x[ix + j * sx];
    else for (let j = 0; j < len; j++) out[io + j] = x[ix + j * sx];
  });
};

export const copyBlocks: Kernels["copyBlocks"] = (src, srcOffset, srcStride, dst, dstOffset, dstStride, blockLen, nBlocks, accumulate) => {
  const K = "copyBlocks";
  checkDims(K, { srcOffset, srcStride, dstOffset, dstStride, blockLen, nBlocks });
  if (blockLen === 0 || nBlocks === 0) return;
  checkLen(K, "src", src, srcOffset + (nBlocks - 1) * srcStride + blockLen, dims({ srcOffset, srcStride, blockLen, nBlocks }));
  checkLen(K, "dst", dst, dstOffset + (nBlocks - 1) * dstStride + blockLen, dims({ dstOffset, dstStride, blockLen, nBlocks }));
  for (let i = 0; i < nBlocks; i++) {
    const s = srcOffset + i * srcStride;
    const d = dstOffset + i * dstStride;
    if (accumulate) for (let j = 0; j < blockLen; j++) dst[d + j] += src[s + j];
    else for (let j = 0; j < blockLen; j++) dst[d + j] = src[s + j];
  }
};

export const sumSquares: Kernels["sumSquares"] = (x) => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return s;
};
