// Causal paged attention on the CPU (float32): the CPU backend and the reference the CUDA kernels
// are tested against. One call covers a whole step: prefill chunks and decode tokens mixed.
#pragma once

#include <cstdint>

#include "kernels/core/status.h"
#include "kernels/kv_cache/paged_kv.h"

namespace hearth::attention {

// The batch metadata of one step, as defined in kernels/kv_cache/paged_kv.h. Host pointers here;
// the CUDA launcher takes the same fields as device pointers.
struct PagedBatch {
  int num_seqs = 0;
  int num_tokens = 0;
  const int32_t* query_start_loc = nullptr;  // [num_seqs + 1]
  const int32_t* seq_lens = nullptr;         // [num_seqs]
  const int32_t* block_tables = nullptr;     // [num_seqs, max_blocks_per_seq]
  int max_blocks_per_seq = 0;
};

// out[t, h, :] = softmax(scale * q[t, h, :] . K[0..pos_t]) V[0..pos_t], with K/V of kv head
// h / (num_heads / num_kv_heads) read through the sequence's block table. The new tokens' K/V
// must already be in the cache. Work is split over (token, head) items with OpenMP, and each
// item is computed the same way whatever else is in the batch, so results are batch-invariant
// (bit-identical for a sequence alone or in any batch). Errors: malformed metadata (non-monotonic
// query_start_loc, q_len > seq_len, block ids out of range, heads not divisible).
Status PagedAttentionCpu(const float* q,        // [num_tokens, num_heads, head_dim]
                         const float* k_cache,  // [num_blocks, num_kv_heads, block_size, head_dim]
                         const float* v_cache,  // [num_blocks, num_kv_heads, block_size, head_dim]
                         const PagedBatch& batch, const kv::PagedKvLayout& layout, int num_heads,
                         float scale,
                         float* out);  // [num_tokens, num_heads, head_dim]

// Checks the metadata against the layout (the checks PagedAttentionCpu makes); shared with the
// tests and usable by the CUDA adapter's callers on host copies of the metadata.
Status ValidatePagedBatch(const PagedBatch& batch, const kv::PagedKvLayout& layout, int num_heads);

}  // namespace hearth::attention
