// The direct integer GEMV's kernel (Q4_K, Q5_K, Q6_K, Q8_0; gemv_direct.h has the work split and
// the arithmetic).
// Device code in a header so that a CPU test can run this very source under the CUDA block
// emulation (tests/support/cuda_block_emulation.h, which then stands in for the CUDA headers and
// provides ToFloat / FromFloat for float activations); matmul_gemv_direct.cu launches it.
#pragma once

#include "kernels/core/dynamic_smem.cuh"
#include "kernels/core/pdl.cuh"
#include "kernels/matmul/gemv_direct.h"
#ifdef __CUDACC__
#include "kernels/core/vec.cuh"
#endif

namespace hearth::gemv_internal {

// Registers (ptxas -v, nvcc 13.0, sm_90a): Q4_K at one token with 4 rows takes 127 (12 16-byte
// loads in flight, the unit's x, a decoded row), Q6_K and Q8_0 128; 2 CTAs = 16 warps per SM then
// keep 2 x 256 x 192 bytes of loads in flight per SM, several times the bandwidth-latency product.
// 3 CTAs per SM (80 registers, a few spills; measured before the refill) were 0-12% slower at 1
// token on an H100 (2026-11-23, Q4_K / Q6_K / Q8_0, Llama-3-8B shapes), up to 26% at 4-8 tokens.
constexpr int kDirectMinBlocksPerSm = 2;

__device__ __forceinline__ void ToWords(const uint4& v, uint32_t* w) {
  w[0] = v.x, w[1] = v.y, w[2] = v.z, w[3] = v.w;
}

// The 16 bytes at p, or those of them before the tensor's end (zeros after): a Q8_0 or Q6_K
// unit's last load at the end of the tensor may reach past it.
__device__ __forceinline__ uint4 LoadVec(const uint8_t* p, const uint8_t* end) {
  if (p + 16 <= end) return __ldg(reinterpret_cast<const uint4*>(p));
  uint32_t w[4] = {0u, 0u, 0u, 0u};
#pragma unroll
  for (int b = 0; b < 16; ++b) {
    if (p + b >= end) break;
    w[b / 4] |= static_cast<uint32_t>(__ldg(p + b)) << (8 * (b % 4));
  }
  return {w[0], w[1], w[2], w[3]};
}

// The unit's int8 x of token t (kWeights / 4 words) and its x blocks' scales, from the
// pre-kernel's output in global memory or (kShared) from the CTA's own copy in shared memory,
// both laid out for the unit (XqOffset: a warp's lanes, on consecutive units of one group of 32,
// load 512 contiguous bytes at once, the next piece 512 bytes on).
template <class Unit, bool kShared>
__device__ __forceinline__ void LoadUnitX(const int8_t* __restrict__ xq,
                                          const XScale* __restrict__ xs, int t, int k, int unit,
                                          uint32_t* x, XScale* s) {
  constexpr int kW = Unit::kWeights, kPieces = kW / 16, kScalePieces = kW / 64;
  // 32-bit offsets: at most 8 rows of at most 65536 bytes (the pre-kernel scratch GpuMatmul
  // reserves; fused, the 48 KiB of shared memory).
  const int group_first = unit & ~(kXGroupUnits - 1), l = unit & (kXGroupUnits - 1);
  const uint4* xp = reinterpret_cast<const uint4*>(
      xq + (t * static_cast<int>(XRowBytesFor(kW, k)) + group_first * kW + l * 16));
#pragma unroll
  for (int j = 0; j < kPieces; ++j) {
    ToWords(kShared ? xp[j * kXGroupUnits] : __ldg(xp + j * kXGroupUnits), x + 4 * j);
  }
  const float4* sp = reinterpret_cast<const float4*>(
      xs + (t * static_cast<int>(XRowScalesFor(kW, k)) + group_first * (kW / kQ8Block) + l * 2));
#pragma unroll
  for (int j = 0; j < kScalePieces; ++j) {
    const float4 v = kShared ? sp[j * kXGroupUnits] : __ldg(sp + j * kXGroupUnits);
    s[2 * j] = {v.x, v.y};
    s[2 * j + 1] = {v.z, v.w};
  }
}

// Eight consecutive activations at p as floats (zeros where !valid): one 16-byte load for
// 16-bit types (p 16-byte aligned), element by element otherwise (float, under the emulation).
template <class A>
__device__ __forceinline__ void LoadEight(const A* __restrict__ p, bool valid, float* v) {
  if constexpr (sizeof(A) == 2) {
    union {
      uint4 raw;
      A a[8];
    } u;
    u.raw = valid ? __ldg(reinterpret_cast<const uint4*>(p)) : uint4{0u, 0u, 0u, 0u};
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = ::hearth::cuda::ToFloat(u.a[i]);
  } else {
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = valid ? ::hearth::cuda::ToFloat(p[i]) : 0.f;
  }
}

// The pre-kernel's work done by one CTA into its shared memory: x (num_blocks blocks of 32
// activations, tokens one after another) to int8 sxq and scales sxs, the same bits as
// QuantizeXKernel (an exact max, an integer sum, the same InverseScaleQ8 / QuantizeQ8 / ScaleQ8).
// Four lanes take a block, eight activations each (one 16-byte load); a batch of 4 blocks per quad
// has its loads in flight together. Every lane of a warp runs the same iterations (the shuffles
// need them).
template <class A, int kUnitWeights>
__device__ __forceinline__ void QuantizeXToShared(const A* __restrict__ x, int num_blocks, int k,
                                                  int8_t* sxq, XScale* sxs) {
  constexpr int kQuads = kDirectThreads / 4, kBatch = 4;
  const int quad = threadIdx.x / 4, q = threadIdx.x % 4;
  for (int b0 = 0; b0 < num_blocks; b0 += kBatch * kQuads) {
    float v[kBatch][8];
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      const int b = b0 + u * kQuads + quad;
      LoadEight<A>(x + static_cast<int64_t>(b) * kQ8Block + 8 * q, b < num_blocks, v[u]);
    }
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      if (b0 + u * kQuads >= num_blocks) break;  // the CTA's last batch: uniform
      const int b = b0 + u * kQuads + quad;
      float amax = 0.f;
#pragma unroll
      for (int i = 0; i < 8; ++i) amax = fmaxf(amax, fabsf(v[u][i]));
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 1));
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 2));
      const float id = InverseScaleQ8(amax);
      uint32_t word[2] = {0u, 0u};
      int sum = 0;
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const int qi = QuantizeQ8(v[u][i], id);
        sum += qi;
        word[i / 4] |= (static_cast<uint32_t>(qi) & 0xffu) << (8 * (i % 4));
      }
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      if (b < num_blocks) {  // laid out for the unit (XqOffset): 8 bytes stay in one piece
        const XPlace at = XPlaceOf<kUnitWeights>(k, b, 8 * q);
        uint32_t* dst = reinterpret_cast<uint32_t*>(sxq + at.q);
        dst[0] = word[0];
        dst[1] = word[1];
        if (q == 0) sxs[at.s] = ScaleQ8(amax, sum);
      }
    }
  }
}

// The row offset (bytes from the tensor's base) of row r of the lane's row slot in group g,
// clamped to the last row so that a partial group's loads stay valid (their sums are not stored).
__device__ __forceinline__ int64_t RowOffsetOf(const DirectGemvPlan& plan, int g, int slot, int r,
                                               int n, int64_t row_bytes) {
  const int row = DirectRowOf(plan, g, slot, r);
  return static_cast<int64_t>(row < n ? row : n - 1) * row_bytes;
}

// Issues the unit's kVecs 16-byte loads of one row. Its last load reaches furthest
// (gemv_direct_test): only where that one passes the tensor's end (a Q8_0 or Q6_K tensor's last
// unit) are the loads checked one by one.
template <class Unit>
__device__ __forceinline__ void LoadUnit(const uint8_t* __restrict__ w, const uint8_t* tensor_end,
                                         int unit, int64_t row_offset, uint4* v) {
  if constexpr (!Unit::kLoadsInBlock) {
    if (w + Unit::VecOffset(unit, Unit::kVecs - 1, row_offset) + 16 > tensor_end) {
#pragma unroll
      for (int j = 0; j < Unit::kVecs; ++j) {
        v[j] = LoadVec(w + Unit::VecOffset(unit, j, row_offset), tensor_end);
      }
      return;
    }
  }
#pragma unroll
  for (int j = 0; j < Unit::kVecs; ++j) {
    v[j] = __ldg(reinterpret_cast<const uint4*>(w + Unit::VecOffset(unit, j, row_offset)));
  }
}

// A lane's work is a sequence of steps, (row group, unit), walked group by group (grid-strided)
// and unit by unit within a group. Its registers hold one step's weight loads for kRows rows;
// as soon as a row's loads are decoded, the next step's loads of that row are issued into the
// same registers (the next step may lie in the lane's next row group): loads are in flight
// while the lane decodes, multiplies and reduces, not only between its steps. The arithmetic is
// unchanged (ReplayDirectRow).
// kFusedX: x arrives as activations (x, 16-byte aligned; xq, xs unused) and every CTA quantizes
// it into its dynamic shared memory (DirectFusedXBytes: xq, then xs) after its first weight
// loads are issued, in place of the pre-kernel: the same bits, one kernel fewer per call.
template <DType T, class A, int kMaxTokens, bool kFusedX>
__global__ void __launch_bounds__(kDirectThreads, kDirectMinBlocksPerSm)
    DirectGemvKernel(const uint8_t* __restrict__ w,  // [n, k] of T, 16-byte aligned
                     const int8_t* __restrict__ xq,  // [num_tokens, k] (!kFusedX)
                     const XScale* __restrict__ xs,  // [num_tokens, k / 32] (!kFusedX)
                     const A* __restrict__ x,        // [num_tokens, k] (kFusedX)
                     const A* __restrict__ bias,     // [n] or nullptr
                     A* __restrict__ y,              // [num_tokens, n]
                     int num_tokens, int n, int k, DirectGemvPlan plan) {
  cuda::PdlLaunchDependents();  // pdl.h
  using Unit = DirectUnit<T>;
  constexpr int kRows = Unit::RowsFor(kMaxTokens);  // = plan.rows_per_slot
  constexpr int kWords = 4 * Unit::kVecs;
  // One token on several rows: one x load serves them all. Else x is loaded where a dot needs it
  // (after the refill: the refilled loads, the decoded unit and x are then all that is live).
  constexpr bool kShareX = kMaxTokens == 1 && kRows > 1;
  __shared__ float partial[kDirectThreads / 32][kRows][kMaxTokens];
  static_assert(sizeof(partial) <= kDirectStaticSmemBytes, "kMaxDirectFusedXBytes assumes it");
  const int64_t row_bytes = Unit::RowBytes(k);
  const uint8_t* tensor_end = w + static_cast<int64_t>(n) * row_bytes;
  const DirectLane me = DirectLaneOf(plan, threadIdx.x);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int warps_per_slot = plan.lanes_per_row / 32;
  // The lane's units in every row: lane_in_row, + lanes_per_row, ... (none for an idle lane).
  const int my_units = DirectUnitsOfLane(plan, me.lane_in_row);
  const int grid = static_cast<int>(gridDim.x);

  uint4 v[kRows][Unit::kVecs];  // the current step's loads, row by row
  if (my_units > 0 && static_cast<int>(blockIdx.x) < plan.num_groups) {
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      LoadUnit<Unit>(w, tensor_end, me.lane_in_row,
                     RowOffsetOf(plan, blockIdx.x, me.slot, r, n, row_bytes), v[r]);
    }
  }
  // x and y wait for the pre-kernel (pdl.h); the first loads above are in flight meanwhile.
  cuda::PdlWait();
  if constexpr (kFusedX) {
    uint8_t* smem = cuda::DynamicSmem();
    int8_t* sxq = reinterpret_cast<int8_t*>(smem);
    XScale* sxs =
        reinterpret_cast<XScale*>(smem + DirectFusedXqBytes(Unit::kWeights, num_tokens, k));
    QuantizeXToShared<A, Unit::kWeights>(x, num_tokens * (k / kQ8Block), k, sxq, sxs);
    __syncthreads();
    xq = sxq;
    xs = sxs;
  }

  for (int g = blockIdx.x; g < plan.num_groups; g += grid) {
    const bool next_group = g + grid < plan.num_groups;
    int64_t row_offset[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) row_offset[r] = RowOffsetOf(plan, g, me.slot, r, n, row_bytes);
    float acc[kRows][kMaxTokens];
#pragma unroll
    for (int r = 0; r < kRows; ++r)
#pragma unroll
      for (int t = 0; t < kMaxTokens; ++t) acc[r][t] = 0.f;

    for (int i = 0; i < my_units; ++i) {
      const int unit = me.lane_in_row + i * plan.lanes_per_row;
      // The lane's next step: its next unit in this group, else its first in its next group.
      const bool same_group = i + 1 < my_units;
      const bool refill = same_group || next_group;
      const int next_unit = same_group ? unit + plan.lanes_per_row : me.lane_in_row;
      uint32_t xw[Unit::kWeights / 4];
      XScale s[Unit::kWeights / 32];
      if constexpr (kShareX) LoadUnitX<Unit, kFusedX>(xq, xs, 0, k, unit, xw, s);
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        uint32_t words[kWords];
#pragma unroll
        for (int j = 0; j < Unit::kVecs; ++j) ToWords(v[r][j], words + 4 * j);
        const typename Unit::W uw = Unit::Decode(unit, row_offset[r], words);  // for all tokens
        if (refill) {
          const int64_t next_offset =
              same_group ? row_offset[r] : RowOffsetOf(plan, g + grid, me.slot, r, n, row_bytes);
          LoadUnit<Unit>(w, tensor_end, next_unit, next_offset, v[r]);
        }
#pragma unroll
        for (int t = 0; t < kMaxTokens; ++t) {
          if (t >= num_tokens) break;
          if constexpr (!kShareX) LoadUnitX<Unit, kFusedX>(xq, xs, t, k, unit, xw, s);  // L1
          acc[r][t] = Unit::AddDot(acc[r][t], uw, xw, s);
        }
      }
    }

    // Warp butterfly, then the warps of each row slot in order (gemv_direct.h).
#pragma unroll
    for (int r = 0; r < kRows; ++r)
#pragma unroll
      for (int t = 0; t < kMaxTokens; ++t)
#pragma unroll
        for (int off = 16; off > 0; off /= 2) {
          acc[r][t] += __shfl_xor_sync(0xffffffffu, acc[r][t], off);
        }
    __syncthreads();  // the previous group's partials are read
    if (lane == 0) {
#pragma unroll
      for (int r = 0; r < kRows; ++r)
#pragma unroll
        for (int t = 0; t < kMaxTokens; ++t) partial[warp][r][t] = acc[r][t];
    }
    __syncthreads();
    const int idx = threadIdx.x;  // (slot, row in slot, token)
    if (idx < plan.row_slots * kRows * kMaxTokens) {
      const int slot = idx / (kRows * kMaxTokens);
      const int r = idx / kMaxTokens % kRows, t = idx % kMaxTokens;
      const int row = DirectRowOf(plan, g, slot, r);
      if (row < n && t < num_tokens) {
        float sum = 0.f;
        for (int q = 0; q < warps_per_slot; ++q) sum += partial[slot * warps_per_slot + q][r][t];
        if (bias != nullptr) sum += ::hearth::cuda::ToFloat(bias[row]);
        y[static_cast<int64_t>(t) * n + row] = ::hearth::cuda::FromFloat<A>(sum);
      }
    }
  }
}

}  // namespace hearth::gemv_internal
