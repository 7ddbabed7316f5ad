/** Helpers for the tests of the tensor files (safetensors.test.ts, checkpoint.test.ts). */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FileTensor, TensorData } from "./safetensors.ts";

/** A fresh temporary folder, removed after the test. */
export function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "icl-ckpt-test-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const bytesOf = (a: TensorData): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Same keys, array types, shapes, dtypes and bytes. */
export function assertSameTensors(actual: Record<string, FileTensor>, expected: Record<string, FileTensor>): void {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort());
  for (const [name, e] of Object.entries(expected)) {
    const a = actual[name];
    assert.equal(a.data.constructor, e.data.constructor, `${name}: array type`);
    assert.deepEqual(a.shape, e.shape, `${name}: shape`);
    if (e.dtype) assert.equal(a.dtype, e.dtype, `${name}: dtype`);
    // Bitwise, so NaN payloads and -0 count.
    assert.ok(bytesOf(a.data).equals(bytesOf(e.data)), `${name}: data differs`);
  }
}
