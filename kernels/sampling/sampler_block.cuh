// The filtered-row kernel's block (sampler_filtered.cu): its shared storage and block-wide
// helpers. Internal to kernels/sampling.
#pragma once

#include <climits>
#include <cstdint>

#include "kernels/sampling/sampler_device.cuh"
#include "kernels/sampling/sampler_window.h"

namespace hearth {
namespace sampling_kernels {

constexpr int kThreads = kFilteredThreads;
constexpr int kWarps = kThreads / 32;
constexpr int kBins = 256;

namespace sw = sampler_window;

struct WindowHist {  // sampler_window.h: bin 0 = the top of [m - kSpan, m]
  int count[sw::kBins];
  float mass[sw::kBins];  // sum of exp(v - m); filled for top-p only
};

struct Shared {
  union {
    float hist[kWarps][kBins];  // per-warp radix histograms: contention stays within a warp
    WindowHist win;             // the window path (never live at once with the radix one)
    struct {
      float v[kThreads];
      int id[kThreads];
    } sort;  // BlockSortBestFirst's exchanges between warps
  };
  // The window path's collected threshold bin: values, weights (1 or exp(v - m)), token ids.
  // Slots [0, buf_count) hold one bin; [buf_begin2, buf_begin2 + buf_count2) may hold a second
  // one collected in the same read (top-p's bin above top-k's, sw::CoCollectedBin).
  float buf_val[sw::kCap], buf_w[sw::kCap];
  int buf_idx[sw::kCap];
  int buf_count, buf_begin2, buf_count2;
  int cross_bin;
  float cross_above_f;
  int cross_above_i;
  uint32_t thr_key, low_key;
  float red_f[kWarps], red_f2[kWarps];
  int red_i[kWarps];
  uint32_t sel_prefix;
  float sel_above;
  int num_gt, num_eq;
  float gt_val[kMaxLogprobs], eq_val[kMaxLogprobs];
  int gt_idx[kMaxLogprobs], eq_idx[kMaxLogprobs];
  float raw_token_logit, nth_largest;
  float part_lse, part_raw_max, part_max;
  int part_argmax;
};

__device__ inline float BlockSum(float v, Shared& sh) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) sh.red_f[threadIdx.x >> 5] = v;
  __syncthreads();
  v = sh.red_f[threadIdx.x & 31];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Block-wide merge of the threads' online log-sum-exp states (MergeRaw); every thread gets it.
__device__ inline void BlockMergeRaw(float& m, float& sum, Shared& sh) {
  for (int o = 16; o > 0; o >>= 1)
    MergeRaw(m, sum, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, sum, o));
  __syncthreads();
  if ((threadIdx.x & 31) == 0) sh.red_f[threadIdx.x >> 5] = m, sh.red_f2[threadIdx.x >> 5] = sum;
  __syncthreads();
  m = sh.red_f[threadIdx.x & 31], sum = sh.red_f2[threadIdx.x & 31];
  for (int o = 16; o > 0; o >>= 1)
    MergeRaw(m, sum, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, sum, o));
}

// Inclusive prefix sums of one value per thread in thread order; `total` (the same in every
// thread) their sum.
__device__ inline float BlockInclusiveScan(float v, Shared& sh, float& total) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int o = 1; o < 32; o <<= 1) {
    const float up = __shfl_up_sync(0xffffffffu, v, o);
    if (lane >= o) v += up;
  }
  __syncthreads();
  if (lane == 31) sh.red_f[warp] = v;
  __syncthreads();
  float before = 0.f;
  total = 0.f;
  for (int w = 0; w < kWarps; ++w) {
    if (w == warp) before = total;
    total += sh.red_f[w];
  }
  return before + v;
}

// Block-wide argmax of (value, index), lowest index on ties; every thread gets the index.
__device__ inline int BlockArgMax(float v, int i, Shared& sh) {
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oi = __shfl_xor_sync(0xffffffffu, i, o);
    if (Better(ov, oi, v, i)) v = ov, i = oi;
  }
  __syncthreads();
  if ((threadIdx.x & 31) == 0) sh.red_f[threadIdx.x >> 5] = v, sh.red_i[threadIdx.x >> 5] = i;
  __syncthreads();
  v = sh.red_f[threadIdx.x & 31];
  i = sh.red_i[threadIdx.x & 31];
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oi = __shfl_xor_sync(0xffffffffu, i, o);
    if (Better(ov, oi, v, i)) v = ov, i = oi;
  }
  return i;
}

// Test hook: sampler_kernel_emulation_test counts the filtered kernel's reads of each row (every
// thread calls it once per read); the GPU build compiles it to nothing.
#ifndef HEARTH_SAMPLER_ROW_READ_HOOK
#define HEARTH_SAMPLER_ROW_READ_HOOK()
#endif

// f(i, x[i]) for every i in [begin, n), block-strided from begin + threadIdx.x; each thread
// issues kBatch loads before using any, so a 1024-thread block keeps 32 KB in flight instead of
// 4 KB (the filtered path is latency-bound otherwise: one block per row).
constexpr int kBatch = 8;
// v[u] = x[base + u * blockDim.x], -inf past n.
__device__ __forceinline__ void LoadBatch(const float* x, int base, int n, float (&v)[kBatch]) {
#pragma unroll
  for (int u = 0; u < kBatch; ++u) {
    const int i = base + u * blockDim.x;
    v[u] = i < n ? x[i] : -INFINITY;
  }
}
// f(base, v) per batch: v[u] = x[base + u * blockDim.x], -inf past n. kAhead: the next batch's
// loads are issued before f runs on this one (a 1024-thread block keeps 32 KiB in flight while it
// works, where it had none between its batches), at 8 more registers: SampleInOneRead's read
// (no spills), not the window path's (SampleKernel, at its 64 registers, spilled 136 bytes
// instead of 44). f may not wait at a barrier: threads run different numbers of batches.
template <bool kAhead = false, class F>
__device__ __forceinline__ void ForEachBatchFrom(const float* x, int begin, int n, F&& f) {
  const int stride = kBatch * blockDim.x;
  if constexpr (kAhead) {
    int base = begin + threadIdx.x;
    if (base >= n) return;
    float v[kBatch];
    LoadBatch(x, base, n, v);
    for (; base < n; base += stride) {
      float next[kBatch];
      if (base + stride < n) LoadBatch(x, base + stride, n, next);
      f(base, v);
#pragma unroll
      for (int u = 0; u < kBatch; ++u) v[u] = next[u];
    }
  } else {
    for (int base = begin + threadIdx.x; base < n; base += stride) {
      float v[kBatch];
      LoadBatch(x, base, n, v);
      f(base, v);
    }
  }
}
template <class F>
__device__ __forceinline__ void ForEachBatchedFrom(const float* x, int begin, int n, F&& f) {
  ForEachBatchFrom(x, begin, n, [&](int base, const float(&v)[kBatch]) {
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      const int i = base + u * blockDim.x;
      if (i < n) f(i, v[u]);
    }
  });
}
// A read of the row: f(i, x[i]) for every i < n.
template <class F>
__device__ __forceinline__ void ForEachBatched(const float* x, int n, F&& f) {
  HEARTH_SAMPLER_ROW_READ_HOOK();
  ForEachBatchedFrom(x, 0, n, f);
}

}  // namespace sampling_kernels
}  // namespace hearth
