// GPU dequantization: one thread per group of 8 elements, the same decoder as the CPU
// (block_decode.h), so float32 output is bit-identical to DequantizeCpu.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <string>

#include "kernels/core/cuda_check.h"
#include "kernels/core/pdl.cuh"
#include "kernels/core/pdl.h"
#include "kernels/core/vec.cuh"
#include "kernels/quant/block_decode.h"
#include "kernels/quant/dequant.h"

namespace hearth {
namespace dequant_internal {

using ::hearth::cuda::FromFloat;

// Eight outputs with 16-byte stores (dst + 8 g is 16-byte aligned when dst is): the large-batch
// matmul dequantizes whole weight matrices per call, and eight 2-byte stores per thread made the
// pass store-issue bound. Same values as FromFloat element by element (round to nearest).
__device__ __forceinline__ void Store8(float* dst, const float* v) {
  reinterpret_cast<float4*>(dst)[0] = make_float4(v[0], v[1], v[2], v[3]);
  reinterpret_cast<float4*>(dst)[1] = make_float4(v[4], v[5], v[6], v[7]);
}
__device__ __forceinline__ void Store8(__nv_bfloat16* dst, const float* v) {
  uint4 out;
  uint32_t* o = reinterpret_cast<uint32_t*>(&out);
  for (int i = 0; i < 4; ++i) {
    const __nv_bfloat162 h = __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);
    o[i] = *reinterpret_cast<const uint32_t*>(&h);
  }
  *reinterpret_cast<uint4*>(dst) = out;
}
__device__ __forceinline__ void Store8(__half* dst, const float* v) {
  uint4 out;
  uint32_t* o = reinterpret_cast<uint32_t*>(&out);
  for (int i = 0; i < 4; ++i) {
    const __half2 h = __floats2half2_rn(v[2 * i], v[2 * i + 1]);
    o[i] = *reinterpret_cast<const uint32_t*>(&h);
  }
  *reinterpret_cast<uint4*>(dst) = out;
}

template <DType T, class Out>
__global__ void DequantizeKernel(const uint8_t* __restrict__ src,  // [num_elems] of T
                                 Out* __restrict__ dst,            // [num_elems]
                                 int64_t num_elems, bool word_reads, bool vec_store) {
  cuda::PdlBegin();
  using Codec = quant::BlockCodec<T>;
  constexpr int kGroupsPerBlock = Codec::kElems / 8;
  const int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t first = 8 * g;
  if (first >= num_elems) return;
  float v[8];
  if (first + 8 <= num_elems) {
    const uint8_t* blk = src + (g / kGroupsPerBlock) * Codec::kBytes;
    const int sub = static_cast<int>(g % kGroupsPerBlock);
    // Word reads (fewer load instructions, same bytes) reach up to 3 bytes below and 4 bytes past
    // the bytes decoded: only with a 4-byte aligned src and not in the tensor's last block.
    const uint8_t* src_end = src + (num_elems / Codec::kElems) * Codec::kBytes;
    if (word_reads && blk + Codec::kBytes + 4 <= src_end) {
      Codec::template Decode8<quant::WordReader>(blk, sub, v);
    } else {
      Codec::template Decode8<quant::ByteReader>(blk, sub, v);
    }
    if (vec_store) {
      Store8(dst + first, v);
    } else {
      for (int i = 0; i < 8; ++i) dst[first + i] = FromFloat<Out>(v[i]);
    }
    return;
  }
  // A plain type's last partial group: decode element by element from a padded copy.
  uint8_t padded[Codec::kBytes] = {};
  const int elem_bytes = Codec::kBytes / 8;
  const int tail = static_cast<int>(num_elems - first);
  for (int i = 0; i < tail * elem_bytes; ++i) padded[i] = src[first * elem_bytes + i];
  Codec::Decode8(padded, 0, v);
  for (int i = 0; i < tail; ++i) dst[first + i] = FromFloat<Out>(v[i]);
}

template <DType T, class Out>
Status Launch(const void* src, void* dst, int64_t num_elems, cudaStream_t stream) {
  const int64_t groups = (num_elems + 7) / 8;
  constexpr int kThreads = 256;
  const int64_t blocks = (groups + kThreads - 1) / kThreads;
  if (blocks > 0x7fffffff) return InvalidArgumentError("DequantizeGpu: tensor too large");
  CUDA_CHECK(cuda::LaunchKernel(DequantizeKernel<T, Out>, static_cast<unsigned>(blocks), kThreads,
                                0, stream, static_cast<const uint8_t*>(src), static_cast<Out*>(dst),
                                num_elems, reinterpret_cast<uintptr_t>(src) % 4 == 0,
                                reinterpret_cast<uintptr_t>(dst) % 16 == 0));
  CUDA_CHECK_LAUNCH();
  return Status::Ok();
}

}  // namespace dequant_internal

Status DequantizeGpu(DType type, const void* src, DType out_type, void* dst, int64_t num_elems,
                     cudaStream_t stream) {
  const DTypeInfo info = GetDTypeInfo(type);
  if (!DTypeBytes(type, num_elems).has_value()) {
    return InvalidArgumentError("DequantizeGpu: " + std::to_string(num_elems) + " elements of " +
                                std::string(info.name) + " are not a whole number of " +
                                std::to_string(info.block_elems) + "-element blocks");
  }
  if (num_elems == 0) return Status::Ok();
  if (src == nullptr || dst == nullptr) {
    return InvalidArgumentError("DequantizeGpu: null source or destination");
  }
  return quant::VisitWeightType(type, [&](auto tag) -> Status {
    constexpr DType kT = decltype(tag)::value;
    switch (out_type) {
      case DType::kF32:
        return dequant_internal::Launch<kT, float>(src, dst, num_elems, stream);
      case DType::kBF16:
        return dequant_internal::Launch<kT, __nv_bfloat16>(src, dst, num_elems, stream);
      case DType::kF16:
        return dequant_internal::Launch<kT, __half>(src, dst, num_elems, stream);
      default:
        break;
    }
    return UnimplementedError("DequantizeGpu: output type " + std::string(DTypeName(out_type)) +
                              " is not supported (F32, BF16, F16)");
  });
}

}  // namespace hearth
