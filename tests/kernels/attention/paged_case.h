// Random paged-attention cases for the attention tests: logical (contiguous) K/V per sequence,
// scattered into a paged cache through shuffled, non-contiguous block tables, with every cache
// slot no sequence owns filled with NaN so that a kernel reading outside its range cannot pass.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/attention/attention_cpu.h"
#include "kernels/kv_cache/paged_kv.h"

namespace hearth::attention::testing {

struct SeqSpec {
  int context_len;  // tokens already in the cache before this step
  int q_len;        // tokens of this step (1 = decode)
};

struct PagedCase {
  kv::PagedKvLayout layout;
  int num_heads = 0;
  int num_tokens = 0;
  int max_blocks_per_seq = 0;
  std::vector<SeqSpec> seqs;
  std::vector<int32_t> query_start_loc, seq_lens, block_tables;
  std::vector<float> q;                  // [num_tokens, num_heads, head_dim]
  std::vector<std::vector<float>> k, v;  // per sequence [seq_len, num_kv_heads, head_dim]
  std::vector<float> k_cache, v_cache;   // paged, NaN outside owned slots

  PagedBatch Batch() const;
  int max_query_len() const;
  int max_seq_len() const;
  int num_decode_seqs() const;
};

// Builds a case; `round` (optional) is applied to q and K/V values, e.g. to make them exactly
// representable in bf16 so that the CPU reference sees the GPU's inputs.
PagedCase MakePagedCase(const std::vector<SeqSpec>& seqs, int num_heads, int num_kv_heads,
                        int head_dim, uint64_t seed, float (*round)(float) = nullptr,
                        int block_size = kv::kDefaultBlockSize);

// out[t, h, :] in double precision from the logical K/V, full softmax: the dense oracle.
std::vector<float> DenseReference(const PagedCase& c, float scale);

// A case holding only sequence `s` of `c`, same data and blocks (for batch invariance).
PagedCase SingleSequence(const PagedCase& c, int s);

}  // namespace hearth::attention::testing
