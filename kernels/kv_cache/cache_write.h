// Writing this step's keys and values into the paged KV cache through the slot mapping, in the
// layout of paged_kv.h. A negative slot is padding and writes nothing. K and V may be row-strided
// views (e.g. columns of a fused QKV output): token t's heads start at k + t * k_token_stride.
#pragma once

#include <cstdint>

#include "kernels/core/dtype.h"
#include "kernels/core/launch.h"
#include "kernels/core/status.h"
#include "kernels/core/stream.h"
#include "kernels/kv_cache/paged_kv.h"

namespace hearth {

// ---- CPU twin (float32 caches) ---------------------------------------------------------------
// Slots at or past layout.num_blocks * block_size are an OutOfRange error.
Status WriteKvCacheCpu(const float* k,  // [num_tokens, num_kv_heads, head_dim], row k_token_stride
                       int64_t k_token_stride,
                       const float* v,  // [num_tokens, num_kv_heads, head_dim], row v_token_stride
                       int64_t v_token_stride,
                       const int64_t* slot_mapping,  // [num_tokens], negative = padding
                       int64_t num_tokens, const kv::PagedKvLayout& layout,
                       float* k_cache,   // [num_blocks, num_kv_heads, block_size, head_dim]
                       float* v_cache);  // same

// ---- CUDA (device pointers; K, V and caches in `dtype`: F32, F16 or BF16) --------------------
// Slots past the cache cannot be reported per token on the device: they are skipped like padding
// (the block manager, the only producer of slots, never makes them).
Status WriteKvCache(DType dtype, const void* k, int64_t k_token_stride, const void* v,
                    int64_t v_token_stride, const int64_t* slot_mapping, int64_t num_tokens,
                    const kv::PagedKvLayout& layout, void* k_cache, void* v_cache,
                    cudaStream_t stream);

AccessPath ChooseKvWritePath(DType dtype, int head_dim, int64_t k_token_stride,
                             int64_t v_token_stride, const void* k, const void* v,
                             const void* k_cache, const void* v_cache);

}  // namespace hearth
