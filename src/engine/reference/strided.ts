/**
 * Walking an N-d index space with several stride vectors at once. The innermost axis is left to
 * the caller (one callback per row, a tight loop inside), so the per-element cost is a typed-array
 * loop and the odometer runs once per row.
 */

/**
 * For every row of the index space `shape` (all axes but the last), calls
 * `row(offsets, len, innerStrides)` with the offset of the row's first element in each operand.
 * `strides[o]` is operand o's stride vector (length = rank). A rank-0 shape is one element.
 * `offsets` is reused between calls: read it, do not keep it.
 */
export function forEachRow(shape: number[], strides: number[][], row: (offsets: number[], len: number, inner: number[]) => void): void {
  const rank = shape.length;
  const nOps = strides.length;
  if (rank === 0) {
    row(new Array(nOps).fill(0), 1, new Array(nOps).fill(0));
    return;
  }
  for (const s of shape) if (s === 0) return;
  const len = shape[rank - 1];
  const inner = strides.map((s) => s[rank - 1]);
  const offsets: number[] = new Array(nOps).fill(0);
  const idx: number[] = new Array(rank - 1).fill(0);
  let rows = 1;
  for (let d = 0; d < rank - 1; d++) rows *= shape[d];

  for (let r = 0; r < rows; r++) {
    row(offsets, len, inner);
    // Odometer over axes rank-2 .. 0.
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      for (let o = 0; o < nOps; o++) offsets[o] += strides[o][d];
      if (idx[d] < shape[d]) break;
      for (let o = 0; o < nOps; o++) offsets[o] -= strides[o][d] * shape[d];
      idx[d] = 0;
    }
  }
}

/** Row-major contiguous strides of `shape`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}
