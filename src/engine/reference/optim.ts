/** AdamW (decoupled weight decay, as torch.optim.AdamW), one step in place. */
import type { Kernels } from "../kernels.ts";
import { checkLens, checkPositive } from "./check.ts";

export const adamw: Kernels["adamw"] = (p, g, m, v, lr, beta1, beta2, eps, weightDecay, step) => {
  const K = "adamw";
  checkPositive(K, "step", step);
  const n = p.length;
  checkLens(K, { g, m, v }, n, `n=${n} (the length of 'p')`);
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
};
