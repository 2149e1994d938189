#include <cstdint>
#include <string>

#include "kernels/core/cuda_check.h"
#include "kernels/core/pdl.cuh"
#include "kernels/core/pdl.h"
#include "kernels/kv_cache/block_copy.h"

namespace hearth {
namespace kv_cache_kernels {

// Grid (num_pairs, 2 * num_layers): one block copies one KV block of one layer's K or V cache,
// moved as `Unit` (uint4 = 16 bytes on the vector path, a byte on the scalar path).
template <class Unit>
__global__ void CopyBlocksKernel(void* const* __restrict__ layer_caches,
                                 const int32_t* __restrict__ block_pairs, int64_t block_units) {
  cuda::PdlBegin();
  Unit* cache = static_cast<Unit*>(layer_caches[blockIdx.y]);
  const int64_t src = block_pairs[2 * blockIdx.x] * block_units;
  const int64_t dst = block_pairs[2 * blockIdx.x + 1] * block_units;
  for (int64_t i = threadIdx.x; i < block_units; i += blockDim.x) cache[dst + i] = cache[src + i];
}

}  // namespace kv_cache_kernels

Status CopyKvBlocks(DType dtype, void* const* layer_caches, int num_layers,
                    const int32_t* block_pairs, int num_pairs, const kv::PagedKvLayout& layout,
                    cudaStream_t stream) {
  if (num_layers < 0 || num_pairs < 0 || layout.block_stride() <= 0)
    return InvalidArgumentError(
        "copy_kv_blocks: bad counts or layout: " + std::to_string(num_layers) + " layers, " +
        std::to_string(num_pairs) + " pairs");
  if (num_layers == 0 || num_pairs == 0) return Status::Ok();
  if (layer_caches == nullptr || block_pairs == nullptr)
    return InvalidArgumentError("copy_kv_blocks: null pointer");
  if (num_layers > 32767 || num_pairs > 0x7fffffff)
    return InvalidArgumentError("copy_kv_blocks: too many layers or pairs for one launch");
  switch (dtype) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
      break;
    default:
      return UnimplementedError("copy_kv_blocks: unsupported cache dtype " +
                                std::string(DTypeName(dtype)) + " (F32, F16, BF16)");
  }
  const int64_t block_bytes = layout.block_stride() * GetDTypeInfo(dtype).block_bytes;
  const dim3 grid(static_cast<unsigned>(num_pairs), static_cast<unsigned>(2 * num_layers));
  if (KvBlockCopyVectorizable(dtype, layout)) {
    CUDA_CHECK(cuda::LaunchKernel(kv_cache_kernels::CopyBlocksKernel<uint4>, grid, 256, 0, stream,
                                  layer_caches, block_pairs, block_bytes / 16));
  } else {
    CUDA_CHECK(cuda::LaunchKernel(kv_cache_kernels::CopyBlocksKernel<uint8_t>, grid, 256, 0, stream,
                                  layer_caches, block_pairs, block_bytes));
  }
  CUDA_CHECK_LAUNCH();
  return Status::Ok();
}

}  // namespace hearth
