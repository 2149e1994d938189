// Copy-on-write support: copies whole KV blocks (src -> dst) in every layer's K and V cache.
// A block of one layer is block_stride() contiguous elements (paged_kv.h), so a block copy is a
// flat copy of that many elements; the element type only sets the byte count.
#pragma once

#include <cstdint>

#include "kernels/core/dtype.h"
#include "kernels/core/status.h"
#include "kernels/core/stream.h"
#include "kernels/kv_cache/paged_kv.h"

namespace hearth {

// ---- CPU twin (float32 caches) ---------------------------------------------------------------
Status CopyKvBlocksCpu(float* const* k_caches,  // [num_layers] -> [num_blocks, ...] per layer
                       float* const* v_caches,  // [num_layers]
                       int num_layers,
                       const int32_t* block_pairs,  // [num_pairs, 2]: (src, dst)
                       int num_pairs, const kv::PagedKvLayout& layout);

// ---- CUDA ------------------------------------------------------------------------------------
// `layer_caches` is a DEVICE array of 2 * num_layers cache base pointers ordered K0, V0, K1, V1,
// ... (the engine builds it once at startup); `block_pairs` is device memory. Each base must be
// 16-byte aligned (cudaMalloc gives 256). Pairs must not write one block twice or read a block
// another pair writes.
Status CopyKvBlocks(DType dtype, void* const* layer_caches, int num_layers,
                    const int32_t* block_pairs, int num_pairs, const kv::PagedKvLayout& layout,
                    cudaStream_t stream);

// Whether a block is a whole number of 16-byte vectors (else the copy goes byte by byte).
bool KvBlockCopyVectorizable(DType dtype, const kv::PagedKvLayout& layout);

}  // namespace hearth
