// Integer GEMV for 1..8 tokens (Q8_0, Q4_K, Q6_K weights): y[t][r] = sum_i W[r][i] * x[t][i].
//
// Why: the float GEMV (matmul_gemv.cu) spends ~10 instructions per weight turning quants into
// floats and multiplying them with every token's bf16 x, so it is issue bound at 20-40% of HBM
// bandwidth. Here x is quantized once per call to int8 blocks of 32 (QuantizeXKernel, the CPU
// twin is QuantizeRowQ8Cpu), and the weights are multiplied as int8 by __dp4a, four per
// instruction, with the float scales applied once per sub-block (gemv_q8_unit.h).
//
// Weights are streamed as in the float GEMV (chunks of whole blocks fetched with coalesced 16-byte
// loads into shared memory, the next chunk's loads issued before the current one is decoded), but
// a CTA's 4 warps share 4 rows: each warp splits into 4 lane groups of 8, one per row, on the same
// columns (one x load serves 4 rows), and the warps take every 4th chunk of 16 units (2 per lane);
// their sums meet in shared memory in a fixed order. Each weight byte is read once for all tokens.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdlib>
#include <string>
#include <type_traits>

#include "kernels/core/cuda_check.h"
#include "kernels/core/pdl.cuh"
#include "kernels/core/pdl.h"
#include "kernels/core/vec.cuh"
#include "kernels/matmul/gemv_chunk.h"
#include "kernels/matmul/gemv_direct.h"
#include "kernels/matmul/gemv_q8_unit.h"
#include "kernels/matmul/matmul.h"

namespace hearth {
namespace gemv_internal {
namespace {

constexpr int kQ8WarpsPerBlock = 4;

using ::hearth::cuda::FromFloat;
using ::hearth::cuda::ToFloat;

// One warp per activation block of 32: lane i quantizes element i.
template <class A>
__global__ void QuantizeXKernel(const A* __restrict__ x,  // [num_blocks * 32]
                                int64_t num_blocks,
                                int8_t* __restrict__ xq,    // [num_blocks * 32]
                                XScale* __restrict__ xs) {  // [num_blocks]
  // The GEMV after it may start now and issue its weight loads; it waits for this grid's
  // completion before it reads xq / xs (pdl.h).
  cuda::PdlBegin();
  const int64_t b = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (b >= num_blocks) return;  // whole warps: blockDim is a multiple of 32
  const float v = ToFloat(x[b * kQ8Block + lane]);
  float amax = fabsf(v);
#pragma unroll
  for (int off = 16; off > 0; off /= 2) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
  const int q = QuantizeQ8(v, InverseScaleQ8(amax));
  xq[b * kQ8Block + lane] = static_cast<int8_t>(q);
  int sum = q;
#pragma unroll
  for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  if (lane == 0) xs[b] = ScaleQ8(amax, sum);
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
      if (bias != nullptr) v += ToFloat(bias[row]);
      y[static_cast<int64_t>(sl) * n + row] = FromFloat<A>(v);
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
        if (bias != nullptr) sum += ToFloat(bias[out_row]);
        y[static_cast<int64_t>(t) * n + out_row] = FromFloat<A>(sum);
      }
    }
  }
}

int64_t XqBytes(int num_tokens, int k) {
  return (static_cast<int64_t>(num_tokens) * k + 15) / 16 * 16;
}

template <DType T, class A>
Status LaunchTypedQ8(const void* w, const void* x, const void* bias, void* y, int num_tokens, int n,
                     int k, void* scratch, bool direct, cudaStream_t stream) {
  const DType act = std::is_same_v<A, __half> ? DType::kF16 : DType::kBF16;
  if (direct) {
    static const Result<DirectX> mode = ParseDirectX(std::getenv("HEARTH_DIRECT_X"));
    if (!mode.ok()) return mode.status();
    if (DirectFusesX(*mode, num_tokens, k, reinterpret_cast<uintptr_t>(x) % 16 == 0)) {
      return LaunchDirectGemvFusedX(T, act, w, x, bias, y, num_tokens, n, k, stream);
    }
  }
  auto* xq = static_cast<int8_t*>(scratch);
  auto* xs = reinterpret_cast<XScale*>(static_cast<uint8_t*>(scratch) + XqBytes(num_tokens, k));
  const int64_t x_blocks = static_cast<int64_t>(num_tokens) * (k / kQ8Block);
  constexpr int kQuantThreads = 256;
  const int64_t quant_ctas = (x_blocks * 32 + kQuantThreads - 1) / kQuantThreads;
  CUDA_CHECK(cuda::LaunchKernel(QuantizeXKernel<A>, static_cast<unsigned>(quant_ctas),
                                kQuantThreads, 0, stream, static_cast<const A*>(x), x_blocks, xq,
                                xs));
  CUDA_CHECK_LAUNCH();
  if (direct) {
    return LaunchDirectGemv(T, act, w, xq, xs, bias, y, num_tokens, n, k, stream);
  }

  const int64_t row_bytes = *DTypeBytes(T, k);
  const dim3 block(kQ8WarpsPerBlock * 32);
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ba = static_cast<const A*>(bias);
  auto* ya = static_cast<A*>(y);
  // A CTA covers kQ8WarpsPerBlock / kSplit groups of kQ8RowsPerWarp rows = 4 rows.
  const dim3 grid((n + 3) / 4);
  // The one switch over the token bucket.
  switch (num_tokens <= 1 ? 1 : num_tokens <= 2 ? 2 : num_tokens <= 4 ? 4 : 8) {
    case 1:
      CUDA_CHECK(cuda::LaunchKernel(QuantGemvQ8Kernel<T, A, 1, kQ8RowsPerWarp>, grid, block, 0,
                                    stream, wb, xq, xs, ba, ya, num_tokens, n, k, row_bytes));
      break;
    case 2:
      CUDA_CHECK(cuda::LaunchKernel(QuantGemvQ8Kernel<T, A, 2, kQ8RowsPerWarp>, grid, block, 0,
                                    stream, wb, xq, xs, ba, ya, num_tokens, n, k, row_bytes));
      break;
    case 4:
      CUDA_CHECK(cuda::LaunchKernel(QuantGemvQ8Kernel<T, A, 4, kQ8RowsPerWarp>, grid, block, 0,
                                    stream, wb, xq, xs, ba, ya, num_tokens, n, k, row_bytes));
      break;
    default:
      CUDA_CHECK(cuda::LaunchKernel(QuantGemvQ8Kernel<T, A, 8, kQ8RowsPerWarp>, grid, block, 0,
                                    stream, wb, xq, xs, ba, ya, num_tokens, n, k, row_bytes));
      break;
  }
  CUDA_CHECK_LAUNCH();
  return Status::Ok();
}

}  // namespace
}  // namespace gemv_internal

int64_t QuantGemvQ8ScratchBytes(int num_tokens, int k) {
  return gemv_internal::XqBytes(num_tokens, k) +
         static_cast<int64_t>(num_tokens) * (k / gemv_internal::kQ8Block) *
             static_cast<int64_t>(sizeof(gemv_internal::XScale));
}

namespace {

Status LaunchQ8(DType w_type, const void* w, DType act_type, const void* x, const void* bias,
                void* y, int num_tokens, int n, int k, void* scratch, int64_t scratch_bytes,
                bool direct, cudaStream_t stream) {
  if (direct && !gemv_internal::HasDirectGemv(w_type, k)) {
    return UnimplementedError(
        "LaunchQuantGemvQ8Direct: no direct GEMV for " + std::string(DTypeName(w_type)) +
        " weights with k=" + std::to_string(k) +
        " (it has Q4_K, Q6_K, and Q8_0 with k % 128 == 0); use LaunchQuantGemvQ8");
  }
  if (!gemv_internal::HasQ8Gemv(w_type)) {
    return UnimplementedError("LaunchQuantGemvQ8: " + std::string(DTypeName(w_type)) +
                              " weights use the float GEMV (LaunchQuantGemv); the integer GEMV "
                              "handles Q8_0, Q4_K, Q6_K");
  }
  if (act_type != DType::kBF16 && act_type != DType::kF16) {
    return UnimplementedError("LaunchQuantGemvQ8: activations must be BF16 or F16, got " +
                              std::string(DTypeName(act_type)));
  }
  if (num_tokens < 1 || num_tokens > kMaxGemvTokens || n < 1 || k < 1 ||
      !DTypeBytes(w_type, k).has_value()) {
    return InvalidArgumentError(
        "LaunchQuantGemvQ8: needs 1 <= num_tokens <= 8 and k a multiple "
        "of the " +
        std::string(DTypeName(w_type)) + " block; got num_tokens=" + std::to_string(num_tokens) +
        " n=" + std::to_string(n) + " k=" + std::to_string(k));
  }
  if (w == nullptr || x == nullptr || y == nullptr || scratch == nullptr) {
    return InvalidArgumentError("LaunchQuantGemvQ8: null pointer");
  }
  if (reinterpret_cast<uintptr_t>(w) % 16 != 0 || reinterpret_cast<uintptr_t>(scratch) % 16 != 0 ||
      reinterpret_cast<uintptr_t>(x) % 2 != 0) {
    return InvalidArgumentError(
        "LaunchQuantGemvQ8: w and scratch must be 16-byte aligned, x 2-byte aligned");
  }
  if (scratch_bytes < QuantGemvQ8ScratchBytes(num_tokens, k)) {
    return InvalidArgumentError("LaunchQuantGemvQ8: scratch of " + std::to_string(scratch_bytes) +
                                " bytes, needs " +
                                std::to_string(QuantGemvQ8ScratchBytes(num_tokens, k)));
  }
  if (static_cast<int64_t>(n) * *DTypeBytes(w_type, k) > (int64_t{1} << 40)) {
    return InvalidArgumentError("LaunchQuantGemvQ8: weight too large");
  }
  return quant::VisitWeightType(w_type, [&](auto tag) -> Status {
    constexpr DType kT = decltype(tag)::value;
    if constexpr (!gemv_internal::HasQ8Gemv(kT)) {
      return UnimplementedError("LaunchQuantGemvQ8: unreachable type");
    } else {
      if (act_type == DType::kBF16) {
        return gemv_internal::LaunchTypedQ8<kT, __nv_bfloat16>(w, x, bias, y, num_tokens, n, k,
                                                               scratch, direct, stream);
      }
      return gemv_internal::LaunchTypedQ8<kT, __half>(w, x, bias, y, num_tokens, n, k, scratch,
                                                      direct, stream);
    }
  });
}

}  // namespace

Status LaunchQuantGemvQ8(DType w_type, const void* w, DType act_type, const void* x,
                         const void* bias, void* y, int num_tokens, int n, int k, void* scratch,
                         int64_t scratch_bytes, cudaStream_t stream) {
  return LaunchQ8(w_type, w, act_type, x, bias, y, num_tokens, n, k, scratch, scratch_bytes, false,
                  stream);
}

Status LaunchQuantGemvQ8Direct(DType w_type, const void* w, DType act_type, const void* x,
                               const void* bias, void* y, int num_tokens, int n, int k,
                               void* scratch, int64_t scratch_bytes, cudaStream_t stream) {
  return LaunchQ8(w_type, w, act_type, x, bias, y, num_tokens, n, k, scratch, scratch_bytes, true,
                  stream);
}

}  // namespace hearth
