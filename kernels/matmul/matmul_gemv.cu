// Fused dequantize + skinny GEMM for 1..8 tokens: y[t][r] = sum_i W[r][i] * x[t][i] (+ bias[r]).
//
// One warp per weight row. The warp walks its row in chunks of whole blocks (~1 KiB): it loads a
// chunk with 16-byte loads into registers (the next chunk is loaded while the current one is
// decoded, to keep two chunks of every row in flight), stages it in shared memory, and each lane
// decodes 8-element groups from there (block_decode.h, reading 32-bit words) and multiplies them
// with every token's x.
// Each weight byte is read from HBM exactly once for all num_tokens rows of x. The blocks stay in
// their GGUF layout; rows need not be 16-byte aligned (a chunk's loads start at the 16-byte
// boundary below it; only the last vector of the tensor is read bytewise if it would overrun).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <string>

#include "kernels/core/cuda_check.h"
#include "kernels/core/pdl.cuh"
#include "kernels/core/pdl.h"
#include "kernels/matmul/gemv_chunk.h"
#include "kernels/matmul/matmul.h"
#include "kernels/quant/block_decode.h"

namespace hearth {
namespace gemv_internal {

constexpr int kWarpsPerBlock = 4;

template <class A>
struct Act;
template <>
struct Act<float> {
  static __device__ __forceinline__ void Load8(const float* p, float* out) {
    const float4 a = *reinterpret_cast<const float4*>(p);
    const float4 b = *reinterpret_cast<const float4*>(p + 4);
    out[0] = a.x, out[1] = a.y, out[2] = a.z, out[3] = a.w;
    out[4] = b.x, out[5] = b.y, out[6] = b.z, out[7] = b.w;
  }
  static __device__ __forceinline__ float Store(float v) { return v; }
  static __device__ __forceinline__ float ToFloat(float v) { return v; }
};
template <>
struct Act<__nv_bfloat16> {
  static __device__ __forceinline__ void Load8(const __nv_bfloat16* p, float* out) {
    const uint4 v = *reinterpret_cast<const uint4*>(p);
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
    for (int i = 0; i < 4; ++i) {
      out[2 * i] = __uint_as_float(w[i] << 16);
      out[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
  }
  static __device__ __forceinline__ __nv_bfloat16 Store(float v) { return __float2bfloat16_rn(v); }
  static __device__ __forceinline__ float ToFloat(__nv_bfloat16 v) { return __bfloat162float(v); }
};
template <>
struct Act<__half> {
  static __device__ __forceinline__ void Load8(const __half* p, float* out) {
    const uint4 v = *reinterpret_cast<const uint4*>(p);
    const __half2* h = reinterpret_cast<const __half2*>(&v);
    for (int i = 0; i < 4; ++i) {
      const float2 f = __half22float2(h[i]);
      out[2 * i] = f.x;
      out[2 * i + 1] = f.y;
    }
  }
  static __device__ __forceinline__ __half Store(float v) { return __float2half_rn(v); }
  static __device__ __forceinline__ float ToFloat(__half v) { return __half2float(v); }
};

// The end of both GEMVs: each token's partial sums of one weight row added over the warp, then
// lane t writes token t's output (+ bias, in fp32) at y[t, row].
template <class A, int kMaxTokens>
__device__ __forceinline__ void WarpSumAndStore(float (&acc)[kMaxTokens], int lane, int num_tokens,
                                                const A* __restrict__ bias, A* __restrict__ y,
                                                int n, int row) {
#pragma unroll
  for (int t = 0; t < kMaxTokens; ++t) {
#pragma unroll
    for (int off = 16; off > 0; off /= 2) acc[t] += __shfl_xor_sync(0xffffffffu, acc[t], off);
  }
  if (lane < num_tokens) {
    float v = 0.f;
#pragma unroll
    for (int t = 0; t < kMaxTokens; ++t) {
      if (t == lane) v = acc[t];
    }
    if (bias != nullptr) v += Act<A>::ToFloat(bias[row]);
    y[static_cast<int64_t>(lane) * n + row] = Act<A>::Store(v);
  }
}

template <DType T, class A, int kMaxTokens>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    QuantGemvKernel(const uint8_t* __restrict__ w,  // [n, k] of T
                    const A* __restrict__ x,        // [num_tokens, k]
                    const A* __restrict__ bias,     // [n] or nullptr
                    A* __restrict__ y,              // [num_tokens, n]
                    int num_tokens, int n, int k, int64_t row_bytes) {
  cuda::PdlLaunchDependents();
  using Codec = quant::BlockCodec<T>;
  using Geo = ChunkGeometry<T>;
  constexpr int kGroupsPerBlock = Codec::kElems / 8;
  __shared__ __align__(16) uint8_t stage[kWarpsPerBlock][Geo::kStageBytes];

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row = blockIdx.x * kWarpsPerBlock + warp;
  if (row >= n) {
    cuda::PdlWait();  // no thread exits before its predecessors are done (pdl.h)
    return;
  }
  const uint8_t* row_ptr = w + row * row_bytes;
  const uint8_t* tensor_end = w + n * row_bytes;
  const int blocks_per_row = k / Codec::kElems;
  const int num_chunks = (blocks_per_row + Geo::kBlocks - 1) / Geo::kBlocks;

  float acc[kMaxTokens];
#pragma unroll
  for (int t = 0; t < kMaxTokens; ++t) acc[t] = 0.f;

  uint4 regs[Geo::kVecsPerLane];
  ChunkSpan next = ChunkAt<T>(row_ptr, 0, blocks_per_row);
  LoadChunk<Geo::kVecsPerLane>(next.base, next.num_vecs, tensor_end, lane, regs);
  // x and y after the previous kernels (pdl.h); the first chunk's loads are in flight meanwhile.
  cuda::PdlWait();
  for (int c = 0; c < num_chunks; ++c) {
    __syncwarp();
#pragma unroll
    for (int j = 0; j < Geo::kVecsPerLane; ++j) {
      const int v = lane + 32 * j;
      if (v < next.num_vecs) reinterpret_cast<uint4*>(stage[warp])[v] = regs[j];
    }
    __syncwarp();
    const ChunkSpan cur = next;
    if (c + 1 < num_chunks) {
      next = ChunkAt<T>(row_ptr, c + 1, blocks_per_row);
      LoadChunk<Geo::kVecsPerLane>(next.base, next.num_vecs, tensor_end, lane, regs);
    }
    const int groups = cur.num_blocks * kGroupsPerBlock;
    const int64_t elem0 = static_cast<int64_t>(c) * Geo::kBlocks * Codec::kElems;
    for (int g = lane; g < groups; g += 32) {
      const uint8_t* blk = stage[warp] + cur.lead + (g / kGroupsPerBlock) * Codec::kBytes;
      const int64_t x_off = elem0 + 8 * g;
      if constexpr (GetDTypeInfo(T).quantized) {
        // w[i] = scale * q[i] - min: the scale and min come out of the sums,
        // acc += scale * sum(q x) - min * sum(x).
        float qf[8];
        float scale, min;
        Codec::template Quants8<quant::WordReader>(blk, g % kGroupsPerBlock, qf, &scale, &min);
#pragma unroll
        for (int t = 0; t < kMaxTokens; ++t) {
          if (t < num_tokens) {
            float xv[8];
            Act<A>::Load8(x + static_cast<int64_t>(t) * k + x_off, xv);
            float qx = 0.f;
#pragma unroll
            for (int i = 0; i < 8; ++i) qx = fmaf(qf[i], xv[i], qx);
            acc[t] = fmaf(scale, qx, acc[t]);
            if constexpr (Codec::kHasMin) {
              float sx = 0.f;
#pragma unroll
              for (int i = 0; i < 8; ++i) sx += xv[i];
              acc[t] = fmaf(-min, sx, acc[t]);
            }
          }
        }
      } else {
        float wv[8];
        Codec::template Decode8<quant::WordReader>(blk, g % kGroupsPerBlock, wv);
#pragma unroll
        for (int t = 0; t < kMaxTokens; ++t) {
          if (t < num_tokens) {
            float xv[8];
            Act<A>::Load8(x + static_cast<int64_t>(t) * k + x_off, xv);
#pragma unroll
            for (int i = 0; i < 8; ++i) acc[t] = fmaf(wv[i], xv[i], acc[t]);
          }
        }
      }
    }
  }
  WarpSumAndStore<A, kMaxTokens>(acc, lane, num_tokens, bias, y, n, row);
}

// F32 weights with k % 8 != 0 (no 8-element groups): one warp per row, lane l takes elements
// l, l + 32, ... of the row (each warp-wide load is 128 contiguous bytes of W), every token's x
// from that one read of W; fp32 accumulation, warp-shuffle sum, bias in fp32.
template <class A>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    ScalarGemvKernel(const float* __restrict__ w,  // [n, k]
                     const A* __restrict__ x,      // [num_tokens, k]
                     const A* __restrict__ bias,   // [n] or nullptr
                     A* __restrict__ y,            // [num_tokens, n]
                     int num_tokens, int n, int k) {
  cuda::PdlBegin();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row = blockIdx.x * kWarpsPerBlock + warp;
  if (row >= n) return;  // uniform per warp
  const float* w_row = w + static_cast<int64_t>(row) * k;
  float acc[kMaxGemvTokens];
#pragma unroll
  for (int t = 0; t < kMaxGemvTokens; ++t) acc[t] = 0.f;
  for (int i = lane; i < k; i += 32) {
    const float wv = __ldg(w_row + i);
#pragma unroll
    for (int t = 0; t < kMaxGemvTokens; ++t) {
      if (t < num_tokens) {
        acc[t] = fmaf(wv, Act<A>::ToFloat(x[static_cast<int64_t>(t) * k + i]), acc[t]);
      }
    }
  }
  WarpSumAndStore<A, kMaxGemvTokens>(acc, lane, num_tokens, bias, y, n, row);
}

template <DType T, class A>
Status LaunchTyped(const void* w, const void* x, const void* bias, void* y, int num_tokens, int n,
                   int k, cudaStream_t stream) {
  const int64_t row_bytes = *DTypeBytes(T, k);
  const dim3 grid((n + kWarpsPerBlock - 1) / kWarpsPerBlock);
  const dim3 block(kWarpsPerBlock * 32);
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xa = static_cast<const A*>(x);
  const auto* ba = static_cast<const A*>(bias);
  auto* ya = static_cast<A*>(y);
  // One switch over the token bucket; f32 activations are for validation: one bucket.
  if constexpr (std::is_same_v<A, float>) {
    CUDA_CHECK(cuda::LaunchKernel(QuantGemvKernel<T, A, 8>, grid, block, 0, stream, wb, xa, ba, ya,
                                  num_tokens, n, k, row_bytes));
  } else {
    switch (num_tokens <= 1 ? 1 : num_tokens <= 2 ? 2 : num_tokens <= 4 ? 4 : 8) {
      case 1:
        CUDA_CHECK(cuda::LaunchKernel(QuantGemvKernel<T, A, 1>, grid, block, 0, stream, wb, xa, ba,
                                      ya, num_tokens, n, k, row_bytes));
        break;
      case 2:
        CUDA_CHECK(cuda::LaunchKernel(QuantGemvKernel<T, A, 2>, grid, block, 0, stream, wb, xa, ba,
                                      ya, num_tokens, n, k, row_bytes));
        break;
      case 4:
        CUDA_CHECK(cuda::LaunchKernel(QuantGemvKernel<T, A, 4>, grid, block, 0, stream, wb, xa, ba,
                                      ya, num_tokens, n, k, row_bytes));
        break;
      default:
        CUDA_CHECK(cuda::LaunchKernel(QuantGemvKernel<T, A, 8>, grid, block, 0, stream, wb, xa, ba,
                                      ya, num_tokens, n, k, row_bytes));
        break;
    }
  }
  CUDA_CHECK_LAUNCH();
  return Status::Ok();
}

template <class A>
Status LaunchScalarTyped(const float* w, const void* x, const void* bias, void* y, int num_tokens,
                         int n, int k, cudaStream_t stream) {
  const dim3 grid((n + kWarpsPerBlock - 1) / kWarpsPerBlock);
  CUDA_CHECK(cuda::LaunchKernel(ScalarGemvKernel<A>, grid, kWarpsPerBlock * 32, 0, stream, w,
                                static_cast<const A*>(x), static_cast<const A*>(bias),
                                static_cast<A*>(y), num_tokens, n, k));
  CUDA_CHECK_LAUNCH();
  return Status::Ok();
}

}  // namespace gemv_internal

Status LaunchScalarGemv(const float* w, DType act_type, const void* x, const void* bias, void* y,
                        int num_tokens, int n, int k, cudaStream_t stream) {
  if (num_tokens < 1 || num_tokens > kMaxGemvTokens || n < 1 || k < 1) {
    return InvalidArgumentError(
        "LaunchScalarGemv: needs 1 <= num_tokens <= 8, n >= 1, k >= 1; got num_tokens=" +
        std::to_string(num_tokens) + " n=" + std::to_string(n) + " k=" + std::to_string(k));
  }
  if (w == nullptr || x == nullptr || y == nullptr) {
    return InvalidArgumentError("LaunchScalarGemv: null pointer");
  }
  switch (act_type) {
    case DType::kBF16:
      return gemv_internal::LaunchScalarTyped<__nv_bfloat16>(w, x, bias, y, num_tokens, n, k,
                                                             stream);
    case DType::kF16:
      return gemv_internal::LaunchScalarTyped<__half>(w, x, bias, y, num_tokens, n, k, stream);
    case DType::kF32:
      return gemv_internal::LaunchScalarTyped<float>(w, x, bias, y, num_tokens, n, k, stream);
    default:
      return UnimplementedError("LaunchScalarGemv: activation type " +
                                std::string(DTypeName(act_type)) +
                                " is not supported (BF16, F16, F32)");
  }
}

Status LaunchQuantGemv(DType w_type, const void* w, DType act_type, const void* x, const void* bias,
                       void* y, int num_tokens, int n, int k, cudaStream_t stream) {
  if (num_tokens < 1 || num_tokens > kMaxGemvTokens || n < 1 || k < 1 || k % 8 != 0 ||
      !DTypeBytes(w_type, k).has_value()) {
    return InvalidArgumentError(
        "LaunchQuantGemv: needs 1 <= num_tokens <= 8 and k a multiple of 8 and of the " +
        std::string(DTypeName(w_type)) + " block; got num_tokens=" + std::to_string(num_tokens) +
        " n=" + std::to_string(n) + " k=" + std::to_string(k));
  }
  if (w == nullptr || x == nullptr || y == nullptr) {
    return InvalidArgumentError("LaunchQuantGemv: null pointer");
  }
  if (reinterpret_cast<uintptr_t>(w) % 16 != 0 || reinterpret_cast<uintptr_t>(x) % 16 != 0) {
    return InvalidArgumentError("LaunchQuantGemv: w and x must be 16-byte aligned");
  }
  if (static_cast<int64_t>(n) * *DTypeBytes(w_type, k) > (int64_t{1} << 40)) {
    return InvalidArgumentError("LaunchQuantGemv: weight too large");
  }
  return quant::VisitWeightType(w_type, [&](auto tag) -> Status {
    constexpr DType kT = decltype(tag)::value;
    if constexpr (kT == DType::kF16 || kT == DType::kBF16) {
      return UnimplementedError("LaunchQuantGemv: " + std::string(DTypeName(kT)) +
                                " weights go through cuBLASLt (SelectMatmulKernel)");
    } else {
      switch (act_type) {
        case DType::kBF16:
          return gemv_internal::LaunchTyped<kT, __nv_bfloat16>(w, x, bias, y, num_tokens, n, k,
                                                               stream);
        case DType::kF16:
          return gemv_internal::LaunchTyped<kT, __half>(w, x, bias, y, num_tokens, n, k, stream);
        case DType::kF32:
          return gemv_internal::LaunchTyped<kT, float>(w, x, bias, y, num_tokens, n, k, stream);
        default:
          break;
      }
      return UnimplementedError("LaunchQuantGemv: activation type " +
                                std::string(DTypeName(act_type)) +
                                " is not supported (BF16, F16, F32)");
    }
  });
}

}  // namespace hearth
