#include <vector>

#include "kernels/core/half.h"
#include "kernels/embedding/embedding.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

TEST(EmbeddingCpu, LooksUpRowsOfEveryTableDtype) {
  const int64_t vocab = 11;
  const int hidden = 5;
  const auto values = testing::RandomVector(vocab * hidden, 1, -4.f, 4.f);
  std::vector<uint16_t> f16(values.size()), bf16(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    f16[i] = FloatToFp16(values[i]);
    bf16[i] = FloatToBf16(values[i]);
  }
  const std::vector<int32_t> ids = {3, 0, 10, 3};
  std::vector<float> out(ids.size() * hidden);
  ASSERT_TRUE(
      EmbeddingCpu(DType::kF32, values.data(), vocab, hidden, ids.data(), 4, out.data()).ok());
  for (int t = 0; t < 4; ++t)
    for (int i = 0; i < hidden; ++i) EXPECT_EQ(out[t * hidden + i], values[ids[t] * hidden + i]);
  ASSERT_TRUE(EmbeddingCpu(DType::kF16, f16.data(), vocab, hidden, ids.data(), 4, out.data()).ok());
  for (int t = 0; t < 4; ++t)
    for (int i = 0; i < hidden; ++i)
      EXPECT_EQ(out[t * hidden + i], Fp16ToFloat(f16[ids[t] * hidden + i]));
  ASSERT_TRUE(
      EmbeddingCpu(DType::kBF16, bf16.data(), vocab, hidden, ids.data(), 4, out.data()).ok());
  for (int t = 0; t < 4; ++t)
    for (int i = 0; i < hidden; ++i)
      EXPECT_EQ(out[t * hidden + i], Bf16ToFloat(bf16[ids[t] * hidden + i]));
}

TEST(EmbeddingCpu, RejectsBadIdsAndQuantizedTables) {
  std::vector<float> table(4 * 2, 1.f), out(2);
  const int32_t bad[] = {4}, neg[] = {-1};
  EXPECT_EQ(EmbeddingCpu(DType::kF32, table.data(), 4, 2, bad, 1, out.data()).code(),
            StatusCode::kOutOfRange);
  EXPECT_EQ(EmbeddingCpu(DType::kF32, table.data(), 4, 2, neg, 1, out.data()).code(),
            StatusCode::kOutOfRange);
  const int32_t ok[] = {1};
  EXPECT_EQ(EmbeddingCpu(DType::kQ4_K, table.data(), 4, 2, ok, 1, out.data()).code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(EmbeddingCpu(DType::kF32, nullptr, 4, 2, ok, 1, out.data()).code(),
            StatusCode::kInvalidArgument);
}

TEST(GatherRowsCpu, CopiesIndexedRowsAndRejectsBadIndices) {
  const auto x = testing::RandomVector(6 * 3, 2);
  const int32_t idx[] = {5, 0, 2};
  std::vector<float> out(9);
  ASSERT_TRUE(GatherRowsCpu(x.data(), 6, 3, idx, 3, out.data()).ok());
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 3; ++i) EXPECT_EQ(out[r * 3 + i], x[idx[r] * 3 + i]);
  const int32_t bad[] = {6};
  EXPECT_EQ(GatherRowsCpu(x.data(), 6, 3, bad, 1, out.data()).code(), StatusCode::kOutOfRange);
}

TEST(EmbeddingPath, NeedsBothSidesVectorizable) {
  alignas(16) static char buf[64];
  EXPECT_EQ(ChooseEmbeddingPath(DType::kF32, DType::kBF16, 4096, buf, buf), AccessPath::kVector16);
  EXPECT_EQ(ChooseEmbeddingPath(DType::kF32, DType::kBF16, 4, buf, buf), AccessPath::kScalar);
  EXPECT_EQ(ChooseEmbeddingPath(DType::kBF16, DType::kBF16, 769, buf, buf), AccessPath::kScalar);
  EXPECT_EQ(ChooseEmbeddingPath(DType::kBF16, DType::kBF16, 576, buf + 4, buf),
            AccessPath::kScalar);
}

}  // namespace
}  // namespace hearth
