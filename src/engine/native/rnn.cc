// LSTM (gate order i, f, g, o) and Elman RNN over whole sequences, forward and backward.
//
// Threads split the batch (rows are independent through time), each running the whole sequence
// for its rows in one parallel region. Per step the recurrent product h_{t−1}·whh of those rows is
// one oneDNN sgemm written straight into this step's slice of `gates` / `hs`, and the activations
// follow in one fused, vectorised pass. The backward pass keeps dz of every step in scratch so that
// dwhh is one large sgemm over all T·B rows at the end instead of T small ones.
#include <algorithm>

#include "kernels.h"

namespace icl {

namespace {

/**
 * Runs body(b0, b1) on slices of the batch, one slice per thread, inside ONE parallel region for the
 * whole sequence: batch rows are independent through time, so the threads never synchronise
 * between steps (a barrier per step costs a scheduler time slice whenever another process holds a
 * core). The sgemm calls inside run single-threaded (oneDNN sees omp_in_parallel()).
 */
template <class F>
void overBatch(idx B, F&& body) {
  const int nt = static_cast<int>(std::min<idx>(numThreads(), B));
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int n = omp_get_num_threads(), tid = omp_get_thread_num();
    body(B * tid / n, B * (tid + 1) / n);
  }
}

}  // namespace

bool lstm(const float* xw, const float* whh, const float* h0, const float* c0, idx T, idx B, idx H, float* hs,
          float* cs, float* gates) {
  const idx G = 4 * H, BH = B * H, BG = B * G;
  bool ok = true;
  overBatch(B, [&](idx b0, idx b1) {
    const idx nb = b1 - b0;
    for (idx t = 0; t < T && nb > 0; t++) {
      const float* hPrev = (t == 0 ? h0 : hs + (t - 1) * BH) + b0 * H;
      const float* cPrev = (t == 0 ? c0 : cs + (t - 1) * BH) + b0 * H;
      float* z = gates + t * BG + b0 * G;
      const float* x = xw + t * BG + b0 * G;
      // z = h_{t−1}·whh, then + xw_t in the activation pass
      if (!sgemm(false, false, nb, G, H, 1.0f, hPrev, H, whh, G, 0.0f, z, G)) {
        ok = false;  // only ever set to false; read after the region
        return;
      }
      float* ht = hs + t * BH + b0 * H;
      float* ct = cs + t * BH + b0 * H;
      for (idx b = 0; b < nb; b++) {
        float* zr = z + b * G;
        const float* xr = x + b * G;
        const float* cp = cPrev + b * H;
        float* hr = ht + b * H;
        float* cr = ct + b * H;
#pragma omp simd
        for (idx j = 0; j < H; j++) {
          const float ig = vsigmoid(zr[j] + xr[j]);
          const float fg = vsigmoid(zr[H + j] + xr[H + j]);
          const float gg = vtanh(zr[2 * H + j] + xr[2 * H + j]);
          const float og = vsigmoid(zr[3 * H + j] + xr[3 * H + j]);
          const float c = fg * cp[j] + ig * gg;
          zr[j] = ig;
          zr[H + j] = fg;
          zr[2 * H + j] = gg;
          zr[3 * H + j] = og;
          cr[j] = c;
          hr[j] = og * vtanh(c);
        }
      }
    }
  });
  return ok;
}

bool lstmBackward(const float* whh, const float* h0, const float* c0, const float* hs, const float* cs,
                  const float* gates, const float* dhs, idx T, idx B, idx H, float* dxw, float* dwhh, float* dh0,
                  float* dc0) {
  if (T == 0 || B == 0 || H == 0) return true;
  const idx G = 4 * H, BH = B * H, BG = B * G;
  float* dz = scratch<float>(0, static_cast<std::size_t>(T * BG));  // dz of every step
  float* dhNext = scratch<float>(1, static_cast<std::size_t>(BH));  // gradient reaching h_t from t+1
  float* dcNext = scratch<float>(2, static_cast<std::size_t>(BH));  // gradient reaching c_t from t+1
  bool ok = true;
  overBatch(B, [&](idx b0, idx b1) {
    const idx nb = b1 - b0;
    if (nb == 0) return;
    std::fill(dhNext + b0 * H, dhNext + b1 * H, 0.0f);
    std::fill(dcNext + b0 * H, dcNext + b1 * H, 0.0f);
    for (idx t = T - 1; t >= 0; t--) {
      const float* gt = gates + t * BG + b0 * G;
      const float* ct = cs + t * BH + b0 * H;
      const float* cPrev = (t == 0 ? c0 : cs + (t - 1) * BH) + b0 * H;
      const float* dht = dhs + t * BH + b0 * H;
      float* dzt = dz + t * BG + b0 * G;
      float* dxt = dxw + t * BG + b0 * G;
      for (idx b = 0; b < nb; b++) {
        const float* gr = gt + b * G;
        const float* cr = ct + b * H;
        const float* cp = cPrev + b * H;
        const float* dhr = dht + b * H;
        const float* dhn = dhNext + (b0 + b) * H;
        float* dcn = dcNext + (b0 + b) * H;
        float* dzr = dzt + b * G;
        float* dxr = dxt + b * G;
#pragma omp simd
        for (idx j = 0; j < H; j++) {
          const float ig = gr[j], fg = gr[H + j], gg = gr[2 * H + j], og = gr[3 * H + j];
          const float tc = vtanh(cr[j]);
          const float dh = dhr[j] + dhn[j];
          const float dc = dcn[j] + dh * og * (1.0f - tc * tc);
          const float zi = dc * gg * ig * (1.0f - ig);
          const float zf = dc * cp[j] * fg * (1.0f - fg);
          const float zg = dc * ig * (1.0f - gg * gg);
          const float zo = dh * tc * og * (1.0f - og);
          dzr[j] = zi;
          dzr[H + j] = zf;
          dzr[2 * H + j] = zg;
          dzr[3 * H + j] = zo;
          dxr[j] += zi;
          dxr[H + j] += zf;
          dxr[2 * H + j] += zg;
          dxr[3 * H + j] += zo;
          dcn[j] = dc * fg;
        }
      }
      // dhNext = dz_t·whhᵀ  (whh is H×4H)
      if (!sgemm(false, true, nb, H, G, 1.0f, dzt, G, whh, G, 0.0f, dhNext + b0 * H, H)) {
        ok = false;
        return;
      }
    }
  });
  if (!ok) return false;
  // dwhh += h0ᵀ·dz_0 + hs[0:T−1]ᵀ·dz[1:T]: one large product over all steps (threaded by oneDNN)
  if (!sgemm(true, false, H, G, B, 1.0f, h0, H, dz, G, 1.0f, dwhh, G)) return false;
  if (T > 1 && !sgemm(true, false, H, G, (T - 1) * B, 1.0f, hs, H, dz + BG, G, 1.0f, dwhh, G)) return false;
#pragma omp simd
  for (idx i = 0; i < BH; i++) {
    dh0[i] += dhNext[i];
    dc0[i] += dcNext[i];
  }
  return true;
}

bool rnn(const float* xw, const float* whh, const float* h0, idx T, idx B, idx H, float* hs) {
  const idx BH = B * H;
  bool ok = true;
  overBatch(B, [&](idx b0, idx b1) {
    const idx nb = b1 - b0, n = nb * H;
    for (idx t = 0; t < T && nb > 0; t++) {
      const float* hPrev = (t == 0 ? h0 : hs + (t - 1) * BH) + b0 * H;
      float* ht = hs + t * BH + b0 * H;
      const float* x = xw + t * BH + b0 * H;
      if (!sgemm(false, false, nb, H, H, 1.0f, hPrev, H, whh, H, 0.0f, ht, H)) {
        ok = false;
        return;
      }
#pragma omp simd
      for (idx i = 0; i < n; i++) ht[i] = vtanh(ht[i] + x[i]);
    }
  });
  return ok;
}

bool rnnBackward(const float* whh, const float* h0, const float* hs, const float* dhs, idx T, idx B, idx H,
                 float* dxw, float* dwhh, float* dh0) {
  if (T == 0 || B == 0 || H == 0) return true;
  const idx BH = B * H;
  float* dz = scratch<float>(0, static_cast<std::size_t>(T * BH));
  float* dhNext = scratch<float>(1, static_cast<std::size_t>(BH));
  bool ok = true;
  overBatch(B, [&](idx b0, idx b1) {
    const idx nb = b1 - b0, n = nb * H;
    if (nb == 0) return;
    float* dhn = dhNext + b0 * H;
    std::fill(dhn, dhn + n, 0.0f);
    for (idx t = T - 1; t >= 0; t--) {
      const float* ht = hs + t * BH + b0 * H;
      const float* dht = dhs + t * BH + b0 * H;
      float* dzt = dz + t * BH + b0 * H;
      float* dxt = dxw + t * BH + b0 * H;
#pragma omp simd
      for (idx i = 0; i < n; i++) {
        const float h = ht[i];
        const float d = (dht[i] + dhn[i]) * (1.0f - h * h);
        dzt[i] = d;
        dxt[i] += d;
      }
      if (!sgemm(false, true, nb, H, H, 1.0f, dzt, H, whh, H, 0.0f, dhn, H)) {
        ok = false;
        return;
      }
    }
  });
  if (!ok) return false;
  if (!sgemm(true, false, H, H, B, 1.0f, h0, H, dz, H, 1.0f, dwhh, H)) return false;
  if (T > 1 && !sgemm(true, false, H, H, (T - 1) * B, 1.0f, hs, H, dz + BH, H, 1.0f, dwhh, H)) return false;
#pragma omp simd
  for (idx i = 0; i < BH; i++) dh0[i] += dhNext[i];
  return true;
}

}  // namespace icl
