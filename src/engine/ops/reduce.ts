/** Reductions: sum and mean over chosen axes (or all), with their gradients (broadcast back). */
import { kernels } from "../backend.ts";
import { type Tensor, allocRaw, allocZeros, contiguousStrides, makeOutput, releaseBuffer } from "../tensor.ts";

function reducedShape(x: Tensor, axes: readonly number[] | undefined): { keep: number[]; strides: number[]; count: number } {
  const all = axes === undefined;
  const set = new Set(
    (axes ?? []).map((a) => {
      const n = a < 0 ? a + x.rank : a;
      if (n < 0 || n >= x.rank) throw new Error(`sum: axis ${a} is out of range for shape [${x.shape.join(", ")}]`);
      return n;
    }),
  );
  const keep = x.shape.map((d, i) => (all || set.has(i) ? 1 : d));
  const ks = contiguousStrides(keep);
  const strides = keep.map((_d, i) => (all || set.has(i) ? 0 : ks[i]));
  const count = x.shape.reduce((p, d, i) => (all || set.has(i) ? p * d : p), 1);
  return { keep, strides, count };
}

function reducedAxis(x: Tensor, axes: readonly number[] | undefined, i: number): boolean {
  return axes === undefined || axes.some((a) => (a < 0 ? a + x.rank : a) === i);
}

/** Sum over `axes` (all when omitted). keepDims keeps reduced axes as 1. */
export function sum(x: Tensor, axes?: readonly number[], opts: { keepDims?: boolean } = {}): Tensor {
  return reduce(x, axes, opts.keepDims ?? false, 1);
}

/** Mean over `axes` (all when omitted). */
export function mean(x: Tensor, axes?: readonly number[], opts: { keepDims?: boolean } = {}): Tensor {
  const { count } = reducedShape(x, axes);
  return reduce(x, axes, opts.keepDims ?? false, 1 / count);
}

function reduce(x: Tensor, axes: readonly number[] | undefined, keepDims: boolean, factor: number): Tensor {
  const K = kernels();
  const { keep, strides } = reducedShape(x, axes);
  const outSize = keep.reduce((a, b) => a * b, 1);
  const data = allocZeros(outSize);
  K.sumInto(x.data, [...x.shape], data, strides);
  if (factor !== 1) K.unary("scale", data, data, factor);
  const outShape = keepDims ? keep : x.shape.filter((_, i) => !reducedAxis(x, axes, i));
  return makeOutput(data, outShape, [x], (out) => {
    // dx += factor · broadcast(dy): the broadcast reads dy through the reduction strides.
    const tmp = allocRaw(x.size);
    const zeros = new Float32Array(1);
    K.binary("add", out.grad!, strides, zeros, new Array(x.rank).fill(0), tmp, [...x.shape]);
    if (factor !== 1) K.unary("scale", tmp, tmp, factor);
    K.binary("add", x.gradBuffer(), contiguousStrides(x.shape), tmp, contiguousStrides(x.shape), x.gradBuffer(), [...x.shape]);
    releaseBuffer(tmp);
  });
}
