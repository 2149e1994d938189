// The radix select of the filtered rows (sampler_filtered.cu): exact, 4 reads of the row per
// threshold; the window path's fallback and the whole selection under HEARTH_SAMPLER=radix.
// Internal to kernels/sampling.
#pragma once

#include "kernels/sampling/sampler_block.cuh"

namespace hearth {
namespace sampling_kernels {

// Radix select, 8 bits per pass from the top, over v_i = x[i] * scale restricted to keys >=
// floor_key, each weighing 1 (kMass = false) or exp(v_i - m). Returns the key K with
//   W(key > K) < target <= W(key >= K),
// or the lowest present key when rounding leaves the target unreached (then all are kept).
template <bool kMass>
__device__ uint32_t RadixSelect(const float* x, int n, float scale, float m, uint32_t floor_key,
                                float target, Shared& sh) {
  uint32_t prefix = 0, mask = 0;
  float above = 0.f;
  for (int shift = 24; shift >= 0; shift -= 8) {
    __syncthreads();
    for (int i = threadIdx.x; i < kWarps * kBins; i += blockDim.x) (&sh.hist[0][0])[i] = 0.f;
    __syncthreads();
    float* my = sh.hist[threadIdx.x >> 5];
    ForEachBatched(x, n, [&](int, float xi) {
      const float v = __fmul_rn(xi, scale);
      const uint32_t key = OrderedKey(v);
      // NaN is never selected (its key would sort above +inf, or below -inf for a negative NaN).
      if (!(v == v) || key < floor_key || (key & mask) != prefix) return;
      atomicAdd(&my[(key >> shift) & 0xffu], kMass ? cuda::FastExp(v - m) : 1.f);
    });
    __syncthreads();
    if (threadIdx.x < kBins) {
      float s = 0.f;
      for (int w = 0; w < kWarps; ++w) s += sh.hist[w][threadIdx.x];
      sh.hist[0][threadIdx.x] = s;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int chosen = -1, lowest = 0;
      for (int d = kBins - 1; d >= 0; --d) {
        const float h = sh.hist[0][d];
        if (h <= 0.f) continue;
        lowest = d;
        if (above + h >= target) {
          chosen = d;
          break;
        }
        above += h;
      }
      if (chosen < 0) {  // target not reached: descend into the lowest bin
        chosen = lowest;
        above -= sh.hist[0][lowest];
      }
      sh.sel_prefix = prefix | (static_cast<uint32_t>(chosen) << shift);
      sh.sel_above = above;
    }
    __syncthreads();
    prefix = sh.sel_prefix;
    above = sh.sel_above;
    mask |= 0xffu << shift;
  }
  return prefix;
}

// Top-n of the raw row into out (ids, logprobs), by value then lowest id.
__device__ inline void TopLogprobs(const float* x, int vocab, int n, float lse, int32_t* top_ids,
                                   float* top_lp, Shared& sh) {
  const uint32_t k = RadixSelect<false>(x, vocab, 1.f, 0.f, 0u, static_cast<float>(n), sh);
  if (threadIdx.x == 0) sh.num_gt = 0, sh.num_eq = 0;
  __syncthreads();
  ForEachBatched(x, vocab, [&](int i, float xi) {
    if (!(xi == xi)) return;  // NaN is not ranked
    const uint32_t key = OrderedKey(xi);
    if (key > k) {
      const int slot = atomicAdd(&sh.num_gt, 1);  // fewer than n by construction
      if (slot < kMaxLogprobs) sh.gt_val[slot] = xi, sh.gt_idx[slot] = i;
    } else if (key == k) {
      const int slot = atomicAdd(&sh.num_eq, 1);
      if (slot < kMaxLogprobs) sh.eq_val[slot] = xi, sh.eq_idx[slot] = i;
    }
  });
  __syncthreads();
  if (threadIdx.x == 0) {
    // Insertion sort of both short lists, then the ties fill what the larger values left.
    float val[2 * kMaxLogprobs];
    int idx[2 * kMaxLogprobs];
    int c = 0;
    const int ngt = min(sh.num_gt, kMaxLogprobs), neq = min(sh.num_eq, kMaxLogprobs);
    for (int j = 0; j < ngt; ++j) val[c] = sh.gt_val[j], idx[c++] = sh.gt_idx[j];
    for (int j = 0; j < neq; ++j) val[c] = sh.eq_val[j], idx[c++] = sh.eq_idx[j];
    for (int a = 1; a < c; ++a)
      for (int b = a; b > 0 && Better(val[b], idx[b], val[b - 1], idx[b - 1]); --b) {
        const float tv = val[b];
        val[b] = val[b - 1], val[b - 1] = tv;
        const int ti = idx[b];
        idx[b] = idx[b - 1], idx[b - 1] = ti;
      }
    for (int j = 0; j < n && j < c; ++j) top_ids[j] = idx[j], top_lp[j] = val[j] - lse;
  }
}

}  // namespace sampling_kernels
}  // namespace hearth
