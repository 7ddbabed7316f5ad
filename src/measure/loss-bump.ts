/**
 * Loss-bump detection on the training loss over training (x = log10 training tokens), with the
 * smoothing and the noise estimate of phase-change.ts.
 *
 * Loss bump (on the training loss): the stretch where loss against log tokens is not convex.
 *   1. the points are averaged in bins of 1/20 decade (training loss is logged densely and is
 *      noisy), then smoothed as for the phase change;
 *   2. the initial fall from the untrained loss is concave at its start (flat, then falling), which
 *      is not the bump: the analysis starts after it, at the first point past the fall's steepest
 *      segment (the steepest among those above the midpoint between the first and the lowest
 *      smoothed loss) where the slope has eased to half the steepest; or at `fromTokens`;
 *   3. the greatest convex minorant (lower convex hull) of the rest; the gap between the curve and
 *      the hull is zero where the curve is convex and positive over a non-convex stretch; the bump
 *      is the hull segment holding the largest significant gap: its start and end (where the curve
 *      touches its hull), the peak (largest gap) and the height (the gap, nats);
 *   4. a gap is significant when ≥ max(threshold = 0.01 nats, 3 σ̂_b), σ̂_b the standard error of
 *      that bin's mean (the pooled within-bin standard deviation / √points in the bin: early bins
 *      hold few steps and are noisier); with one point per bin (sparse logging), σ̂ comes from the
 *      second differences as for the phase change. "none" when no gap is significant.
 */
import { noiseEstimate, smooth3, sortedPoints, type TrajectoryPoint } from "./phase-change.ts";

export interface LossBumpOptions {
  /** Smallest non-convexity reported (nats; default 0.01). */
  threshold?: number;
  noiseFactor?: number;
  /** Bin width is 1/binsPerDecade decade (default 20). */
  binsPerDecade?: number;
  /** Start the analysis here instead of after the initial fall (tokens). */
  fromTokens?: number;
}

export type LossBump =
  | { status: "none"; reason: string; height: number; threshold: number; required: number; noise: number }
  | {
      status: "found";
      /** Tokens where the curve leaves and rejoins its convex minorant. */
      start: number;
      end: number;
      /** Tokens of the largest gap. */
      peak: number;
      /** The largest gap above the convex minorant (nats). */
      height: number;
      threshold: number;
      required: number;
      noise: number;
    };

interface Bins {
  x: Float64Array;
  y: Float64Array;
  count: Int32Array;
  /** Sum of squared deviations from the bin mean. */
  ss: Float64Array;
}

/** Points averaged in bins of 1/binsPerDecade decade of log10 tokens. */
function binLog(x: Float64Array, y: Float64Array, binsPerDecade: number): Bins {
  const bx: number[] = [],
    by: number[] = [],
    bc: number[] = [],
    bss: number[] = [];
  let i = 0;
  while (i < x.length) {
    const bin = Math.floor(x[i] * binsPerDecade);
    const first = i;
    let sx = 0,
      sy = 0;
    while (i < x.length && Math.floor(x[i] * binsPerDecade) === bin) {
      sx += x[i];
      sy += y[i];
      i++;
    }
    const c = i - first,
      my = sy / c;
    let ss = 0;
    for (let k = first; k < i; k++) ss += (y[k] - my) ** 2;
    bx.push(sx / c);
    by.push(my);
    bc.push(c);
    bss.push(ss);
  }
  return { x: Float64Array.from(bx), y: Float64Array.from(by), count: Int32Array.from(bc), ss: Float64Array.from(bss) };
}

/** Indices of the lower convex hull of points sorted by x (Andrew's monotone chain, lower half). */
export function lowerHull(x: ArrayLike<number>, y: ArrayLike<number>): number[] {
  const h: number[] = [];
  for (let i = 0; i < x.length; i++) {
    while (h.length >= 2) {
      const o = h[h.length - 2],
        a = h[h.length - 1];
      // Pop a when it lies on or above the segment o → i (not strictly below: not convex there).
      const cross = (x[a] - x[o]) * (y[i] - y[o]) - (y[a] - y[o]) * (x[i] - x[o]);
      if (cross <= 0) h.pop();
      else break;
    }
    h.push(i);
  }
  return h;
}

/** Finds the loss bump (the non-convex stretch of loss against log tokens); see the module comment. */
export function detectLossBump(points: readonly TrajectoryPoint[], opts: LossBumpOptions = {}): LossBump {
  const threshold = opts.threshold ?? 0.01;
  const noiseFactor = opts.noiseFactor ?? 3;
  const sp = sortedPoints(points, "detectLossBump");
  const bins = binLog(sp.x, sp.y, opts.binsPerDecade ?? 20);
  const n = bins.x.length;
  if (n < 4) return { status: "none", reason: `${n} binned points; at least 4 are needed`, height: 0, threshold, required: threshold, noise: 0 };
  const s = smooth3(bins.y);
  const slope = (i: number) => (s[i] - s[i - 1]) / (bins.x[i] - bins.x[i - 1]);
  let i0 = 0;
  if (opts.fromTokens !== undefined) {
    const fx = Math.log10(opts.fromTokens);
    while (i0 < n - 1 && bins.x[i0] < fx) i0++;
  } else {
    let lowest = Infinity;
    for (const v of s) lowest = Math.min(lowest, v);
    const mid = (s[0] + lowest) / 2;
    let steep = 0,
      at = 0;
    for (let i = 1; i < n && s[i - 1] >= mid; i++) {
      if (slope(i) < steep) {
        steep = slope(i);
        at = i;
      }
    }
    i0 = at;
    while (i0 + 1 < n && slope(i0 + 1) < steep / 2) i0++;
    if (steep < 0) i0++;
  }
  const x = bins.x.subarray(i0),
    y = s.subarray(i0);
  // Standard error of each bin's mean: pooled within-bin sd / √count, or the second-difference
  // estimate when no bin holds two points.
  let ss = 0,
    dof = 0;
  for (let i = i0; i < n; i++) {
    ss += bins.ss[i];
    dof += bins.count[i] - 1;
  }
  const pooled = dof > 0 ? Math.sqrt(ss / dof) : noiseEstimate(bins.y.subarray(i0));
  const se = (i: number) => pooled / Math.sqrt(bins.count[i0 + i]);
  if (x.length < 3) return { status: "none", reason: "too few points after the initial fall", height: 0, threshold, required: threshold, noise: pooled };
  const hull = lowerHull(x, y);
  let height = 0,
    peak = -1,
    seg = 0,
    largest = 0,
    largestAt = 0;
  for (let k = 0; k + 1 < hull.length; k++) {
    const p = hull[k],
      q = hull[k + 1];
    for (let i = p + 1; i < q; i++) {
      const gap = y[i] - (y[p] + ((y[q] - y[p]) * (x[i] - x[p])) / (x[q] - x[p]));
      if (gap > largest) {
        largest = gap;
        largestAt = i;
      }
      if (gap >= Math.max(threshold, noiseFactor * se(i)) && gap > height) {
        height = gap;
        peak = i;
        seg = k;
      }
    }
  }
  if (peak < 0) {
    const req = Math.max(threshold, noiseFactor * se(largestAt));
    const why =
      largest < threshold
        ? `largest non-convexity ${largest.toFixed(4)} nats is below the threshold ${threshold}`
        : `largest non-convexity ${largest.toFixed(4)} nats is within ${noiseFactor}× its noise ${se(largestAt).toFixed(4)}`;
    return { status: "none", reason: why, height: largest, threshold, required: req, noise: se(largestAt) };
  }
  return {
    status: "found",
    start: 10 ** x[hull[seg]],
    end: 10 ** x[hull[seg + 1]],
    peak: 10 ** x[peak],
    height,
    threshold,
    required: Math.max(threshold, noiseFactor * se(peak)),
    noise: se(peak),
  };
}
