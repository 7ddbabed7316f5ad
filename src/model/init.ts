/**
 * Parameter creation and initialisation, shared by every architecture.
 *
 * Initialisation (as TransformerLens' default for its small models): every weight matrix and
 * embedding ~ N(0, σ²) with σ = initScale · 0.8 / √dModel; biases 0; layer-norm weights 1 and
 * biases 0; smeared-key α = 0 (σ(α) = ½). Recurrent weights ~ U(−1/√H, 1/√H) as PyTorch's
 * nn.LSTM/nn.RNN. Parameters are created in a fixed order from one seeded generator, so a
 * config and a seed determine the model bit for bit.
 */
import { type Tensor, allocRaw, parameter } from "../engine/tensor.ts";
import { Rng } from "../util/random.ts";

export class ParamSet {
  readonly params = new Map<string, Tensor>();
  private readonly rng: Rng;

  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  private add(name: string, shape: number[], fill: (i: number) => number): Tensor {
    if (this.params.has(name)) throw new Error(`duplicate parameter name '${name}'`);
    const n = shape.reduce((a, b) => a * b, 1);
    const data = allocRaw(n);
    for (let i = 0; i < n; i++) data[i] = fill(i);
    const t = parameter(name, data, shape);
    this.params.set(name, t);
    return t;
  }

  normal(name: string, shape: number[], std: number): Tensor {
    return this.add(name, shape, () => this.rng.normal() * std);
  }

  uniform(name: string, shape: number[], bound: number): Tensor {
    return this.add(name, shape, () => (2 * this.rng.uniform() - 1) * bound);
  }

  constant(name: string, shape: number[], value: number): Tensor {
    return this.add(name, shape, () => value);
  }

  get(name: string): Tensor {
    const t = this.params.get(name);
    if (t === undefined) throw new Error(`no parameter named '${name}'`);
    return t;
  }
}

export function matrixStd(dModel: number, initScale: number): number {
  return (initScale * 0.8) / Math.sqrt(dModel);
}
