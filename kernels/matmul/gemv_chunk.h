// Internal to kernels/matmul: how the fused dequantize + GEMV (matmul_gemv.cu) walks a weight row
// in chunks of whole blocks, each fetched with 16-byte loads from the 16-byte boundary at or
// below its start. Host and device share it so that the CPU test (gemv_chunk_test) checks the
// staging arithmetic the kernel uses.
#pragma once

#include <cstdint>

#include "kernels/quant/block_decode.h"

namespace hearth::gemv_internal {

// kChunkBlocks: blocks per chunk; by default ~1 KiB of them (the float GEMV). kLanes: the lanes
// that load and stage one chunk together (a warp, or a part of one).
template <DType T, int kChunkBlocks = 0, int kLanes = 32>
struct ChunkGeometry {
  using Codec = quant::BlockCodec<T>;
  static constexpr int kBlocks = kChunkBlocks > 0 ? kChunkBlocks
                                                  : (1024 + Codec::kBytes - 1) / Codec::kBytes;
  static constexpr int kBytes = kBlocks * Codec::kBytes;
  static constexpr int kVecs = (kBytes + 15) / 16 + 1;  // +1: the chunk may start mid-vector
  // +1 vector of slack: WordReader may read up to 4 bytes past the last byte it decodes.
  static constexpr int kVecsPerLane = (kVecs + 1 + kLanes - 1) / kLanes;
  static constexpr int kStageBytes = kVecsPerLane * kLanes * 16;  // per chunk
};

struct ChunkSpan {
  const uint8_t* base;  // 16-byte aligned start of the loads
  int lead;             // bytes from base to the chunk's first block
  int num_vecs;         // 16-byte vectors to load
  int num_blocks;       // blocks in this chunk
};

// Chunk c of the row at row_ptr (blocks_per_row blocks of T).
template <DType T, int kChunkBlocks = 0>
HEARTH_HD ChunkSpan ChunkAt(const uint8_t* row_ptr, int c, int blocks_per_row) {
  using Geo = ChunkGeometry<T, kChunkBlocks>;
  const uint8_t* start = row_ptr + static_cast<int64_t>(c) * Geo::kBytes;
  const int left = blocks_per_row - c * Geo::kBlocks;
  ChunkSpan s;
  s.num_blocks = left < Geo::kBlocks ? left : Geo::kBlocks;
  s.base = reinterpret_cast<const uint8_t*>(reinterpret_cast<uintptr_t>(start) & ~uintptr_t{15});
  s.lead = static_cast<int>(start - s.base);
  s.num_vecs = (s.lead + s.num_blocks * Geo::Codec::kBytes + 15) / 16;
  return s;
}

#if defined(__CUDACC__) || defined(HEARTH_CUDA_EMULATION)  // device code, or the CPU emulation
// Loads a chunk's num_vecs 16-byte vectors from base into this lane's registers (vector
// lane + kLanes j in regs[j]); a vector that would overrun the tensor is read bytewise,
// zero-filled.
template <int kVecsPerLane, int kLanes = 32>
__device__ __forceinline__ void LoadChunk(const uint8_t* base,  // 16-byte aligned
                                          int num_vecs, const uint8_t* tensor_end, int lane,
                                          uint4* regs) {
#pragma unroll
  for (int j = 0; j < kVecsPerLane; ++j) {
    const int v = lane + kLanes * j;
    if (v >= num_vecs) continue;
    const uint8_t* p = base + 16 * v;
    if (p + 16 <= tensor_end) {
      regs[j] = __ldg(reinterpret_cast<const uint4*>(p));
    } else {
      alignas(16) uint8_t tmp[16] = {};
      for (int b = 0; p + b < tensor_end && b < 16; ++b) tmp[b] = p[b];
      regs[j] = *reinterpret_cast<const uint4*>(tmp);
    }
  }
}
#endif  // __CUDACC__ || HEARTH_CUDA_EMULATION

}  // namespace hearth::gemv_internal
