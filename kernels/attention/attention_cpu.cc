#include "kernels/attention/attention_cpu.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace hearth::attention {

Status ValidatePagedBatch(const PagedBatch& b, const kv::PagedKvLayout& layout, int num_heads) {
  if (b.num_seqs < 0 || b.num_tokens < 0)
    return InvalidArgumentError("negative num_seqs/num_tokens");
  if (layout.num_kv_heads <= 0 || num_heads <= 0 || num_heads % layout.num_kv_heads != 0) {
    return InvalidArgumentError("num_heads (" + std::to_string(num_heads) +
                                ") must be a positive multiple of num_kv_heads (" +
                                std::to_string(layout.num_kv_heads) + ")");
  }
  if (layout.block_size <= 0 || layout.head_dim <= 0 || layout.num_blocks < 0) {
    return InvalidArgumentError("bad paged KV layout (block_size, head_dim, num_blocks)");
  }
  if (b.num_seqs == 0) return Status::Ok();
  if (b.query_start_loc == nullptr || b.seq_lens == nullptr || b.block_tables == nullptr) {
    return InvalidArgumentError("null batch metadata pointer");
  }
  if (b.query_start_loc[0] != 0 || b.query_start_loc[b.num_seqs] != b.num_tokens) {
    return InvalidArgumentError("query_start_loc must start at 0 and end at num_tokens (" +
                                std::to_string(b.num_tokens) + ")");
  }
  for (int s = 0; s < b.num_seqs; ++s) {
    const int q_len = b.query_start_loc[s + 1] - b.query_start_loc[s];
    const int seq_len = b.seq_lens[s];
    if (q_len < 0 || q_len > seq_len) {
      return InvalidArgumentError("sequence " + std::to_string(s) + ": query length " +
                                  std::to_string(q_len) +
                                  " not in [0, seq_len=" + std::to_string(seq_len) + "]");
    }
    const int64_t used_blocks = (int64_t{seq_len} + layout.block_size - 1) / layout.block_size;
    if (used_blocks > b.max_blocks_per_seq) {
      return InvalidArgumentError("sequence " + std::to_string(s) + " needs " +
                                  std::to_string(used_blocks) + " blocks > max_blocks_per_seq " +
                                  std::to_string(b.max_blocks_per_seq));
    }
    const int32_t* row = b.block_tables + int64_t{s} * b.max_blocks_per_seq;
    for (int64_t i = 0; i < used_blocks; ++i) {
      if (row[i] < 0 || row[i] >= layout.num_blocks) {
        return OutOfRangeError("sequence " + std::to_string(s) + " block table entry " +
                               std::to_string(i) + " = " + std::to_string(row[i]) +
                               " outside [0, " + std::to_string(layout.num_blocks) + ")");
      }
    }
  }
  return Status::Ok();
}

Status PagedAttentionCpu(const float* q, const float* k_cache, const float* v_cache,
                         const PagedBatch& b, const kv::PagedKvLayout& layout, int num_heads,
                         float scale, float* out) {
  HEARTH_RETURN_IF_ERROR(ValidatePagedBatch(b, layout, num_heads));
  if (b.num_tokens == 0) return Status::Ok();
  const int head_dim = layout.head_dim;
  const int group = num_heads / layout.num_kv_heads;

  std::vector<int> token_seq(b.num_tokens);
  for (int s = 0; s < b.num_seqs; ++s) {
    for (int t = b.query_start_loc[s]; t < b.query_start_loc[s + 1]; ++t) token_seq[t] = s;
  }

  const int64_t num_items = int64_t{b.num_tokens} * num_heads;
  // Each (token, head) item is computed start to finish by one thread, in a fixed order that
  // depends only on its own sequence: that is what makes the result batch-invariant.
#pragma omp parallel
  {
    std::vector<float> scores;
    std::vector<float> acc(head_dim);
#pragma omp for schedule(dynamic, 4)
    for (int64_t item = 0; item < num_items; ++item) {
      const int t = static_cast<int>(item / num_heads);
      const int h = static_cast<int>(item % num_heads);
      const int s = token_seq[t];
      const int q_len = b.query_start_loc[s + 1] - b.query_start_loc[s];
      const int pos = b.seq_lens[s] - q_len + (t - b.query_start_loc[s]);
      const int kv_len = pos + 1;
      const int kv_head = h / group;
      const int32_t* table = b.block_tables + int64_t{s} * b.max_blocks_per_seq;
      const float* qv = q + item * head_dim;

      scores.resize(kv_len);
      float max_score = -INFINITY;
      for (int j = 0; j < kv_len; ++j) {
        const float* kv =
            k_cache + layout.offset(table[j / layout.block_size], kv_head, j % layout.block_size);
        float dot = 0.f;
        // A fixed-width SIMD reduction: its order depends only on head_dim, never on the batch.
#pragma omp simd reduction(+ : dot)
        for (int d = 0; d < head_dim; ++d) dot += qv[d] * kv[d];
        scores[j] = dot * scale;
        max_score = std::max(max_score, scores[j]);
      }
      float sum = 0.f;
      for (int j = 0; j < kv_len; ++j) {
        scores[j] = std::exp(scores[j] - max_score);
        sum += scores[j];
      }
      std::fill(acc.begin(), acc.end(), 0.f);
      for (int j = 0; j < kv_len; ++j) {
        const float* vv =
            v_cache + layout.offset(table[j / layout.block_size], kv_head, j % layout.block_size);
        const float p = scores[j];
#pragma omp simd
        for (int d = 0; d < head_dim; ++d) acc[d] += p * vv[d];
      }
      const float inv = 1.f / sum;
      float* o = out + item * head_dim;
      for (int d = 0; d < head_dim; ++d) o[d] = acc[d] * inv;
    }
  }
  return Status::Ok();
}

}  // namespace hearth::attention
