#include <cstring>
#include <string>

#include "kernels/kv_cache/block_copy.h"

namespace hearth {

Status CopyKvBlocksCpu(float* const* k_caches, float* const* v_caches, int num_layers,
                       const int32_t* block_pairs, int num_pairs, const kv::PagedKvLayout& layout) {
  if (layout.num_blocks < 0 || layout.block_stride() <= 0)
    return InvalidArgumentError("copy_kv_blocks: bad layout");
  if (num_layers < 0 || num_pairs < 0) return InvalidArgumentError("copy_kv_blocks: bad counts");
  if (num_pairs > 0 && num_layers > 0 &&
      (k_caches == nullptr || v_caches == nullptr || block_pairs == nullptr))
    return InvalidArgumentError("copy_kv_blocks: null pointer");
  for (int p = 0; p < num_pairs; ++p)
    for (int j = 0; j < 2; ++j)
      if (block_pairs[2 * p + j] < 0 || block_pairs[2 * p + j] >= layout.num_blocks)
        return OutOfRangeError("copy_kv_blocks: block " + std::to_string(block_pairs[2 * p + j]) +
                               " of pair " + std::to_string(p) + " is outside [0, " +
                               std::to_string(layout.num_blocks) + ")");
  const int64_t n = layout.block_stride();
  for (int l = 0; l < num_layers; ++l)
    for (int p = 0; p < num_pairs; ++p)
      for (float* cache : {k_caches[l], v_caches[l]})
        std::memcpy(cache + block_pairs[2 * p + 1] * n, cache + block_pairs[2 * p] * n,
                    sizeof(float) * n);
  return Status::Ok();
}

bool KvBlockCopyVectorizable(DType dtype, const kv::PagedKvLayout& layout) {
  return layout.block_stride() * GetDTypeInfo(dtype).block_bytes % 16 == 0;
}

}  // namespace hearth
