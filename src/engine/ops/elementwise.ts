/**
 * Element-wise ops: broadcasting binary arithmetic (NumPy rules) and unary functions, each with
 * its gradient beside it. Broadcasting is expressed as strides (0 on a broadcast axis) so one
 * kernel serves every shape pair; the gradient of a broadcast input is the output gradient
 * summed over its broadcast axes (`sumInto`).
 */
import { kernels } from "../backend.ts";
import type { BinaryOp, UnaryOp } from "../kernels.ts";
import { type Tensor, allocRaw, contiguousStrides, fmtShape, makeOutput, releaseBuffer } from "../tensor.ts";

const MAX_RANK = 6;

/** Output shape of broadcasting a with b, or an error naming the op and both shapes. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out = new Array<number>(r);
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast (axis ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  if (r > MAX_RANK) throw new Error(`${op}: rank ${r} exceeds the maximum of ${MAX_RANK}`);
  return out;
}

/** Strides of `shape` seen through the broadcast output shape `out` (0 on broadcast axes). */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const pad = out.length - shape.length;
  const s = contiguousStrides(shape);
  const res = new Array<number>(out.length).fill(0);
  for (let i = 0; i < shape.length; i++) res[pad + i] = shape[i] === 1 && out[pad + i] !== 1 ? 0 : s[i];
  return res;
}

function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(op, a.shape, b.shape);
  const sa = broadcastStrides(a.shape, shape);
  const sb = broadcastStrides(b.shape, shape);
  const K = kernels();
  const size = shape.reduce((x, y) => x * y, 1);
  const data = allocRaw(size);
  K.binary(op, a.data, sa, b.data, sb, data, shape);
  return makeOutput(data, shape, [a, b], (out) => {
    const dy = out.grad!;
    const identity = contiguousStrides(shape);
    // Accumulates g (with output shape) into t's gradient, summing broadcast axes.
    // A first gradient of t's own shape is copied, not added to a zero-filled buffer (one pass
    // instead of three; the residual stream's adds are most of these).
    const reduceInto = (t: Tensor, g: Float32Array, strides: number[]) => {
      if (t.grad === null && t.size === size && strides.every((s, i) => s === identity[i])) {
        t.grad = allocRaw(size);
        t.grad.set(g);
      } else K.sumInto(g, shape, t.gradBuffer(), strides);
    };
    const tmp = () => allocRaw(size);
    switch (op) {
      case "add":
      case "sub": {
        if (a.requiresGrad) reduceInto(a, dy, sa);
        if (b.requiresGrad) {
          if (op === "add") reduceInto(b, dy, sb);
          else {
            const t = tmp();
            K.unary("neg", dy, t);
            reduceInto(b, t, sb);
            releaseBuffer(t);
          }
        }
        break;
      }
      case "mul": {
        if (a.requiresGrad) {
          const t = tmp();
          K.binary("mul", dy, identity, b.data, sb, t, shape);
          reduceInto(a, t, sa);
          releaseBuffer(t);
        }
        if (b.requiresGrad) {
          const t = tmp();
          K.binary("mul", dy, identity, a.data, sa, t, shape);
          reduceInto(b, t, sb);
          releaseBuffer(t);
        }
        break;
      }
      case "div": {
        if (a.requiresGrad) {
          const t = tmp();
          K.binary("div", dy, identity, b.data, sb, t, shape);
          reduceInto(a, t, sa);
          releaseBuffer(t);
        }
        if (b.requiresGrad) {
          // d(a/b)/db = −(a/b)/b = −out/b
          const t = tmp();
          K.binary("mul", dy, identity, out.data, identity, t, shape);
          K.binary("div", t, identity, b.data, sb, t, shape);
          K.unary("neg", t, t);
          reduceInto(b, t, sb);
          releaseBuffer(t);
        }
        break;
      }
    }
  });
}

export const add = (a: Tensor, b: Tensor): Tensor => binary("add", a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => binary("sub", a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary("mul", a, b);
export const div = (a: Tensor, b: Tensor): Tensor => binary("div", a, b);

function unary(op: UnaryOp, x: Tensor, alpha?: number): Tensor {
  const K = kernels();
  const data = allocRaw(x.size);
  K.unary(op, x.data, data, alpha);
  return makeOutput(data, x.shape, [x], (out) => {
    K.unaryBackward(op, x.data, out.data, out.grad!, x.gradBuffer(), alpha);
  });
}

export const gelu = (x: Tensor): Tensor => unary("gelu", x);
export const tanh = (x: Tensor): Tensor => unary("tanh", x);
export const sigmoid = (x: Tensor): Tensor => unary("sigmoid", x);
export const relu = (x: Tensor): Tensor => unary("relu", x);
export const exp = (x: Tensor): Tensor => unary("exp", x);
export const log = (x: Tensor): Tensor => unary("log", x);
export const neg = (x: Tensor): Tensor => unary("neg", x);
export const square = (x: Tensor): Tensor => unary("square", x);
export const scale = (x: Tensor, alpha: number): Tensor => unary("scale", x, alpha);
