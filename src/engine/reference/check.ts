/**
 * Argument checks shared by the reference kernels. Every failure throws an Error whose message
 * names the kernel and the argument, with the expected and the found value, e.g.
 *   gemm: 'a' has 12 elements, expected at least 15 for m=3, k=5, lda=5
 */

/** Throws unless `value` is a non-negative integer (a dimension, count, offset or stride). */
export function checkDim(kernel: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${kernel}: '${name}' must be a non-negative integer, found ${value}`);
  }
}

/** checkDim for each entry of `d`, in order: checkDims(K, { T, B, H }) checks T, then B, then H. */
export function checkDims(kernel: string, d: Record<string, number>): void {
  for (const [name, value] of Object.entries(d)) checkDim(kernel, name, value);
}

/** Throws unless `value` is an integer ≥ 1. */
export function checkPositive(kernel: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${kernel}: '${name}' must be a positive integer, found ${value}`);
  }
}

/** Throws unless buf has at least `expected` elements; `what` explains where `expected` comes from. */
export function checkLen(kernel: string, name: string, buf: ArrayLike<number>, expected: number, what: string): void {
  if (buf.length < expected) {
    throw new Error(`${kernel}: '${name}' has ${buf.length} elements, expected at least ${expected} for ${what}`);
  }
}

/** checkLen for each entry of `bufs`, in order, all against one length: checkLens(K, { q, k, v }, n, what). */
export function checkLens(kernel: string, bufs: Record<string, ArrayLike<number>>, expected: number, what: string): void {
  for (const [name, buf] of Object.entries(bufs)) checkLen(kernel, name, buf, expected, what);
}

/** The entries of `bufs` that are not null (optional buffers, e.g. layer norm's gamma), for checkLens. */
export function present(bufs: Record<string, ArrayLike<number> | null>): Record<string, ArrayLike<number>> {
  return Object.fromEntries(Object.entries(bufs).filter((e): e is [string, ArrayLike<number>] => e[1] !== null));
}

/** Throws unless `buf` is an Int32Array (ids and targets: a Float32Array there is a bug TypeScript may miss via casts). */
export function checkI32(kernel: string, name: string, buf: unknown): void {
  if (!(buf instanceof Int32Array)) {
    throw new Error(`${kernel}: '${name}' must be an Int32Array, found ${describe(buf)}`);
  }
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (typeof x === "object") return (x as object).constructor?.name ?? "object";
  return typeof x;
}

export const MAX_RANK = 6;

/** Checks a shape (rank ≤ 6, non-negative integer sizes) and returns its element count. */
export function checkShape(kernel: string, name: string, shape: number[]): number {
  if (!Array.isArray(shape)) throw new Error(`${kernel}: '${name}' must be an array of sizes`);
  if (shape.length > MAX_RANK) {
    throw new Error(`${kernel}: '${name}' has rank ${shape.length}, expected at most ${MAX_RANK}`);
  }
  let count = 1;
  for (let i = 0; i < shape.length; i++) {
    checkDim(kernel, `${name}[${i}]`, shape[i]);
    count *= shape[i];
  }
  return count;
}

/**
 * Checks a stride vector for an index space `shape` (same rank, non-negative integers) and returns
 * the number of elements a buffer needs: 1 + the largest offset reached (0 if the space is empty).
 */
export function checkStrides(kernel: string, name: string, strides: number[], shape: number[]): number {
  if (!Array.isArray(strides) || strides.length !== shape.length) {
    throw new Error(`${kernel}: '${name}' has ${Array.isArray(strides) ? strides.length : "no"} entries, expected ${shape.length} (the rank of the shape)`);
  }
  let last = 0;
  let empty = false;
  for (let i = 0; i < shape.length; i++) {
    checkDim(kernel, `${name}[${i}]`, strides[i]);
    if (shape[i] === 0) empty = true;
    else last += (shape[i] - 1) * strides[i];
  }
  return empty ? 0 : last + 1;
}

/** "T=2, B=3, H=4" from an object of dimensions, for messages. */
export function dims(d: Record<string, number>): string {
  return Object.entries(d)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}
