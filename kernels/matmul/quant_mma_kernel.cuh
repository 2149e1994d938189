// The fused dequantize + tensor-core GEMM's kernel (quant_mma.h has the tiling and why).
// Device code in a header so that a CPU test (quant_mma_emulation_test) can run this very source
// under the CUDA block emulation (tests/support/cuda_block_emulation.h, which then stands in for
// the CUDA headers, the cp.async / mma.sync helpers and the dynamic shared memory);
// matmul_quant_mma.cu launches it.
#pragma once

#include "kernels/core/dynamic_smem.cuh"
#include "kernels/core/pdl.cuh"
#include "kernels/matmul/quant_mma.h"
#ifdef __CUDACC__
#include "kernels/core/mma_sync.cuh"
#include "kernels/core/vec.cuh"
#endif

namespace hearth::gemv_internal {

// The row of the CTA's tile row r: rows past n read row n - 1 (valid bytes; never stored).
__device__ __forceinline__ const uint8_t* MmaRowPtr(const uint8_t* w, int64_t row_bytes, int row0,
                                                    int r, int n) {
  const int row = row0 + r < n ? row0 + r : n - 1;
  return w + static_cast<int64_t>(row) * row_bytes;
}

// Step s of the CTA's kMmaRows rows into `stage` by cp.async (this thread's share).
template <DType T>
__device__ __forceinline__ void IssueRawStep(uint8_t* stage, const uint8_t* w, int64_t row_bytes,
                                             const uint8_t* tensor_end, int row0, int n, int s,
                                             int blocks_per_row) {
  using Step = MmaStep<T>;
  constexpr int kVecs = Step::Geo::kVecs;
  for (int i = threadIdx.x; i < kMmaRows * kVecs; i += kMmaThreads) {
    const int r = i / kVecs, v = i % kVecs;
    const ChunkSpan span =
        ChunkAt<T, Step::kBlocks>(MmaRowPtr(w, row_bytes, row0, r, n), s, blocks_per_row);
    if (v >= span.num_vecs) continue;
    const uint8_t* p = span.base + 16 * v;
    uint8_t* dst = stage + r * Step::kRawRowBytes + 16 * v;
    const int64_t left = tensor_end - p;  // > 0: p is below the chunk's end
    if (left >= 16) {
      tc::CpAsync16(dst, p, 16);
    } else {
      // The tensor's last vector, cut short: byte loads, because a zero-filling cp.async of
      // fewer than 16 bytes still counts as a 16-byte read past the allocation to
      // compute-sanitizer (H100, 2026-11-23). Plain stores, seen after the same barrier as the
      // copies.
      for (int b = 0; b < 16; ++b) dst[b] = b < left ? p[b] : 0;
    }
  }
}

// Step s of x for tokens [token0, token0 + kTokenTile) into the x tile by cp.async; zeros for
// tokens past num_tokens and elements past k (k % 8 == 0: a vector is all in or all out).
template <class A, int kTokenTile>
__device__ __forceinline__ void IssueXStep(A* xtile, const A* x, int num_tokens, int k, int token0,
                                           int s) {
  constexpr int kVecsPerRow = kMmaStepElems / 8;
  for (int i = threadIdx.x; i < kTokenTile * kVecsPerRow; i += kMmaThreads) {
    const int t = i / kVecsPerRow, v = i % kVecsPerRow;
    const int token = token0 + t;
    const int e = s * kMmaStepElems + 8 * v;
    const bool valid = token < num_tokens && e < k;
    const A* src = valid ? x + static_cast<int64_t>(token) * k + e : x;
    tc::CpAsync16(xtile + t * kMmaTileStride + 8 * v, src, valid ? 16 : 0);
  }
}

// The raw stage of step s decoded into the W tile, rounded to A (zeros past the row's blocks).
// Lane l decodes group l (elements 8l..8l+7) of the rows its warp takes (warp, warp + 8, ...):
// the group's block and place in it are fixed per thread, only the row's lead changes, and the
// lanes of a warp read one row's bytes and write one tile row side by side.
template <DType T, class A>
__device__ __forceinline__ void DecodeStep(A* wtile, const uint8_t* stage, const uint8_t* w,
                                           int64_t row_bytes, int row0, int n, int s,
                                           int blocks_per_row) {
  using Step = MmaStep<T>;
  using Codec = typename Step::Codec;
  static_assert(kMmaStepElems == 8 * 32, "one 8-element group per lane");
  constexpr int kWarps = kMmaThreads / 32;
  const int g = threadIdx.x % 32;
  const int blk = 8 * g / Codec::kElems, group_in_block = 8 * g % Codec::kElems / 8;
  const uint8_t* group_bytes = stage + blk * Codec::kBytes;  // + the row's start and lead
#pragma unroll 4
  for (int r = threadIdx.x / 32; r < kMmaRows; r += kWarps) {
    const ChunkSpan span =
        ChunkAt<T, Step::kBlocks>(MmaRowPtr(w, row_bytes, row0, r, n), s, blocks_per_row);
    uint4 packed = {0u, 0u, 0u, 0u};
    if (blk < span.num_blocks) {
      float v[8];
      Codec::template Decode8<quant::WordReader>(group_bytes + r * Step::kRawRowBytes + span.lead,
                                                 group_in_block, v);
      packed.x = tc::Pack2<A>(v[0], v[1]);
      packed.y = tc::Pack2<A>(v[2], v[3]);
      packed.z = tc::Pack2<A>(v[4], v[5]);
      packed.w = tc::Pack2<A>(v[6], v[7]);
    }
    *reinterpret_cast<uint4*>(wtile + r * kMmaTileStride + 8 * g) = packed;
  }
}

// 32 bits (two elements) of a tile at element offset e of row `row`.
template <class A>
__device__ __forceinline__ uint32_t TileWord(const A* tile, int row, int e) {
  return *reinterpret_cast<const uint32_t*>(tile + row * kMmaTileStride + e);
}

// Split blockIdx.z of the plan's k steps (quant_mma.h). Without a split (partial == nullptr)
// the sums + bias go to y; with one, to partial[blockIdx.z] (no bias), for QuantMmaReduceKernel.
template <DType T, class A, int kTokenTile>
__global__ void __launch_bounds__(kMmaThreads)
    QuantMmaKernel(const uint8_t* __restrict__ w,  // [n, k] of T, 16-byte aligned
                   const A* __restrict__ x,        // [num_tokens, k], 16-byte aligned
                   const A* __restrict__ bias,     // [n] or nullptr
                   A* __restrict__ y,              // [num_tokens, n]
                   float* __restrict__ partial,    // [k_splits, num_tokens, n] or nullptr
                   int num_tokens, int n, int k,
                   QuantMmaPlan plan) {  // PlanQuantMma(num_tokens, n, k)
  using Step = MmaStep<T>;
  constexpr int kTiles = kTokenTile / 8 / kMmaTokenWarps;  // n8 tiles of the mma per warp
  static_assert(kTiles >= 1 && kTiles * 8 * kMmaTokenWarps == kTokenTile);
  uint8_t* smem = cuda::DynamicSmem();
  A* wtile = reinterpret_cast<A*>(smem + kMmaStages * Step::kRawStageBytes);
  A* xtile = wtile + kMmaRows * kMmaTileStride;

  // Token tiles in x: the CTAs of one row tile start together, so that all but the first find
  // the W bytes in L2.
  const int row0 = blockIdx.y * kMmaRows, token0 = blockIdx.x * kTokenTile;
  const int blocks_per_row = k / Step::Codec::kElems;
  const int64_t row_bytes = static_cast<int64_t>(blocks_per_row) * Step::Codec::kBytes;
  const uint8_t* tensor_end = w + static_cast<int64_t>(n) * row_bytes;
  const int first = blockIdx.z * plan.steps_per_split;
  const int steps = min(plan.steps_per_split, plan.steps - first);  // this CTA: first + 0, 1, ...

  // Stage i of the ring holds local step i (mod kMmaStages).
#pragma unroll
  for (int s = 0; s < kMmaStages - 1; ++s) {
    cuda::PdlBegin();  // pdl.h
    if (s < steps) {
      IssueRawStep<T>(smem + s * Step::kRawStageBytes, w, row_bytes, tensor_end, row0, n, first + s,
                      blocks_per_row);
    }
    tc::CpAsyncCommit();
  }

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
  // This warp's 16 rows and its kTiles n8 tiles of tokens (tile0 + j).
  const int row_warp = warp % kMmaRowWarps, tile0 = warp / kMmaRowWarps * kTiles;
  float acc[kTiles][4];
#pragma unroll
  for (int j = 0; j < kTiles; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;

  for (int s = 0; s < steps; ++s) {
    // Step s's raw bytes have landed (groups after it: at most the next step's); every thread's
    // copies are visible after the barrier, and the tiles of step s - 1 are no longer read.
    tc::CpAsyncWait<kMmaStages - 2>();
    __syncthreads();
    IssueXStep<A, kTokenTile>(xtile, x, num_tokens, k, token0, first + s);
    tc::CpAsyncCommit();
    const int ahead = s + kMmaStages - 1;  // into the stage step s - 1 was decoded from
    if (ahead < steps) {
      IssueRawStep<T>(smem + ahead % kMmaStages * Step::kRawStageBytes, w, row_bytes, tensor_end,
                      row0, n, first + ahead, blocks_per_row);
    }
    tc::CpAsyncCommit();
    DecodeStep<T, A>(wtile, smem + s % kMmaStages * Step::kRawStageBytes, w, row_bytes, row0, n,
                     first + s, blocks_per_row);
    tc::CpAsyncWait<1>();  // the x tile (only the raw step just issued may still be in flight)
    __syncthreads();

    const int arow = row_warp * 16 + g;
#pragma unroll 4
    for (int kk = 0; kk < kMmaStepElems; kk += 16) {
      const uint32_t a[4] = {
          TileWord(wtile, arow, kk + 2 * t), TileWord(wtile, arow + 8, kk + 2 * t),
          TileWord(wtile, arow, kk + 2 * t + 8), TileWord(wtile, arow + 8, kk + 2 * t + 8)};
#pragma unroll
      for (int j = 0; j < kTiles; ++j) {
        tc::Mma<A>(acc[j], a, TileWord(xtile, 8 * (tile0 + j) + g, kk + 2 * t),
                   TileWord(xtile, 8 * (tile0 + j) + g, kk + 2 * t + 8));
      }
    }
  }

  // acc[j][2h + c] = D[row 16 row_warp + g + 8h][token 8 (tile0 + j) + 2t + c].
  float* split_out =
      partial != nullptr ? partial + static_cast<int64_t>(blockIdx.z) * num_tokens * n : nullptr;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int row = row0 + row_warp * 16 + g + 8 * h;
    if (row >= n) continue;
    const float b =
        bias != nullptr && split_out == nullptr ? ::hearth::cuda::ToFloat(bias[row]) : 0.f;
#pragma unroll
    for (int j = 0; j < kTiles; ++j)
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const int token = token0 + 8 * (tile0 + j) + 2 * t + c;
        if (token >= num_tokens) continue;
        const int64_t i = static_cast<int64_t>(token) * n + row;
        if (split_out != nullptr) {
          split_out[i] = acc[j][2 * h + c];
        } else {
          y[i] = ::hearth::cuda::FromFloat<A>(acc[j][2 * h + c] + b);
        }
      }
  }
}

constexpr int kMmaReduceThreads = 256;

// y[i] = (sum of partial[s][i] over the splits in order, from 0) + bias[row], i = token * n + row.
template <class A>
__global__ void __launch_bounds__(kMmaReduceThreads)
    QuantMmaReduceKernel(const float* __restrict__ partial,  // [k_splits, count]
                         const A* __restrict__ bias,         // [n] or nullptr
                         A* __restrict__ y,                  // [count = num_tokens * n]
                         int k_splits, int64_t count, int n) {
  cuda::PdlBegin();  // pdl.h
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kMmaReduceThreads + threadIdx.x;
  if (i >= count) return;
  float sum = 0.f;
  for (int s = 0; s < k_splits; ++s) sum += partial[s * count + i];
  if (bias != nullptr) sum += ::hearth::cuda::ToFloat(bias[i % n]);
  y[i] = ::hearth::cuda::FromFloat<A>(sum);
}

}  // namespace hearth::gemv_internal
