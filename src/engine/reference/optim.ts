/** AdamW (decoupled weight decay, as torch.optim.AdamW), one step in place. */
import type { F32 } from "../kernels.ts";
import { checkLen, checkPositive } from "./check.ts";

export function adamw(p: F32, g: F32, m: F32, v: F32, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number): void {
  const K = "adamw";
  checkPositive(K, "step", step);
  const n = p.length;
  const what = `n=${n} (the length of 'p')`;
  checkLen(K, "g", g, n, what);
  checkLen(K, "m", m, n, what);
  checkLen(K, "v", v, n, what);
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2 = 1 - Math.pow(beta2, step);
  const decay = 1 - lr * weightDecay; // p − lr·wd·p
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const mi = beta1 * m[i] + (1 - beta1) * gi;
    const vi = beta2 * v[i] + (1 - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - (lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + eps);
  }
}
