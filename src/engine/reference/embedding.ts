/**
 * Embedding lookup and its scatter-add backward. The vocabulary size is not passed: it is the
 * number of rows of the table, table.length / d (the table must hold a whole number of rows).
 */
import type { F32, I32, Kernels } from "../kernels.ts";
import { checkDims, checkI32, checkLen, dims } from "./check.ts";

/** Checks ids[0..n) against the rows of a [vocab, d] table and returns vocab. */
function checkIds(K: string, tableName: string, table: F32, ids: I32, n: number, d: number): number {
  checkDims(K, { n, d });
  checkI32(K, "ids", ids);
  checkLen(K, "ids", ids, n, `n=${n}`);
  if (d === 0) {
    // No rows to speak of: the vocabulary is unknown, so only negative ids can be rejected.
    for (let i = 0; i < n; i++) {
      if (ids[i] < 0) throw new Error(`${K}: id ${ids[i]} at position ${i} is negative`);
    }
    return 0;
  }
  if (table.length % d !== 0) {
    throw new Error(`${K}: '${tableName}' has ${table.length} elements, expected a multiple of d=${d} ([vocab, d])`);
  }
  const vocab = table.length / d;
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (id < 0 || id >= vocab) {
      throw new Error(`${K}: id ${id} at position ${i} is out of range for vocab size ${vocab} (valid: 0..${vocab - 1})`);
    }
  }
  return vocab;
}

/**
 * embedding (out[i, :] = table[ids[i], :]) and, when `backward`, embeddingBackward (dtable[ids[i], :]
 * += dout[i, :]) in one body: both check the same things and walk the same pairs of rows. `rows` is
 * out or dout; `names` are the names of table and rows in messages.
 */
function embeddingKernel(K: string, names: [string, string], table: F32, ids: I32, n: number, d: number, rows: F32, backward: boolean): void {
  checkIds(K, names[0], table, ids, n, d);
  checkLen(K, names[1], rows, n * d, dims({ n, d }));
  for (let i = 0; i < n; i++) {
    const t = ids[i] * d;
    const r = i * d;
    if (backward) for (let j = 0; j < d; j++) table[t + j] += rows[r + j];
    else for (let j = 0; j < d; j++) rows[r + j] = table[t + j];
  }
}

export const embedding: Kernels["embedding"] = (table, ids, n, d, out) => embeddingKernel("embedding", ["table", "out"], table, ids, n, d, out, false);

export const embeddingBackward: Kernels["embeddingBackward"] = (ids, dout, n, d, dtable) =>
  embeddingKernel("embeddingBackward", ["dtable", "dout"], dtable, ids, n, d, dout, true);
