#include <cstring>
#include <string>

#include "kernels/kv_cache/cache_write.h"

namespace hearth {
namespace {

Status CheckLayout(const kv::PagedKvLayout& l) {
  if (l.num_blocks < 0 || l.num_kv_heads <= 0 || l.block_size <= 0 || l.head_dim <= 0)
    return InvalidArgumentError("kv cache: bad layout: num_blocks " + std::to_string(l.num_blocks) +
                                ", num_kv_heads " + std::to_string(l.num_kv_heads) +
                                ", block_size " + std::to_string(l.block_size) + ", head_dim " +
                                std::to_string(l.head_dim));
  return Status::Ok();
}

}  // namespace

Status WriteKvCacheCpu(const float* k, int64_t k_token_stride, const float* v,
                       int64_t v_token_stride, const int64_t* slot_mapping, int64_t num_tokens,
                       const kv::PagedKvLayout& layout, float* k_cache, float* v_cache) {
  HEARTH_RETURN_IF_ERROR(CheckLayout(layout));
  const int64_t row = int64_t{layout.num_kv_heads} * layout.head_dim;
  if (num_tokens < 0 || k_token_stride < row || v_token_stride < row)
    return InvalidArgumentError(
        "write_kv_cache: bad shape: num_tokens " + std::to_string(num_tokens) + ", token strides " +
        std::to_string(k_token_stride) + "/" + std::to_string(v_token_stride) +
        " < num_kv_heads * head_dim " + std::to_string(row));
  if (num_tokens > 0 && (k == nullptr || v == nullptr || slot_mapping == nullptr ||
                         k_cache == nullptr || v_cache == nullptr))
    return InvalidArgumentError("write_kv_cache: null pointer");
  const int64_t num_slots = layout.num_blocks * layout.block_size;
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int64_t slot = slot_mapping[t];
    if (slot < 0) continue;
    if (slot >= num_slots)
      return OutOfRangeError("write_kv_cache: slot " + std::to_string(slot) + " of token " +
                             std::to_string(t) + " is past the cache (" +
                             std::to_string(num_slots) + " slots)");
    for (int h = 0; h < layout.num_kv_heads; ++h) {
      const int64_t dst = layout.slot_offset(slot, h);
      std::memcpy(k_cache + dst, k + t * k_token_stride + int64_t{h} * layout.head_dim,
                  sizeof(float) * layout.head_dim);
      std::memcpy(v_cache + dst, v + t * v_token_stride + int64_t{h} * layout.head_dim,
                  sizeof(float) * layout.head_dim);
    }
  }
  return Status::Ok();
}

AccessPath ChooseKvWritePath(DType dtype, int head_dim, int64_t k_token_stride,
                             int64_t v_token_stride, const void* k, const void* v,
                             const void* k_cache, const void* v_cache) {
  return ChooseAccessPath(GetDTypeInfo(dtype).block_bytes,
                          {head_dim, k_token_stride, v_token_stride}, {k, v, k_cache, v_cache});
}

}  // namespace hearth
