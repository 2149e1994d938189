#include "tests/kernels/attention/paged_case.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace hearth::attention::testing {

PagedBatch PagedCase::Batch() const {
  PagedBatch b;
  b.num_seqs = static_cast<int>(seqs.size());
  b.num_tokens = num_tokens;
  b.query_start_loc = query_start_loc.data();
  b.seq_lens = seq_lens.data();
  b.block_tables = block_tables.data();
  b.max_blocks_per_seq = max_blocks_per_seq;
  return b;
}

int PagedCase::max_query_len() const {
  int m = 0;
  for (const SeqSpec& s : seqs) m = std::max(m, s.q_len);
  return m;
}

int PagedCase::max_seq_len() const {
  int m = 0;
  for (int32_t l : seq_lens) m = std::max<int>(m, l);
  return m;
}

int PagedCase::num_decode_seqs() const {
  int n = 0;
  for (const SeqSpec& s : seqs) n += s.q_len == 1;
  return n;
}

PagedCase MakePagedCase(const std::vector<SeqSpec>& seqs, int num_heads, int num_kv_heads,
                        int head_dim, uint64_t seed, float (*round)(float), int block_size) {
  PagedCase c;
  c.seqs = seqs;
  c.num_heads = num_heads;
  c.layout.num_kv_heads = num_kv_heads;
  c.layout.head_dim = head_dim;
  c.layout.block_size = block_size;
  const int bs = c.layout.block_size;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  auto value = [&] {
    const float x = dist(rng);
    return round != nullptr ? round(x) : x;
  };

  int64_t total_blocks = 0;
  c.query_start_loc.push_back(0);
  for (const SeqSpec& s : seqs) {
    const int seq_len = s.context_len + s.q_len;
    c.seq_lens.push_back(seq_len);
    c.query_start_loc.push_back(c.query_start_loc.back() + s.q_len);
    const int blocks = (seq_len + bs - 1) / bs;
    c.max_blocks_per_seq = std::max(c.max_blocks_per_seq, blocks);
    total_blocks += blocks;
  }
  c.max_blocks_per_seq += 1;  // a spare column of -1, as the block manager leaves them
  c.num_tokens = c.query_start_loc.back();
  c.layout.num_blocks = total_blocks + 5;  // a few blocks nobody owns
  std::vector<int32_t> ids(c.layout.num_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);

  c.block_tables.assign(seqs.size() * c.max_blocks_per_seq, -1);
  c.k_cache.assign(c.layout.elems_per_layer(), NAN);
  c.v_cache.assign(c.layout.elems_per_layer(), NAN);
  size_t next_id = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const int seq_len = c.seq_lens[i];
    int32_t* row = c.block_tables.data() + i * c.max_blocks_per_seq;
    for (int b = 0; b < (seq_len + bs - 1) / bs; ++b) row[b] = ids[next_id++];
    std::vector<float> k(size_t(seq_len) * num_kv_heads * head_dim);
    std::vector<float> v(k.size());
    for (float& x : k) x = value();
    for (float& x : v) x = value();
    for (int pos = 0; pos < seq_len; ++pos) {
      for (int h = 0; h < num_kv_heads; ++h) {
        const int64_t dst = c.layout.offset(row[pos / bs], h, pos % bs);
        const size_t src = (size_t(pos) * num_kv_heads + h) * head_dim;
        std::copy_n(k.begin() + src, head_dim, c.k_cache.begin() + dst);
        std::copy_n(v.begin() + src, head_dim, c.v_cache.begin() + dst);
      }
    }
    c.k.push_back(std::move(k));
    c.v.push_back(std::move(v));
  }
  c.q.resize(size_t(c.num_tokens) * num_heads * head_dim);
  for (float& x : c.q) x = value();
  return c;
}

std::vector<float> DenseReference(const PagedCase& c, float scale) {
  const int d = c.layout.head_dim;
  const int kvh = c.layout.num_kv_heads;
  const int group = c.num_heads / kvh;
  std::vector<float> out(size_t(c.num_tokens) * c.num_heads * d);
  for (size_t s = 0; s < c.seqs.size(); ++s) {
    for (int j = 0; j < c.seqs[s].q_len; ++j) {
      const int t = c.query_start_loc[s] + j;
      const int pos = c.seqs[s].context_len + j;
      for (int h = 0; h < c.num_heads; ++h) {
        const float* qv = c.q.data() + (size_t(t) * c.num_heads + h) * d;
        std::vector<double> w(pos + 1);
        double mx = -INFINITY;
        for (int p = 0; p <= pos; ++p) {
          const float* kv = c.k[s].data() + (size_t(p) * kvh + h / group) * d;
          double dot = 0;
          for (int i = 0; i < d; ++i) dot += double(qv[i]) * kv[i];
          w[p] = dot * scale;
          mx = std::max(mx, w[p]);
        }
        double sum = 0;
        for (double& x : w) sum += (x = std::exp(x - mx));
        for (int i = 0; i < d; ++i) {
          double acc = 0;
          for (int p = 0; p <= pos; ++p)
            acc += w[p] * c.v[s][(size_t(p) * kvh + h / group) * d + i];
          out[(size_t(t) * c.num_heads + h) * d + i] = static_cast<float>(acc / sum);
        }
      }
    }
  }
  return out;
}

PagedCase SingleSequence(const PagedCase& c, int s) {
  PagedCase one;
  one.layout = c.layout;
  one.num_heads = c.num_heads;
  one.max_blocks_per_seq = c.max_blocks_per_seq;
  one.seqs = {c.seqs[s]};
  one.num_tokens = c.seqs[s].q_len;
  one.query_start_loc = {0, one.num_tokens};
  one.seq_lens = {c.seq_lens[s]};
  one.block_tables.assign(c.block_tables.begin() + size_t(s) * c.max_blocks_per_seq,
                          c.block_tables.begin() + size_t(s + 1) * c.max_blocks_per_seq);
  const size_t row = size_t(c.num_heads) * c.layout.head_dim;
  one.q.assign(c.q.begin() + c.query_start_loc[s] * row,
               c.q.begin() + c.query_start_loc[s + 1] * row);
  one.k = {c.k[s]};
  one.v = {c.v[s]};
  one.k_cache = c.k_cache;
  one.v_cache = c.v_cache;
  return one;
}

}  // namespace hearth::attention::testing
