/**
 * Shape ops: reshape (a view, no copy), permute/transpose, slice and concat along an axis, and
 * row gathering (logits at chosen positions only). Gradients scatter back with the same kernels.
 */
import { kernels } from "../backend.ts";
import { type Tensor, allocRaw, fmtShape, makeOutput, shapeSize } from "../tensor.ts";

function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new Error(`${op}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Same data, new shape (one dimension may be -1). Shares the buffer with x. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const free = s.indexOf(-1);
  if (free >= 0) {
    const known = s.filter((_d, i) => i !== free).reduce((a, b) => a * b, 1);
    if (known === 0 || x.size % known !== 0) throw new Error(`reshape: cannot reshape ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
    s[free] = x.size / known;
  }
  if (shapeSize(s) !== x.size) throw new Error(`reshape: cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)}`);
  return makeOutput(
    x.data,
    s,
    [x],
    (out) => {
      kernels().copyBlocks(out.grad!, 0, x.size, x.gradBuffer(), 0, x.size, x.size, 1, true);
    },
    x,
  );
}

/** Axes reordered: out.shape[i] = x.shape[perm[i]]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort().some((p, i) => p !== i)) {
    throw new Error(`permute: [${perm.join(", ")}] is not a permutation of the ${x.rank} axes of ${fmtShape(x.shape)}`);
  }
  const K = kernels();
  const shape = perm.map((p) => x.shape[p]);
  const data = allocRaw(x.size);
  K.permute(x.data, [...x.shape], [...perm], data, false);
  return makeOutput(data, shape, [x], (out) => {
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    K.permute(out.grad!, shape, inv, x.gradBuffer(), true);
  });
}

/** Swaps two axes. */
export function transpose(x: Tensor, a: number, b: number): Tensor {
  const perm = x.shape.map((_, i) => i);
  const ia = normAxis("transpose", a, x.rank),
    ib = normAxis("transpose", b, x.rank);
  [perm[ia], perm[ib]] = [perm[ib], perm[ia]];
  return permute(x, perm);
}

/** x[..., start:end, ...] along `axis`. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const ax = normAxis("slice", axis, x.rank);
  const len = x.shape[ax];
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= len)) {
    throw new Error(`slice: range [${start}, ${end}) is not inside axis ${ax} of length ${len} (shape ${fmtShape(x.shape)})`);
  }
  const inner = shapeSize(x.shape.slice(ax + 1));
  const outer = shapeSize(x.shape.slice(0, ax));
  const shape = [...x.shape];
  shape[ax] = end - start;
  const K = kernels();
  const data = allocRaw(shapeSize(shape));
  const block = (end - start) * inner;
  K.copyBlocks(x.data, start * inner, len * inner, data, 0, block, block, outer, false);
  return makeOutput(data, shape, [x], (out) => {
    K.copyBlocks(out.grad!, 0, block, x.gradBuffer(), start * inner, len * inner, block, outer, true);
  });
}

/** Joins tensors along `axis`; all other axes must match. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error("concat: needs at least one tensor");
  const ref = xs[0];
  const ax = normAxis("concat", axis, ref.rank);
  for (const t of xs) {
    if (t.rank !== ref.rank || t.shape.some((d, i) => i !== ax && d !== ref.shape[i])) {
      throw new Error(`concat: shapes ${fmtShape(ref.shape)} and ${fmtShape(t.shape)} differ outside axis ${ax}`);
    }
  }
  const inner = shapeSize(ref.shape.slice(ax + 1));
  const outer = shapeSize(ref.shape.slice(0, ax));
  const total = xs.reduce((s, t) => s + t.shape[ax], 0);
  const shape = [...ref.shape];
  shape[ax] = total;
  const K = kernels();
  const data = allocRaw(shapeSize(shape));
  const offsets: number[] = [];
  let off = 0;
  for (const t of xs) {
    offsets.push(off);
    const block = t.shape[ax] * inner;
    K.copyBlocks(t.data, 0, block, data, off * inner, total * inner, block, outer, false);
    off += t.shape[ax];
  }
  return makeOutput(data, shape, xs, (out) => {
    xs.forEach((t, i) => {
      if (!t.requiresGrad) return;
      const block = t.shape[ax] * inner;
      K.copyBlocks(out.grad!, offsets[i] * inner, total * inner, t.gradBuffer(), 0, block, block, outer, true);
    });
  });
}

/**
 * Rows of a [rows, d] matrix picked by index: out[i] = x[idx[i]] (the gradient scatter-adds).
 * Used to compute logits only at the positions a measurement needs.
 */
export function gatherRows(x: Tensor, idx: Int32Array): Tensor {
  if (x.rank !== 2) throw new Error(`gatherRows: 'x' must be 2-D [rows, d], found ${fmtShape(x.shape)}`);
  const [rows, d] = x.shape;
  for (let i = 0; i < idx.length; i++) {
    if (idx[i] < 0 || idx[i] >= rows) throw new Error(`gatherRows: index ${idx[i]} at position ${i} is outside [0, ${rows})`);
  }
  const K = kernels();
  const data = allocRaw(idx.length * d);
  K.embedding(x.data, idx, idx.length, d, data);
  return makeOutput(data, [idx.length, d], [x], (out) => {
    K.embeddingBackward(idx, out.grad!, idx.length, d, x.gradBuffer());
  });
}
