/**
 * AdamW (decoupled weight decay, as torch.optim.AdamW) over a model's parameters, with global
 * gradient-norm clipping. The update itself is one fused kernel per parameter. Weight decay is
 * applied to matrices only (not to biases, layer-norm parameters or smeared-key α), as GPT-2 and
 * nanoGPT do.
 */
import { kernels } from "../engine/backend.ts";
import { type Tensor, allocZeros, releaseGraph } from "../engine/tensor.ts";

export interface AdamWOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface AdamWState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export class AdamW {
  readonly state: AdamWState;
  private readonly decays: Map<string, boolean>;

  constructor(
    readonly params: ReadonlyMap<string, Tensor>,
    readonly opts: AdamWOptions,
  ) {
    this.state = { step: 0, m: new Map(), v: new Map() };
    this.decays = new Map();
    for (const [name, p] of params) {
      this.state.m.set(name, allocZeros(p.size));
      this.state.v.set(name, allocZeros(p.size));
      this.decays.set(name, p.rank >= 2);
    }
  }

  /** Global L2 norm of all gradients (parameters without a gradient count as zero). */
  gradNorm(): number {
    const K = kernels();
    let s = 0;
    for (const p of this.params.values()) if (p.grad !== null) s += K.sumSquares(p.grad);
    return Math.sqrt(s);
  }

  /**
   * One step at learning rate lr. When clip > 0 and the gradient norm exceeds it, gradients are
   * scaled by clip / norm first. Returns the gradient norm before clipping.
   */
  step(lr: number, clip: number): number {
    const K = kernels();
    const norm = this.gradNorm();
    const factor = clip > 0 && norm > clip ? clip / norm : 1;
    this.state.step++;
    const { beta1, beta2, eps, weightDecay } = this.opts;
    for (const [name, p] of this.params) {
      if (p.grad === null) continue;
      if (factor !== 1) K.unary("scale", p.grad, p.grad, factor);
      K.adamw(
        p.data,
        p.grad,
        this.state.m.get(name)!,
        this.state.v.get(name)!,
        lr,
        beta1,
        beta2,
        eps,
        this.decays.get(name) ? weightDecay : 0,
        this.state.step,
      );
    }
    return norm;
  }

  zeroGrad(): void {
    for (const p of this.params.values()) if (p.grad !== null) p.grad.fill(0);
  }
}

/** The loop settings the small trainers (classifier, regression) share: their steps, batch and AdamW schedule. */
export interface SmallTrainLoop {
  steps: number;
  batch: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  /** Global gradient-norm clip (0: none). */
  clip: number;
}

/**
 * One step of the small trainers (classifier, regression): the loss's value (an error naming `what`
 * when it is not finite), backward, AdamW at lr with a linear warm-up over `warmupSteps`, zeroed
 * gradients and the graph released. Returns the loss value.
 */
export function warmupStep(what: string, loss: Tensor, opt: AdamW, step: number, c: Pick<SmallTrainLoop, "lr" | "warmupSteps" | "clip">): number {
  const value = loss.item();
  if (!Number.isFinite(value)) throw new Error(`${what}: the loss became ${value} at step ${step} (lr ${c.lr}); lower lr`);
  loss.backward();
  opt.step(c.lr * Math.min(1, step / Math.max(1, c.warmupSteps)), c.clip);
  opt.zeroGrad();
  releaseGraph();
  return value;
}
