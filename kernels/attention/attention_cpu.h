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

// The two ways PagedAttentionCpu computes, with the same bits: portable code, and AVX2 (x86-64
// CPUs with AVX2, head_dim a multiple of 8). Each score is q . k in 8 lane sums (element d to lane
// d % 8, in order of d) combined ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)), times scale; softmax
// with ExpForSoftmax, summed in 8 lane sums; out = (sum over keys, in order, of p_j * v_j) * (1 /
// sum).
enum class CpuAttentionPath { kScalar, kAvx2 };

// The softmax's exponential (both paths; x = score - max, so x <= 0 or NaN): Cody-Waite range
// reduction and a degree-5 polynomial in float32 without FMA, within 2 ulp of exp on [-87, 88];
// 0 below, inf above, NaN for NaN. std::exp's result is the C library's own, and its vector twin
// would have to match it bit for bit.
float ExpForSoftmax(float x);

// The path PagedAttentionCpu takes: AVX2 where the CPU and head_dim allow.
CpuAttentionPath SelectCpuAttentionPath(int head_dim, bool has_avx2);

// PagedAttentionCpu on a given path (tests, benchmarks); Unimplemented where the CPU or head_dim
// rules the path out.
Status PagedAttentionCpuOnPath(CpuAttentionPath path, const float* q, const float* k_cache,
                               const float* v_cache, const PagedBatch& batch,
                               const kv::PagedKvLayout& layout, int num_heads, float scale,
                               float* out);

// Checks the metadata against the layout (the checks PagedAttentionCpu makes); shared with the
// tests and usable by the CUDA adapter's callers on host copies of the metadata.
Status ValidatePagedBatch(const PagedBatch& batch, const kv::PagedKvLayout& layout, int num_heads);

}  // namespace hearth::attention
