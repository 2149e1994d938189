// The integer GEMV's kernels (Q8_0, Q4_K, Q6_K; matmul_gemv_q8.cu launches them): the x
// pre-kernel (QuantizeXKernel) and the staged GEMV (QuantGemvQ8Kernel).
// Device code in a header so that a CPU test (gemv_q8_emulation_test) runs this very source under
// the CUDA block emulation (tests/support/cuda_block_emulation.h, which then stands in for the
// CUDA headers and provides ToFloat / FromFloat for float activations).
#pragma once

#include "kernels/core/pdl.cuh"
#include "kernels/matmul/gemv_chunk.h"
#include "kernels/matmul/gemv_q8_unit.h"
#ifdef __CUDACC__
#include "kernels/core/vec.cuh"
#endif

namespace hearth::gemv_internal {

constexpr int kQ8WarpsPerBlock = 4;
constexpr int kQuantizeXThreads = 256;  // QuantizeXKernel's CTA: 8 activation blocks

// QuantizeXKernel's grid for x_blocks activation blocks (one warp each).
inline unsigned QuantizeXCtas(int64_t x_blocks) {
  return static_cast<unsigned>((x_blocks * 32 + kQuantizeXThreads - 1) / kQuantizeXThreads);
}

// One warp per activation block of 32: lane i quantizes element i. kUnitWeights: the layout of
// xq / xs (XqOffset: 0 plain, for the staged GEMV; 64 or 128 for the direct GEMV's units, rows
// XRowBytesFor / XRowScalesFor apart).
template <class A, int kUnitWeights = 0>
__global__ void QuantizeXKernel(const A* __restrict__ x,  // [num_blocks * 32]
                                int64_t num_blocks, int k,
                                int8_t* __restrict__ xq,    // [rows, XRowBytesFor]
                                XScale* __restrict__ xs) {  // [rows, XRowScalesFor]
  // The GEMV after it may start now and issue its weight loads; it waits for this grid's
  // completion before it reads xq / xs (pdl.h).
  cuda::PdlBegin();
  const int64_t b = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (b >= num_blocks) return;  // whole warps: blockDim is a multiple of 32
  const float v = cuda::ToFloat(x[b * kQ8Block + lane]);
  float amax = fabsf(v);
#pragma unroll
  for (int off = 16; off > 0; off /= 2) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
  const int q = QuantizeQ8(v, InverseScaleQ8(amax));
  const XPlace at = XPlaceOf<kUnitWeights>(k, b, lane);
  xq[at.q] = static_cast<int8_t>(q);
  int sum = q;
#pragma unroll
  for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  if (lane == 0) xs[at.s] = ScaleQ8(amax, sum);
}

// Register budget: 64 per thread for one token (32 warps per SM), 80 for 2-4 (24), 96 for 5-8
// (20; Q6_K spilled at 80). ptxas -v (nvcc 13.0, sm_90a): no spills; the 16-32 byte stack frame
// is LoadChunk's bytewise tail buffer, used only for the tensor's last vector.
template <int kMaxTokens>
constexpr int MinBlocksPerSm() {
  return kMaxTokens <= 1 ? 8 : kMaxTokens <= 4 ? 6 : 5;
}

// Work split: a CTA of 4 warps covers kGroups = 4 / kSplit row groups of kRows rows; within a
// warp, lane group `sub` (kLanes = 32 / kRows lanes) works on row row0 + sub; the kSplit warps of
// a group share its rows and take every kSplit-th chunk of them (so that a CTA with 4 rows still
// has 4 warps streaming), their sums added through shared memory in a fixed order.
template <DType T, class A, int kMaxTokens, int kRows>
__global__ void __launch_bounds__(kQ8WarpsPerBlock * 32, MinBlocksPerSm<kMaxTokens>())
    QuantGemvQ8Kernel(const uint8_t* __restrict__ w,  // [n, k] of T
                      const int8_t* __restrict__ xq,  // [num_tokens, k]
                      const XScale* __restrict__ xs,  // [num_tokens, k / 32]
                      const A* __restrict__ bias,     // [n] or nullptr
                      A* __restrict__ y,              // [num_tokens, n]
                      int num_tokens, int n, int k, int64_t row_bytes) {
  cuda::PdlLaunchDependents();
  using Unit = Q8Unit<T>;
  using Codec = quant::BlockCodec<T>;
  constexpr int kLanes = 32 / kRows;
  constexpr int kSplit = kRows;  // warps per row group
  constexpr int kGroups = kQ8WarpsPerBlock / kSplit;
  static_assert(kGroups * kRows == 4, "the launch assumes 4 rows per CTA");
  constexpr int kChunk = Q8ChunkBlocks<T, kLanes>();
  using Geo = ChunkGeometry<T, kChunk, kLanes>;
  constexpr int kUnitsPerChunk = kChunk * Unit::kUnitsPerBlock;
  static_assert(kUnitsPerChunk == 2 * kLanes && kLanes >= kMaxTokens);
  // The lane groups of a warp read the same offsets of their rows' stages at once: a 4-byte pad
  // per stage (whose size is a multiple of 128 bytes) moves each group to other banks; the chunk
  // is therefore stored with 4-byte stores.
  constexpr int kStagePitch = Geo::kStageBytes + 4;
  __shared__ __align__(16) uint8_t stage[kQ8WarpsPerBlock][kRows][kStagePitch];
  __shared__ float partial[kSplit > 1 ? kQ8WarpsPerBlock : 1][kRows][kMaxTokens];

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int sub = lane / kLanes, sl = lane % kLanes;
  const int group = warp / kSplit, part = warp % kSplit;
  const int row0 = (blockIdx.x * kGroups + group) * kRows;
  // Without a split no barrier follows: a warp past the last row may leave.
  if (kSplit == 1 && row0 >= n) {
    cuda::PdlWait();  // no thread exits before its predecessors are done (pdl.h)
    return;
  }
  const int row = row0 + sub;
  const bool valid = row < n;
  const uint8_t* row_ptr = w + (valid ? row : n - 1) * row_bytes;
  const uint8_t* tensor_end = w + n * row_bytes;
  const int blocks_per_row = k / Codec::kElems;
  const int num_chunks = (blocks_per_row + kChunk - 1) / kChunk;
  const int x_blocks = k / kQ8Block;
  uint8_t* my_stage = stage[warp][sub];

  float acc[kMaxTokens];
#pragma unroll
  for (int t = 0; t < kMaxTokens; ++t) acc[t] = 0.f;

  uint4 regs[Geo::kVecsPerLane];
  ChunkSpan next{};
  if (part < num_chunks) {
    next = ChunkAt<T, kChunk>(row_ptr, part, blocks_per_row);
    LoadChunk<Geo::kVecsPerLane, kLanes>(next.base, next.num_vecs, tensor_end, sl, regs);
  }
  // xq, xs and y after the pre-kernel (pdl.h); the first chunk's loads are in flight meanwhile.
  cuda::PdlWait();
  for (int c = part; c < num_chunks; c += kSplit) {
    __syncwarp();
#pragma unroll
    for (int j = 0; j < Geo::kVecsPerLane; ++j) {
      const int v = sl + kLanes * j;
      if (v < next.num_vecs) {
        uint32_t* dst = reinterpret_cast<uint32_t*>(my_stage) + 4 * v;
        dst[0] = regs[j].x, dst[1] = regs[j].y, dst[2] = regs[j].z, dst[3] = regs[j].w;
      }
    }
    __syncwarp();
    const ChunkSpan cur = next;
    if (c + kSplit < num_chunks) {
      next = ChunkAt<T, kChunk>(row_ptr, c + kSplit, blocks_per_row);
      LoadChunk<Geo::kVecsPerLane, kLanes>(next.base, next.num_vecs, tensor_end, sl, regs);
    }
    const int units = cur.num_blocks * Unit::kUnitsPerBlock;
    // Decode all of this lane's units first so their shared-memory reads overlap.
    typename Unit::W wu[2];
#pragma unroll
    for (int it = 0; it < 2; ++it) {
      const int U = sl + kLanes * it;
      if (U < units) {
        wu[it] = Unit::template Decode<quant::WordReader>(
            my_stage + cur.lead + (U / Unit::kUnitsPerBlock) * Codec::kBytes,
            U % Unit::kUnitsPerBlock);
      }
    }
#pragma unroll
    for (int it = 0; it < 2; ++it) {
      const int U = sl + kLanes * it;
      if (U < units) {
        const int64_t e0 =
            (static_cast<int64_t>(c) * kChunk + U / Unit::kUnitsPerBlock) * Codec::kElems;
#pragma unroll
        for (int t = 0; t < kMaxTokens; ++t) {
          if (t < num_tokens) {
            acc[t] +=
                Unit::Dot(wu[it], U % Unit::kUnitsPerBlock, xq + static_cast<int64_t>(t) * k + e0,
                          xs + static_cast<int64_t>(t) * x_blocks + e0 / kQ8Block);
          }
        }
      }
    }
  }
#pragma unroll
  for (int t = 0; t < kMaxTokens; ++t) {
#pragma unroll
    for (int off = kLanes / 2; off > 0; off /= 2) {
      acc[t] += __shfl_xor_sync(0xffffffffu, acc[t], off);
    }
  }
  // Lane sl of each lane group now holds token sl's sum for its row (and this warp's chunks).
  float v = 0.f;
#pragma unroll
  for (int t = 0; t < kMaxTokens; ++t) {
    if (t == sl) v = acc[t];
  }
  if constexpr (kSplit == 1) {
    if (valid && sl < num_tokens) {
      if (bias != nullptr) v += cuda::ToFloat(bias[row]);
      y[static_cast<int64_t>(sl) * n + row] = cuda::FromFloat<A>(v);
    }
  } else {
    if (sl < kMaxTokens) partial[warp][sub][sl] = v;
    __syncthreads();
    const int idx = threadIdx.x;  // (group, row in group, token)
    if (idx < kGroups * kRows * kMaxTokens) {
      const int g = idx / (kRows * kMaxTokens), r = idx / kMaxTokens % kRows, t = idx % kMaxTokens;
      const int out_row = (blockIdx.x * kGroups + g) * kRows + r;
      if (out_row < n && t < num_tokens) {
        float sum = 0.f;
#pragma unroll
        for (int q = 0; q < kSplit; ++q) sum += partial[g * kSplit + q][r][t];
        if (bias != nullptr) sum += cuda::ToFloat(bias[out_row]);
        y[static_cast<int64_t>(t) * n + out_row] = cuda::FromFloat<A>(sum);
      }
    }
  }
}

}  // namespace hearth::gemv_internal
