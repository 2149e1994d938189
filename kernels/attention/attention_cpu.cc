#include "kernels/attention/attention_cpu.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "kernels/core/cpu_features.h"

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

namespace {

// 8 lane sums combined ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)).
inline float SumLanes8(const float* lane) {
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// The score of one key: q . k over head_dim in 8 lane sums (element d to lane d % 8, in order of
// d), combined by SumLanes8. Both paths compute exactly this.
float DotLanes8(const float* q, const float* k, int head_dim) {
  float lane[8] = {};
  for (int d = 0; d < head_dim; ++d) lane[d % 8] += q[d] * k[d];
  return SumLanes8(lane);
}

// Calls fn(j, row) for keys j = 0 .. kv_len - 1 of one kv head in order, `row` pointing at the
// key's head_dim values in `cache`: one block-table lookup per block, no division per key.
template <typename Fn>
inline void ForEachKey(const float* cache, const int32_t* table, const kv::PagedKvLayout& layout,
                       int kv_head, int kv_len, Fn&& fn) {
  for (int blk = 0, j = 0; j < kv_len; ++blk) {
    const float* row = cache + layout.offset(table[blk], kv_head, 0);
    const int end = std::min(kv_len, j + layout.block_size);
    for (; j < end; ++j, row += layout.head_dim) fn(j, row);
  }
}

// ExpForSoftmax's constants: Cody-Waite ln 2 in two parts (the first exact in 9 bits, so n * kLn2Hi
// is exact), then exp(r) on |r| <= ln 2 / 2 as 1 + r + r^2 * P(r), P of degree 5 (the Cephes
// library's expf coefficients).
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kExpP[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                            4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
constexpr float kRoundMagic = 12582912.f;  // 1.5 * 2^23: x + it - it rounds x to an integer
constexpr float kExpLowest = -87.f;        // below: 0 (exp(-87) = 1.6e-38, near FLT_MIN)
constexpr float kExpHighest = 88.f;        // above: inf (exp(88) = 1.65e38 < FLT_MAX)

}  // namespace

float ExpForSoftmax(float x) {
  if (x != x) return x;
  if (x < kExpLowest) return 0.f;
  if (x > kExpHighest) return INFINITY;
  const float n = (x * kLog2e + kRoundMagic) - kRoundMagic;  // round(x / ln 2), ties to even
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  float p = kExpP[0];
  for (int i = 1; i < 6; ++i) p = p * r + kExpP[i];
  const float y = (p * (r * r) + r) + 1.f;
  const uint32_t bits = static_cast<uint32_t>(static_cast<int>(n) + 127) << 23;  // 2^n, normal
  float two_n;
  std::memcpy(&two_n, &bits, 4);
  return y * two_n;
}

namespace {

// softmax in place over scores[0 .. kv_len): max, ExpForSoftmax(score - max), the sum in 8 lane
// sums (key j to lane j % 8) combined as SumLanes8; returns 1 / sum.
float Softmax(float* scores, int kv_len) {
  float max_score = -INFINITY;
  for (int j = 0; j < kv_len; ++j) max_score = std::max(max_score, scores[j]);
  float lane[8] = {};
  for (int j = 0; j < kv_len; ++j) {
    scores[j] = ExpForSoftmax(scores[j] - max_score);
    lane[j % 8] += scores[j];
  }
  return 1.f / SumLanes8(lane);
}

// One (token, head) item, portable: the definition of every result.
void ItemScalar(const float* qv, const float* k_cache, const float* v_cache, const int32_t* table,
                const kv::PagedKvLayout& layout, int kv_head, int kv_len, float scale,
                float* scores, float* acc, float* out) {
  const int head_dim = layout.head_dim;
  ForEachKey(k_cache, table, layout, kv_head, kv_len,
             [&](int j, const float* k) { scores[j] = DotLanes8(qv, k, head_dim) * scale; });
  const float inv = Softmax(scores, kv_len);
  std::fill(acc, acc + head_dim, 0.f);
  ForEachKey(v_cache, table, layout, kv_head, kv_len, [&](int j, const float* v) {
    const float p = scores[j];
    for (int d = 0; d < head_dim; ++d) acc[d] += p * v[d];
  });
  for (int d = 0; d < head_dim; ++d) out[d] = acc[d] * inv;
}

#if defined(__x86_64__) || defined(__i386__)
// Scores of 8 keys at once (head_dim a multiple of 8): each key's 8 lane sums in one vector, then
// three levels of horizontal adds pair the lanes as DotLanes8 does, leaving key i in lane i.
HEARTH_AVX2 void Scores8Avx2(const float* q, const float* const rows[8], int head_dim, float scale,
                             float* scores) {
  __m256 acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_ps();
  for (int d = 0; d < head_dim; d += 8) {
    const __m256 qd = _mm256_loadu_ps(q + d);
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      acc[i] = _mm256_add_ps(acc[i], _mm256_mul_ps(qd, _mm256_loadu_ps(rows[i] + d)));
    }
  }
  // hadd(a, b) = [a0+a1, a2+a3, b0+b1, b2+b3 | a4+a5, a6+a7, b4+b5, b6+b7].
  const __m256 h0 = _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]), _mm256_hadd_ps(acc[2], acc[3]));
  const __m256 h1 = _mm256_hadd_ps(_mm256_hadd_ps(acc[4], acc[5]), _mm256_hadd_ps(acc[6], acc[7]));
  // h0 = [(0+1)+(2+3) of keys 0..3 | (4+5)+(6+7) of keys 0..3], h1 the same for keys 4..7.
  const __m256 lo = _mm256_permute2f128_ps(h0, h1, 0x20);
  const __m256 hi = _mm256_permute2f128_ps(h0, h1, 0x31);
  _mm256_storeu_ps(scores, _mm256_mul_ps(_mm256_add_ps(lo, hi), _mm256_set1_ps(scale)));
}

// ExpForSoftmax of 8 values, the same operations lane by lane.
HEARTH_AVX2 __m256 Exp8Avx2(__m256 x) {
  const __m256 lowest = _mm256_set1_ps(kExpLowest), highest = _mm256_set1_ps(kExpHighest);
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lowest), highest);
  const __m256 magic = _mm256_set1_ps(kRoundMagic);
  const __m256 n =
      _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(xc, _mm256_set1_ps(kLog2e)), magic), magic);
  const __m256 r = _mm256_sub_ps(_mm256_sub_ps(xc, _mm256_mul_ps(n, _mm256_set1_ps(kLn2Hi))),
                                 _mm256_mul_ps(n, _mm256_set1_ps(kLn2Lo)));
  __m256 p = _mm256_set1_ps(kExpP[0]);
  for (int i = 1; i < 6; ++i) p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(kExpP[i]));
  const __m256 y =
      _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(p, _mm256_mul_ps(r, r)), r), _mm256_set1_ps(1.f));
  const __m256i e = _mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127));
  __m256 out = _mm256_mul_ps(y, _mm256_castsi256_ps(_mm256_slli_epi32(e, 23)));
  out = _mm256_blendv_ps(out, _mm256_setzero_ps(), _mm256_cmp_ps(x, lowest, _CMP_LT_OQ));
  out = _mm256_blendv_ps(out, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, highest, _CMP_GT_OQ));
  return _mm256_blendv_ps(out, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));  // NaN stays NaN
}

// Softmax with 8 keys at a time: the same max (max_ps(s, m) keeps m for a NaN s, as std::max
// does), the same exponentials and the same 8 lane sums.
HEARTH_AVX2 float SoftmaxAvx2(float* scores, int kv_len) {
  __m256 m8 = _mm256_set1_ps(-INFINITY);
  int j = 0;
  for (; j + 8 <= kv_len; j += 8) m8 = _mm256_max_ps(_mm256_loadu_ps(scores + j), m8);
  alignas(32) float lane[8];
  _mm256_store_ps(lane, m8);
  float max_score = -INFINITY;
  for (int l = 0; l < 8; ++l) max_score = std::max(max_score, lane[l]);
  for (; j < kv_len; ++j) max_score = std::max(max_score, scores[j]);
  const __m256 mx = _mm256_set1_ps(max_score);
  __m256 sum8 = _mm256_setzero_ps();
  for (j = 0; j + 8 <= kv_len; j += 8) {
    const __m256 e = Exp8Avx2(_mm256_sub_ps(_mm256_loadu_ps(scores + j), mx));
    _mm256_storeu_ps(scores + j, e);
    sum8 = _mm256_add_ps(sum8, e);
  }
  _mm256_store_ps(lane, sum8);
  for (; j < kv_len; ++j) {
    scores[j] = ExpForSoftmax(scores[j] - max_score);
    lane[j % 8] += scores[j];
  }
  return 1.f / SumLanes8(lane);
}

// acc[d0 .. d0 + 8 * kVecs) += p[r] * rows[r][d0 ..] for r = 0 .. n - 1 in order. The running
// sums go back to acc between calls (exact), so a query's sums over successive key tiles are
// ItemScalar's sums over all its keys.
template <int kVecs>
HEARTH_AVX2 void AccumulateValuesAvx2(const float* const* rows, int n, const float* p, int d0,
                                      float* acc) {
  __m256 a[kVecs];
  for (int i = 0; i < kVecs; ++i) a[i] = _mm256_loadu_ps(acc + d0 + 8 * i);
  for (int r = 0; r < n; ++r) {
    const __m256 pr = _mm256_set1_ps(p[r]);
    const float* v = rows[r] + d0;
#pragma GCC unroll 8
    for (int i = 0; i < kVecs; ++i) {
      a[i] = _mm256_add_ps(a[i], _mm256_mul_ps(pr, _mm256_loadu_ps(v + 8 * i)));
    }
  }
  for (int i = 0; i < kVecs; ++i) _mm256_storeu_ps(acc + d0 + 8 * i, a[i]);
}

// AccumulateValuesAvx2 over the whole head: 64 values (8 accumulators) at a time, then the rest.
HEARTH_AVX2 void AccumulateHeadAvx2(const float* const* rows, int n, const float* p, int head_dim,
                                    float* acc) {
  int d0 = 0;
  for (; d0 + 64 <= head_dim; d0 += 64) AccumulateValuesAvx2<8>(rows, n, p, d0, acc);
  switch ((head_dim - d0) / 8) {
    case 0:
      break;
#define HEARTH_REST(k)                            \
  case k:                                         \
    AccumulateValuesAvx2<k>(rows, n, p, d0, acc); \
    break;
      HEARTH_REST(1)
      HEARTH_REST(2)
      HEARTH_REST(3)
      HEARTH_REST(4)
      HEARTH_REST(5)
      HEARTH_REST(6)
      HEARTH_REST(7)
#undef HEARTH_REST
  }
}

#endif  // x86

// Rows of keys j0 .. j0 + n - 1 of one kv head in `cache`.
void KeyRows(const float* cache, const int32_t* table, const kv::PagedKvLayout& layout, int kv_head,
             int j0, int n, const float** rows) {
  for (int i = 0, j = j0; i < n; ++i, ++j) {
    rows[i] = cache + layout.offset(table[j / layout.block_size], kv_head, j % layout.block_size);
  }
}

// The AVX2 path's unit of work: query tokens t0 .. t0 + count - 1 of one sequence (positions
// pos0 ..) with the `group` heads that share kv head `kv_head`. Each K and V row is read once
// per tile, from a tile of kKeyTile keys kept in cache while every query of the tile uses it,
// instead of once per (token, head) as ItemScalar reads them: the portable path streams a long
// context's K and V from memory for every head of every token.
struct Tile {
  int seq, kv_head, t0, count, pos0;
};
constexpr int kTileTokens = 16;
constexpr int kKeyTile = 128;

struct TileScratch {
  std::vector<float> scores, acc, inv;
  const float* rows[kKeyTile];
};

#if defined(__x86_64__) || defined(__i386__)
HEARTH_AVX2 void TileAvx2(const Tile& tile, const float* q, const float* k_cache,
                          const float* v_cache, const int32_t* table,
                          const kv::PagedKvLayout& layout, int num_heads, int group, float scale,
                          TileScratch& x, float* out) {
  const int head_dim = layout.head_dim;
  const int num_queries = tile.count * group;
  const int max_len = tile.pos0 + tile.count;  // the last token's keys: all the tile reads
  // Query m: token t0 + m / group, head kv_head * group + m % group, keys 0 .. pos0 + m / group.
  auto query = [&](int m) {
    return q +
           (int64_t{tile.t0 + m / group} * num_heads + tile.kv_head * group + m % group) * head_dim;
  };
  auto out_row = [&](int m) { return out + (query(m) - q); };
  auto kv_len = [&](int m) { return tile.pos0 + m / group + 1; };
  x.scores.resize(static_cast<size_t>(num_queries) * max_len);
  x.acc.assign(static_cast<size_t>(num_queries) * head_dim, 0.f);
  x.inv.resize(num_queries);

  for (int kt = 0; kt < max_len; kt += kKeyTile) {
    const int n = std::min(kKeyTile, max_len - kt);
    KeyRows(k_cache, table, layout, tile.kv_head, kt, n, x.rows);
    for (int m = 0; m < num_queries; ++m) {
      const int end = std::min(kt + n, kv_len(m));
      float* sm = x.scores.data() + int64_t{m} * max_len;
      const float* qv = query(m);
      int j = kt;
      for (; j + 8 <= end; j += 8) Scores8Avx2(qv, x.rows + (j - kt), head_dim, scale, sm + j);
      for (; j < end; ++j) sm[j] = DotLanes8(qv, x.rows[j - kt], head_dim) * scale;
    }
  }
  for (int m = 0; m < num_queries; ++m) {
    x.inv[m] = SoftmaxAvx2(x.scores.data() + int64_t{m} * max_len, kv_len(m));
  }
  for (int kt = 0; kt < max_len; kt += kKeyTile) {
    const int n = std::min(kKeyTile, max_len - kt);
    KeyRows(v_cache, table, layout, tile.kv_head, kt, n, x.rows);
    for (int m = 0; m < num_queries; ++m) {
      const int end = std::min(kt + n, kv_len(m));
      if (end <= kt) continue;
      AccumulateHeadAvx2(x.rows, end - kt, x.scores.data() + int64_t{m} * max_len + kt, head_dim,
                         x.acc.data() + int64_t{m} * head_dim);
    }
  }
  for (int m = 0; m < num_queries; ++m) {
    const float* acc = x.acc.data() + int64_t{m} * head_dim;
    float* o = out_row(m);
    const __m256 inv = _mm256_set1_ps(x.inv[m]);
    for (int d = 0; d < head_dim; d += 8) {
      _mm256_storeu_ps(o + d, _mm256_mul_ps(_mm256_loadu_ps(acc + d), inv));
    }
  }
}
#endif

}  // namespace

CpuAttentionPath SelectCpuAttentionPath(int head_dim, bool has_avx2) {
  return has_avx2 && head_dim % 8 == 0 ? CpuAttentionPath::kAvx2 : CpuAttentionPath::kScalar;
}

Status PagedAttentionCpu(const float* q, const float* k_cache, const float* v_cache,
                         const PagedBatch& b, const kv::PagedKvLayout& layout, int num_heads,
                         float scale, float* out) {
  return PagedAttentionCpuOnPath(SelectCpuAttentionPath(layout.head_dim, CpuHasAvx2F16c()), q,
                                 k_cache, v_cache, b, layout, num_heads, scale, out);
}

Status PagedAttentionCpuOnPath(CpuAttentionPath path, const float* q, const float* k_cache,
                               const float* v_cache, const PagedBatch& b,
                               const kv::PagedKvLayout& layout, int num_heads, float scale,
                               float* out) {
  HEARTH_RETURN_IF_ERROR(ValidatePagedBatch(b, layout, num_heads));
  const int head_dim = layout.head_dim;
  if (path == CpuAttentionPath::kAvx2 &&
      SelectCpuAttentionPath(head_dim, CpuHasAvx2F16c()) != CpuAttentionPath::kAvx2) {
    return UnimplementedError(
        "PagedAttentionCpu: the AVX2 path needs AVX2 and a head_dim that "
        "is a multiple of 8 (head_dim " +
        std::to_string(head_dim) + ")");
  }
  if (b.num_tokens == 0) return Status::Ok();
  const int group = num_heads / layout.num_kv_heads;
#if defined(__x86_64__) || defined(__i386__)
  if (path == CpuAttentionPath::kAvx2) {
    // Tiles of up to kTileTokens tokens of one sequence x one kv head. Each output is computed
    // by one thread in an order that depends only on its own (token, head), whatever else
    // shares its tile or the batch: the results are ItemScalar's, hence batch-invariant.
    std::vector<Tile> tiles;
    for (int s = 0; s < b.num_seqs; ++s) {
      const int begin = b.query_start_loc[s], end = b.query_start_loc[s + 1];
      const int first_pos = b.seq_lens[s] - (end - begin);
      for (int t0 = begin; t0 < end; t0 += kTileTokens) {
        for (int g = 0; g < layout.num_kv_heads; ++g) {
          tiles.push_back({s, g, t0, std::min(kTileTokens, end - t0), first_pos + (t0 - begin)});
        }
      }
    }
#pragma omp parallel
    {
      TileScratch scratch;
#pragma omp for schedule(dynamic, 1)
      for (size_t i = 0; i < tiles.size(); ++i) {
        const Tile& tile = tiles[i];
        TileAvx2(tile, q, k_cache, v_cache,
                 b.block_tables + int64_t{tile.seq} * b.max_blocks_per_seq, layout, num_heads,
                 group, scale, scratch, out);
      }
    }
    return Status::Ok();
  }
#endif

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
      const int32_t* table = b.block_tables + int64_t{s} * b.max_blocks_per_seq;
      scores.resize(kv_len);
      ItemScalar(q + item * head_dim, k_cache, v_cache, table, layout, h / group, kv_len, scale,
                 scores.data(), acc.data(), out + item * head_dim);
    }
  }
  return Status::Ok();
}

}  // namespace hearth::attention
