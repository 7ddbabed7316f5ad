/**
 * The float32 Tensor, the buffer pool behind it, and the tape that records operations for
 * reverse-mode autograd.
 *
 * Design (nanoGPT-sized on purpose):
 *   - a Tensor is a contiguous row-major buffer + shape; ops in ops/*.ts create new tensors and,
 *     when gradients are wanted, push a node on the global tape with a closure that accumulates
 *     the gradients of the inputs from the gradient of the output (forward and backward of an op
 *     sit side by side in one file);
 *   - the tape is a list in creation order, which is a topological order, so `backward()` walks it
 *     in reverse with no graph search;
 *   - buffers come from a pool keyed by length and go back to it when the step is done
 *     (`releaseGraph()`), so a long training run allocates its activations once and resident
 *     memory stays flat;
 *   - `withPrecision(Float64Array, fn)` runs fn with float64 buffers: the reference kernels are
 *     written over indexable arrays, so the gradient tests can compare against finite differences
 *     in float64 (issue: float32 finite differences are too noisy to be an oracle).
 */

export type FloatArray = Float32Array;
type ArrayCtor = Float32ArrayConstructor | Float64ArrayConstructor;

let arrayCtor: ArrayCtor = Float32Array;
let gradEnabled = true;

/** Pool of free buffers by length (only float32 buffers are pooled). */
const pool = new Map<number, Float32Array[]>();
let pooledBytes = 0;

/** A buffer of n floats with undefined contents (forward kernels overwrite their outputs). */
export function allocRaw(n: number): FloatArray {
  if (arrayCtor === Float32Array) {
    const list = pool.get(n);
    if (list !== undefined && list.length > 0) {
      pooledBytes -= n * 4;
      return list.pop()!;
    }
  }
  return new arrayCtor(n) as FloatArray;
}

/** A buffer of n zeros. */
export function allocZeros(n: number): FloatArray {
  const b = allocRaw(n);
  b.fill(0);
  return b;
}

/** Returns a buffer to the pool; the caller must not use it afterwards. */
export function releaseBuffer(b: FloatArray): void {
  if (!(b instanceof Float32Array) || b.length === 0) return;
  // Only whole buffers are pooled, never views into a larger buffer.
  if (b.byteOffset !== 0 || b.buffer.byteLength !== b.byteLength) return;
  let list = pool.get(b.length);
  if (list === undefined) pool.set(b.length, (list = []));
  list.push(b);
  pooledBytes += b.byteLength;
}

/** Bytes currently held free in the pool (for the memory benchmark and tests). */
export function poolBytes(): number {
  return pooledBytes;
}

/** Empties the pool (e.g. between unrelated experiments in one process). */
export function clearPool(): void {
  pool.clear();
  pooledBytes = 0;
}

/** Runs fn with buffers of the given precision (tests use Float64Array for finite differences). */
export function withPrecision<T>(ctor: ArrayCtor, fn: () => T): T {
  const prev = arrayCtor;
  arrayCtor = ctor;
  try {
    return fn();
  } finally {
    arrayCtor = prev;
  }
}

/** Runs fn without recording anything on the tape (evaluation, measurement). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

const EMPTY = new Float32Array(0);

export class Tensor {
  data: FloatArray;
  readonly shape: readonly number[];
  readonly size: number;
  /** Gradient of the loss with respect to this tensor, allocated on first accumulation. */
  grad: FloatArray | null = null;
  readonly requiresGrad: boolean;
  /** Accumulates the inputs' gradients from this.grad (null for leaves). */
  backwardFn: (() => void) | null = null;
  /** The tensor whose buffer `data` borrows (a reshape view), or null when it owns its buffer. */
  readonly base: Tensor | null;
  /** Optional name, used in error messages and by the model's parameter table. */
  name: string | undefined;

  constructor(data: FloatArray, shape: readonly number[], opts: { requiresGrad?: boolean; base?: Tensor | null; name?: string } = {}) {
    const size = shapeSize(shape);
    if (data.length !== size) {
      throw new Error(`Tensor: data has ${data.length} elements but shape [${shape.join(", ")}] needs ${size}`);
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.size = size;
    this.requiresGrad = opts.requiresGrad ?? false;
    this.base = opts.base ?? null;
    this.name = opts.name;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** The gradient buffer, allocated as zeros if absent (ops' backward closures accumulate into it). */
  gradBuffer(): FloatArray {
    if (this.grad === null) this.grad = allocZeros(this.size);
    return this.grad;
  }

  /** Reverse-mode autograd from this scalar (or with an explicit output gradient). */
  backward(outGrad?: FloatArray): void {
    if (outGrad === undefined && this.size !== 1) {
      throw new Error(`backward: called on a tensor of shape [${this.shape.join(", ")}]; pass its gradient or reduce it to a scalar first`);
    }
    const g = this.gradBuffer();
    if (outGrad === undefined) g[0] += 1;
    else {
      if (outGrad.length !== this.size) throw new Error(`backward: gradient has ${outGrad.length} elements, tensor has ${this.size}`);
      for (let i = 0; i < g.length; i++) g[i] += outGrad[i];
    }
    for (let i = tape.length - 1; i >= 0; i--) {
      const t = tape[i];
      if (t.grad !== null && t.backwardFn !== null) t.backwardFn();
    }
  }

  /** A copy of the values as a plain array (tests, small outputs). */
  toArray(): number[] {
    return Array.from(this.data);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item: tensor has shape [${this.shape.join(", ")}], expected a single element`);
    return this.data[0];
  }

  toString(): string {
    return `Tensor(${this.name ?? ""}[${this.shape.join(", ")}])`;
  }
}

/** Tensors produced by recorded ops since the last releaseGraph(), in creation order. */
const tape: Tensor[] = [];

/**
 * Creates an op's output. When gradients are enabled and an input requires them, the output is
 * recorded on the tape with `backward`, which must accumulate into the inputs' gradBuffer()s.
 */
export function makeOutput(
  data: FloatArray,
  shape: readonly number[],
  inputs: readonly Tensor[],
  backward: ((out: Tensor) => void) | null,
  base: Tensor | null = null,
): Tensor {
  const needs = gradEnabled && backward !== null && inputs.some((t) => t.requiresGrad);
  // A view of a view borrows from the owner of the buffer.
  const owner = base === null ? null : (base.base ?? base);
  const out = new Tensor(data, shape, { requiresGrad: needs, base: owner });
  if (needs) out.backwardFn = () => backward!(out);
  // Every op output is recorded, with or without a gradient, so that releaseGraph()/tidy() can
  // return its buffer to the pool (evaluation loops under noGrad() reuse memory too).
  tape.push(out);
  return out;
}

/** Records a buffer-holding tensor that is not an op output (saved activations) for release. */
export function track(t: Tensor): Tensor {
  tape.push(t);
  return t;
}

/**
 * Ends a step: returns every recorded intermediate's data and gradient to the pool and clears
 * the tape. Leaves (parameters, inputs) keep their data; their gradients stay until zeroGrad.
 * Tensors passed in `keep` keep their data (e.g. a hooked attention pattern the caller stores).
 */
export function releaseGraph(keep: readonly Tensor[] = []): void {
  releaseFrom(0, keep);
}

function releaseFrom(start: number, keep: readonly Tensor[]): void {
  const kept = new Set(keep);
  for (const k of keep) if (k.base !== null) kept.add(k.base); // a kept view keeps its buffer
  for (let i = start; i < tape.length; i++) {
    const t = tape[i];
    if (t.grad !== null) {
      releaseBuffer(t.grad);
      t.grad = null;
    }
    if (!kept.has(t)) {
      if (t.base === null) releaseBuffer(t.data);
      t.data = EMPTY;
    }
    t.backwardFn = null;
  }
  tape.length = start;
}

/**
 * Runs fn and then releases every tensor created inside it except those it returns (a tensor, an
 * array of tensors or an object whose values are tensors). Like tf.tidy: evaluation loops wrap
 * each batch in it so memory stays flat. Kept tensors are detached from the graph.
 */
export function tidy<T>(fn: () => T): T {
  const start = tape.length;
  const result = fn();
  const keep: Tensor[] = [];
  if (result instanceof Tensor) keep.push(result);
  else if (Array.isArray(result))
    for (const r of result) {
      if (r instanceof Tensor) keep.push(r);
    }
  else if (result !== null && typeof result === "object") {
    for (const r of Object.values(result as object)) if (r instanceof Tensor) keep.push(r);
  }
  releaseFrom(start, keep);
  return result;
}

/**
 * The gradient buffer of t when it wants one, else a zeroed scratch buffer pushed on `scratch`
 * (fused backward kernels write every input's gradient; the caller releases the scratch ones).
 */
export function gradOrScratch(t: Tensor, scratch: FloatArray[]): FloatArray {
  if (t.requiresGrad) return t.gradBuffer();
  const s = allocZeros(t.size);
  scratch.push(s);
  return s;
}

/** Number of recorded nodes (tests). */
export function tapeLength(): number {
  return tape.length;
}

// ---- shape helpers -------------------------------------------------------------------------

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid shape [${shape.join(", ")}]: dimensions must be non-negative integers`);
    n *= d;
  }
  return n;
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Row-major contiguous strides (one definition, shared with the reference kernels). */
export { contiguousStrides } from "./reference/strided.ts";

// ---- constructors --------------------------------------------------------------------------

export function tensor(values: ArrayLike<number>, shape: readonly number[], opts: { requiresGrad?: boolean; name?: string } = {}): Tensor {
  const data = allocRaw(values.length);
  for (let i = 0; i < values.length; i++) data[i] = values[i];
  return new Tensor(data, shape, opts);
}

export function zeros(shape: readonly number[], opts: { requiresGrad?: boolean; name?: string } = {}): Tensor {
  return new Tensor(allocZeros(shapeSize(shape)), shape, opts);
}

export function full(shape: readonly number[], value: number, opts: { requiresGrad?: boolean; name?: string } = {}): Tensor {
  const d = allocRaw(shapeSize(shape));
  d.fill(value);
  return new Tensor(d, shape, opts);
}

/** A trainable leaf (a parameter): requiresGrad and a name. */
export function parameter(name: string, data: FloatArray, shape: readonly number[]): Tensor {
  return new Tensor(data, shape, { requiresGrad: true, name });
}
