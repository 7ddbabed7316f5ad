/**
 * Embedding lookup and its scatter-add backward. The vocabulary size is not passed: it is the
 * number of rows of the table, table.length / d (the table must hold a whole number of rows).
 */
import type { F32, I32 } from "../kernels.ts";
import { checkDim, checkI32, checkLen, dims } from "./check.ts";

/** Checks ids[0..n) against the rows of a [vocab, d] table and returns vocab. */
function checkIds(K: string, tableName: string, table: F32, ids: I32, n: number, d: number): number {
  checkDim(K, "n", n);
  checkDim(K, "d", d);
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

export function embedding(table: F32, ids: I32, n: number, d: number, out: F32): void {
  const K = "embedding";
  checkIds(K, "table", table, ids, n, d);
  checkLen(K, "out", out, n * d, dims({ n, d }));
  for (let i = 0; i < n; i++) {
    const src = ids[i] * d;
    const dst = i * d;
    for (let j = 0; j < d; j++) out[dst + j] = table[src + j];
  }
}

export function embeddingBackward(ids: I32, dout: F32, n: number, d: number, dtable: F32): void {
  const K = "embeddingBackward";
  checkIds(K, "dtable", dtable, ids, n, d);
  checkLen(K, "dout", dout, n * d, dims({ n, d }));
  for (let i = 0; i < n; i++) {
    const dst = ids[i] * d;
    const src = i * d;
    for (let j = 0; j < d; j++) dtable[dst + j] += dout[src + j];
  }
}
