// The CPU paged attention against a dense double-precision oracle (K/V gathered contiguous, full
// softmax), its batch invariance, and its errors on malformed metadata.
#include "kernels/attention/attention_cpu.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <vector>

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
