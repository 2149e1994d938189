// The direct integer GEMV's kernel (Q4_K; gemv_direct.h has the work split and the arithmetic).
// Device code in a header so that a CPU test can run this very source under the CUDA block
// emulation (tests/support/cuda_block_emulation.h, which then stands in for the CUDA headers and
// provides ToFloat / FromFloat for float activations); matmul_gemv_direct.cu launches it.
#pragma once

#include "kernels/matmul/gemv_direct.h"
#ifdef __CUDACC__
#include "kernels/core/vec.cuh"
#endif

namespace hearth::gemv_internal {

// Registers (ptxas -v, nvcc 13.0, sm_90a): one token with 4 rows takes ~116 (12 16-byte weight
// loads in flight, the pair's x, the decoded units); 2 CTAs = 16 warps per SM then keep
// 2 x 256 x 192 bytes of loads in flight per SM, several times the bandwidth-latency product.
constexpr int kDirectMinBlocksPerSm = 2;

// Programmatic dependent launch: the kernel is launched while the x pre-kernel still runs; this
// waits until that grid has completed and its xq / xs are visible (immediately once it has, and
// always when the launch was an ordinary one).
__device__ __forceinline__ void WaitForPreKernel() {
#ifdef __CUDA_ARCH__
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void ToWords(const uint4& v, uint32_t* w) {
  w[0] = v.x, w[1] = v.y, w[2] = v.z, w[3] = v.w;
}

// The pair's 64 int8 x of token t and its two x blocks' scales.
__device__ __forceinline__ void LoadPairX(const int8_t* __restrict__ xq,
                                          const XScale* __restrict__ xs, int t, int k, int pair,
                                          uint32_t x[16], XScale& a, XScale& c) {
  const uint4* xp =
      reinterpret_cast<const uint4*>(xq + static_cast<int64_t>(t) * k + PairXOffset(pair));
#pragma unroll
  for (int j = 0; j < 4; ++j) ToWords(__ldg(xp + j), x + 4 * j);
  const float4 s = __ldg(reinterpret_cast<const float4*>(
      xs + static_cast<int64_t>(t) * (k / kQ8Block) + PairXBlock(pair)));
  a = {s.x, s.y};
  c = {s.z, s.w};
}

template <class A, int kMaxTokens>
__global__ void __launch_bounds__(kDirectThreads, kDirectMinBlocksPerSm)
    DirectQ4KKernel(const uint8_t* __restrict__ w,  // [n, k] of Q4_K, 16-byte aligned
                    const int8_t* __restrict__ xq,  // [num_tokens, k]
                    const XScale* __restrict__ xs,  // [num_tokens, k / 32]
                    const A* __restrict__ bias,     // [n] or nullptr
                    A* __restrict__ y,              // [num_tokens, n]
                    int num_tokens, int n, int k, DirectGemvPlan plan) {
  constexpr int kRows = DirectRowsFor(kMaxTokens);  // = plan.rows_per_slot
  __shared__ float partial[kDirectThreads / 32][kRows][kMaxTokens];
  const int64_t row_bytes = int64_t{k} / 256 * kQ4KBlockBytes;
  const DirectLane me = DirectLaneOf(plan, threadIdx.x);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int warps_per_slot = plan.lanes_per_row / 32;

  for (int g = blockIdx.x; g < plan.num_groups; g += gridDim.x) {
    const uint8_t* rows[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const int row = DirectRowOf(plan, g, me.slot, r);
      rows[r] = w + static_cast<int64_t>(row < n ? row : n - 1) * row_bytes;  // valid loads
    }
    float acc[kRows][kMaxTokens];
#pragma unroll
    for (int r = 0; r < kRows; ++r)
#pragma unroll
      for (int t = 0; t < kMaxTokens; ++t) acc[r][t] = 0.f;

    for (int i = 0; i < plan.pairs_per_lane; ++i) {
      const int pair = DirectPairOf(plan, me.lane_in_row, i);
      if (pair < 0) break;
      const PairOffsets o = PairOffsetsOf(pair);
      // All rows' loads first: 3 * kRows 16-byte loads in flight per lane.
      uint4 hv[kRows], q0v[kRows], q1v[kRows];
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        hv[r] = __ldg(reinterpret_cast<const uint4*>(rows[r] + o.header));
        q0v[r] = __ldg(reinterpret_cast<const uint4*>(rows[r] + o.quants0));
        q1v[r] = __ldg(reinterpret_cast<const uint4*>(rows[r] + o.quants1));
      }
      WaitForPreKernel();  // the weight loads above are in flight meanwhile
      uint32_t x[16];
      XScale a, c;
      if constexpr (kMaxTokens == 1) LoadPairX(xq, xs, 0, k, pair, x, a, c);  // for all rows
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        uint32_t hdr[4], q0[4], q1[4];
        ToWords(hv[r], hdr);
        ToWords(q0v[r], q0);
        ToWords(q1v[r], q1);
        const PairW pw = DecodePair(pair, hdr, q0, q1);  // once for all tokens
#pragma unroll
        for (int t = 0; t < kMaxTokens; ++t) {
          if (t >= num_tokens) break;
          if constexpr (kMaxTokens > 1) LoadPairX(xq, xs, t, k, pair, x, a, c);  // from L1
          acc[r][t] = AddPairDot(acc[r][t], pw, x, a, c);
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
      WaitForPreKernel();  // no write to y while the pre-kernel may still read x
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
