// The CPU paged attention against a dense double-precision oracle (K/V gathered contiguous, full
// softmax), its batch invariance, and its errors on malformed metadata.
#include "kernels/attention/attention_cpu.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/core/cpu_features.h"
#include "tests/kernels/attention/paged_case.h"
#include "tests/support/test_support.h"

namespace hearth::attention {
namespace {

using testing::MakePagedCase;
using testing::PagedCase;
using testing::SeqSpec;

std::vector<float> RunCpu(const PagedCase& c, float scale) {
  std::vector<float> out(c.q.size());
  if (!out.empty()) std::memset(out.data(), hearth::testing::kPoisonByte, out.size() * 4);
  const Status st = PagedAttentionCpu(c.q.data(), c.k_cache.data(), c.v_cache.data(), c.Batch(),
                                      c.layout, c.num_heads, scale, out.data());
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

// Ragged, mixed prefill/decode batch; chunk and context boundaries off the 16-token blocks.
const std::vector<SeqSpec> kMixed = {{0, 1},   {0, 37},  {20, 1},  {33, 50},
                                     {200, 1}, {16, 16}, {500, 3}, {5, 0}};

struct Shape {
  int num_heads, num_kv_heads, head_dim;
};

class CpuAttentionShapes : public ::testing::TestWithParam<Shape> {};

TEST_P(CpuAttentionShapes, MatchesDenseReference) {
  const Shape s = GetParam();
  const PagedCase c = MakePagedCase(kMixed, s.num_heads, s.num_kv_heads, s.head_dim, 17);
  const float scale = 1.f / std::sqrt(float(s.head_dim));
  const std::vector<float> out = RunCpu(c, scale);
  const std::vector<float> ref = testing::DenseReference(c, scale);
  EXPECT_LT(hearth::testing::RelL2(out, ref), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Heads, CpuAttentionShapes,
                         ::testing::Values(Shape{4, 4, 64}, Shape{8, 2, 64}, Shape{6, 2, 128},
                                           Shape{8, 1, 128}, Shape{4, 4, 256}));

TEST(CpuAttention, OtherBlockSizes) {
  for (int block_size : {1, 8, 32, 48}) {
    const PagedCase c = MakePagedCase(kMixed, 4, 2, 64, 19, nullptr, block_size);
    const std::vector<float> out = RunCpu(c, 0.125f);
    EXPECT_LT(hearth::testing::RelL2(out, testing::DenseReference(c, 0.125f)), 1e-5)
        << "block_size " << block_size;
  }
}

TEST(CpuAttention, LongDecodeAndCustomScale) {
  const PagedCase c = MakePagedCase({{3000, 1}, {1234, 7}}, 8, 2, 128, 5);
  const std::vector<float> out = RunCpu(c, 0.3f);
  EXPECT_LT(hearth::testing::RelL2(out, testing::DenseReference(c, 0.3f)), 1e-5);
}

TEST(CpuAttention, BatchInvariant) {
  const PagedCase c = MakePagedCase(kMixed, 8, 2, 64, 23);
  const float scale = 0.125f;
  const std::vector<float> batched = RunCpu(c, scale);
  const size_t row = size_t(c.num_heads) * c.layout.head_dim;
  for (int s = 0; s < static_cast<int>(c.seqs.size()); ++s) {
    const PagedCase one = testing::SingleSequence(c, s);
    const std::vector<float> alone = RunCpu(one, scale);
    ASSERT_EQ(alone.size(), size_t(c.seqs[s].q_len) * row);
    if (alone.empty()) continue;  // the sequence with no tokens this step
    EXPECT_EQ(0, std::memcmp(alone.data(), batched.data() + c.query_start_loc[s] * row,
                             alone.size() * sizeof(float)))
        << "sequence " << s << " differs alone vs in the batch";
  }
}

TEST(CpuAttention, IndependentOfThreadCount) {
  const PagedCase c = MakePagedCase(kMixed, 8, 2, 64, 29);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const std::vector<float> one = RunCpu(c, 0.125f);
  omp_set_num_threads(3);
  const std::vector<float> three = RunCpu(c, 0.125f);
  omp_set_num_threads(threads);
  EXPECT_EQ(0, std::memcmp(one.data(), three.data(), one.size() * sizeof(float)));
}

// The AVX2 path gives the portable path's bits (the portable code defines every result, so the
// processor never shows in the output): head sizes of real models and of stories260K (8), one
// with a rest after the 64-wide chunks (72), GQA groups, block sizes that split the 8-key groups
// across blocks, a mixed batch with decode, prefill chunks and a long context.
TEST(CpuAttention, Avx2PathGivesThePortableBits) {
  if (SelectCpuAttentionPath(64, true) != CpuAttentionPath::kAvx2 ||
      SelectCpuAttentionPath(64, CpuHasAvx2F16c()) != CpuAttentionPath::kAvx2) {
    GTEST_SKIP() << "no AVX2 on this CPU";
  }
  struct Case {
    Shape shape;
    int block_size;
  };
  const Case cases[] = {{{8, 4, 8}, 16},   {{9, 3, 64}, 16}, {{8, 2, 128}, 16},
                        {{4, 4, 256}, 16}, {{6, 2, 72}, 16}, {{4, 2, 64}, 1},
                        {{4, 2, 64}, 5},   {{4, 2, 64}, 48}, {{32, 8, 128}, 32}};
  std::vector<SeqSpec> seqs = kMixed;
  seqs.push_back({1500, 2});
  seqs.push_back({200, 70});  // several query tiles over several key tiles
  for (const Case& k : cases) {
    const Shape& s = k.shape;
    const PagedCase c =
        MakePagedCase(seqs, s.num_heads, s.num_kv_heads, s.head_dim, 31, nullptr, k.block_size);
    const float scale = 1.f / std::sqrt(float(s.head_dim));
    std::vector<float> portable(c.q.size()), avx2(c.q.size());
    std::memset(portable.data(), hearth::testing::kPoisonByte, portable.size() * 4);
    std::memset(avx2.data(), hearth::testing::kPoisonByte, avx2.size() * 4);
    ASSERT_TRUE(PagedAttentionCpuOnPath(CpuAttentionPath::kScalar, c.q.data(), c.k_cache.data(),
                                        c.v_cache.data(), c.Batch(), c.layout, c.num_heads, scale,
                                        portable.data())
                    .ok());
    ASSERT_TRUE(PagedAttentionCpuOnPath(CpuAttentionPath::kAvx2, c.q.data(), c.k_cache.data(),
                                        c.v_cache.data(), c.Batch(), c.layout, c.num_heads, scale,
                                        avx2.data())
                    .ok());
    EXPECT_EQ(0, std::memcmp(portable.data(), avx2.data(), avx2.size() * 4))
        << "heads " << s.num_heads << "/" << s.num_kv_heads << " head_dim " << s.head_dim
        << " block_size " << k.block_size;
    EXPECT_LT(hearth::testing::RelL2(portable, testing::DenseReference(c, scale)), 1e-5);
  }
  // head_dim 12 is not a multiple of 8: the AVX2 path refuses, the default takes the other one.
  const PagedCase c = MakePagedCase(kMixed, 4, 2, 12, 37);
  std::vector<float> out(c.q.size());
  EXPECT_EQ(PagedAttentionCpuOnPath(CpuAttentionPath::kAvx2, c.q.data(), c.k_cache.data(),
                                    c.v_cache.data(), c.Batch(), c.layout, 4, 0.3f, out.data())
                .code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(SelectCpuAttentionPath(12, true), CpuAttentionPath::kScalar);
  EXPECT_EQ(SelectCpuAttentionPath(64, false), CpuAttentionPath::kScalar);
  EXPECT_LT(hearth::testing::RelL2(RunCpu(c, 0.3f), testing::DenseReference(c, 0.3f)), 1e-5);
}

// The softmax's own exponential: within 2 ulp of exp (in double) over [-87, 88], exact at 0,
// 0 below the range, inf above, NaN kept.
TEST(CpuAttention, ExpForSoftmaxIsAccurate) {
  double worst_ulp = 0;
  float worst_x = 0;
  for (float x = -87.f; x <= 88.f; x += 0.000731f) {
    const double want = std::exp(static_cast<double>(x));
    const float got = ExpForSoftmax(x);
    const double ulp = std::ldexp(1.0, std::ilogb(static_cast<float>(want)) - 23);
    const double err = std::abs(got - want) / ulp;
    if (err > worst_ulp) {
      worst_ulp = err;
      worst_x = x;
    }
  }
  EXPECT_LE(worst_ulp, 2.0) << "at x = " << worst_x;
  RecordProperty("worst_ulp", std::to_string(worst_ulp));
  EXPECT_EQ(ExpForSoftmax(0.f), 1.f);
  EXPECT_EQ(ExpForSoftmax(-0.f), 1.f);
  EXPECT_EQ(ExpForSoftmax(-87.5f), 0.f);
  EXPECT_EQ(ExpForSoftmax(-INFINITY), 0.f);
  EXPECT_EQ(ExpForSoftmax(88.5f), INFINITY);
  EXPECT_TRUE(std::isnan(ExpForSoftmax(NAN)));
}

// A NaN in one key's K row reaches the outputs of the queries that see that key, on both paths
// (the max skips it, its exponential does not).
TEST(CpuAttention, NanKeyIsNotHidden) {
  PagedCase c = MakePagedCase({{40, 1}}, 4, 2, 64, 41);
  // Key 20 of kv head 0: block table entry 1, offset 4.
  c.k_cache[c.layout.offset(c.block_tables[1], 0, 4) + 7] = NAN;
  for (const CpuAttentionPath path : {CpuAttentionPath::kScalar, CpuAttentionPath::kAvx2}) {
    if (path == CpuAttentionPath::kAvx2 &&
        SelectCpuAttentionPath(64, CpuHasAvx2F16c()) != CpuAttentionPath::kAvx2)
      continue;
    std::vector<float> out(c.q.size());
    ASSERT_TRUE(PagedAttentionCpuOnPath(path, c.q.data(), c.k_cache.data(), c.v_cache.data(),
                                        c.Batch(), c.layout, 4, 0.125f, out.data())
                    .ok());
    for (int h = 0; h < 4; ++h) {
      // Heads 0 and 1 read kv head 0 (NaN), heads 2 and 3 kv head 1 (finite).
      EXPECT_EQ(std::isnan(out[h * 64]), h < 2) << "head " << h;
    }
  }
}

TEST(CpuAttention, EmptyBatch) {
  const PagedCase c = MakePagedCase({}, 4, 4, 64, 1);
  float dummy = 0;
  EXPECT_TRUE(
      PagedAttentionCpu(nullptr, nullptr, nullptr, c.Batch(), c.layout, 4, 1.f, &dummy).ok());
}

TEST(CpuAttention, RejectsMalformedMetadata) {
  PagedCase c = MakePagedCase({{10, 3}, {40, 1}}, 4, 2, 64, 3);
  std::vector<float> out(c.q.size());
  auto run = [&](const PagedCase& x, int num_heads) {
    return PagedAttentionCpu(x.q.data(), x.k_cache.data(), x.v_cache.data(), x.Batch(), x.layout,
                             num_heads, 1.f, out.data());
  };
  EXPECT_TRUE(run(c, 4).ok());
  EXPECT_EQ(run(c, 5).code(), StatusCode::kInvalidArgument);  // 5 heads over 2 kv heads

  PagedCase bad_block = c;
  bad_block.block_tables[0] = static_cast<int32_t>(c.layout.num_blocks);
  EXPECT_EQ(run(bad_block, 4).code(), StatusCode::kOutOfRange);

  PagedCase unset_block = c;
  unset_block.block_tables[c.max_blocks_per_seq + 2] = -1;  // sequence 1 needs 3 blocks
  EXPECT_EQ(run(unset_block, 4).code(), StatusCode::kOutOfRange);

  PagedCase long_query = c;
  long_query.seq_lens[0] = 2;  // 3 query tokens cannot fit in 2
  EXPECT_EQ(run(long_query, 4).code(), StatusCode::kInvalidArgument);

  PagedCase bad_starts = c;
  bad_starts.query_start_loc[2] = c.num_tokens + 1;
  EXPECT_EQ(run(bad_starts, 4).code(), StatusCode::kInvalidArgument);

  PagedCase narrow = c;
  narrow.max_blocks_per_seq = 1;  // sequence 0 needs ceil(13/16) = 1 but sequence 1 needs 3
  EXPECT_EQ(run(narrow, 4).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hearth::attention
