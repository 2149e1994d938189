#include <string>

#include "kernels/core/cuda_check.h"
#include "kernels/core/pdl.cuh"
#include "kernels/core/pdl.h"
#include "kernels/core/vec.cuh"
#include "kernels/kv_cache/cache_write.h"

namespace hearth {
namespace kv_cache_kernels {

using cuda::Vec;

// One block per token; each thread moves N-element pieces of (kv head, dim) for K and V.
template <class T, int N>
__global__ void WriteKvKernel(const T* __restrict__ k, int64_t k_token_stride,
                              const T* __restrict__ v, int64_t v_token_stride,
                              const int64_t* __restrict__ slot_mapping, kv::PagedKvLayout layout,
                              T* __restrict__ k_cache, T* __restrict__ v_cache) {
  cuda::PdlBegin();
  const int64_t t = blockIdx.x;
  const int64_t slot = slot_mapping[t];
  if (slot < 0 || slot >= layout.num_blocks * layout.block_size) return;
  const int row = layout.num_kv_heads * layout.head_dim;
  for (int i = threadIdx.x * N; i < row; i += blockDim.x * N) {
    const int h = i / layout.head_dim, d = i % layout.head_dim;
    const int64_t dst = layout.slot_offset(slot, h) + d;
    cuda::StoreVec<T, N>(k_cache + dst, cuda::LoadVec<T, N>(k + t * k_token_stride + i));
    cuda::StoreVec<T, N>(v_cache + dst, cuda::LoadVec<T, N>(v + t * v_token_stride + i));
  }
}

}  // namespace kv_cache_kernels

namespace {

template <class T>
Status LaunchWriteKv(const T* k, int64_t k_stride, const T* v, int64_t v_stride,
                     const int64_t* slots, int64_t num_tokens, const kv::PagedKvLayout& layout,
                     T* k_cache, T* v_cache, AccessPath path, cudaStream_t stream) {
  if (num_tokens == 0) return Status::Ok();
  if (num_tokens > 0x7fffffff) return InvalidArgumentError("write_kv_cache: too many tokens");
  constexpr int kN = cuda::kVec16<T>;
  const int row = layout.num_kv_heads * layout.head_dim;
  const unsigned grid = static_cast<unsigned>(num_tokens);
  switch (path) {
    case AccessPath::kVector16:
      CUDA_CHECK(cuda::LaunchKernel(kv_cache_kernels::WriteKvKernel<T, kN>, grid,
                                    RowThreads(row / kN), 0, stream, k, k_stride, v, v_stride,
                                    slots, layout, k_cache, v_cache));
      break;
    case AccessPath::kScalar:
      CUDA_CHECK(cuda::LaunchKernel(kv_cache_kernels::WriteKvKernel<T, 1>, grid, RowThreads(row), 0,
                                    stream, k, k_stride, v, v_stride, slots, layout, k_cache,
                                    v_cache));
      break;
    default:
      return UnimplementedError("write_kv_cache: unsupported access path");
  }
  CUDA_CHECK_LAUNCH();
  return Status::Ok();
}

}  // namespace

Status WriteKvCache(DType dtype, const void* k, int64_t k_token_stride, const void* v,
                    int64_t v_token_stride, const int64_t* slot_mapping, int64_t num_tokens,
                    const kv::PagedKvLayout& layout, void* k_cache, void* v_cache,
                    cudaStream_t stream) {
  const int64_t row = int64_t{layout.num_kv_heads} * layout.head_dim;
  if (layout.num_blocks < 0 || layout.num_kv_heads <= 0 || layout.block_size <= 0 ||
      layout.head_dim <= 0 || num_tokens < 0 || k_token_stride < row || v_token_stride < row)
    return InvalidArgumentError(
        "write_kv_cache: bad shape: num_tokens " + std::to_string(num_tokens) + ", num_kv_heads " +
        std::to_string(layout.num_kv_heads) + ", head_dim " + std::to_string(layout.head_dim) +
        ", token strides " + std::to_string(k_token_stride) + "/" + std::to_string(v_token_stride));
  if (num_tokens > 0 && (k == nullptr || v == nullptr || slot_mapping == nullptr ||
                         k_cache == nullptr || v_cache == nullptr))
    return InvalidArgumentError("write_kv_cache: null pointer");
  const AccessPath path = ChooseKvWritePath(dtype, layout.head_dim, k_token_stride, v_token_stride,
                                            k, v, k_cache, v_cache);
  switch (dtype) {
    case DType::kF32:
      return LaunchWriteKv(static_cast<const float*>(k), k_token_stride,
                           static_cast<const float*>(v), v_token_stride, slot_mapping, num_tokens,
                           layout, static_cast<float*>(k_cache), static_cast<float*>(v_cache), path,
                           stream);
    case DType::kF16:
      return LaunchWriteKv(static_cast<const __half*>(k), k_token_stride,
                           static_cast<const __half*>(v), v_token_stride, slot_mapping, num_tokens,
                           layout, static_cast<__half*>(k_cache), static_cast<__half*>(v_cache),
                           path, stream);
    case DType::kBF16:
      return LaunchWriteKv(static_cast<const __nv_bfloat16*>(k), k_token_stride,
                           static_cast<const __nv_bfloat16*>(v), v_token_stride, slot_mapping,
                           num_tokens, layout, static_cast<__nv_bfloat16*>(k_cache),
                           static_cast<__nv_bfloat16*>(v_cache), path, stream);
    default:
      return UnimplementedError("write_kv_cache: unsupported cache dtype " +
                                std::string(DTypeName(dtype)) + " (F32, F16, BF16)");
  }
}

}  // namespace hearth
