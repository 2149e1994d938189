#include <cmath>
#include <vector>

#include "kernels/norm/rms_norm.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

using testing::RandomVector;
using testing::RelL2;

// Straightforward double-precision RMSNorm.
std::vector<float> RefRmsNorm(const std::vector<float>& x, const std::vector<float>& w,
                              int64_t num_tokens, int hidden, double eps) {
  std::vector<float> out(x.size());
  for (int64_t t = 0; t < num_tokens; ++t) {
    double ss = 0;
    for (int i = 0; i < hidden; ++i) ss += double(x[t * hidden + i]) * x[t * hidden + i];
    const double inv = 1.0 / std::sqrt(ss / hidden + eps);
    for (int i = 0; i < hidden; ++i) out[t * hidden + i] = float(x[t * hidden + i] * inv * w[i]);
  }
  return out;
}

TEST(RmsNormCpu, MatchesDoubleReference) {
  for (int hidden : {1, 7, 576, 769, 4096, 5125}) {
    for (int64_t tokens : {1, 7, 64}) {
      const auto x = RandomVector(tokens * hidden, 1 + hidden, -3.f, 3.f);
      const auto w = RandomVector(hidden, 2, 0.5f, 1.5f);
      std::vector<float> out(x.size(), NAN);
      ASSERT_TRUE(RmsNormCpu(x.data(), w.data(), out.data(), tokens, hidden, 1e-6f).ok());
      EXPECT_LT(RelL2(out, RefRmsNorm(x, w, tokens, hidden, 1e-6)), 1e-6)
          << tokens << " x " << hidden;
    }
  }
}

TEST(RmsNormCpu, InPlaceAndEpsDominatedZeroRow) {
  std::vector<float> x(64, 0.f), w(64, 1.f);
  ASSERT_TRUE(RmsNormCpu(x.data(), w.data(), x.data(), 1, 64, 1e-5f).ok());
  for (float v : x) EXPECT_EQ(v, 0.f);
}

TEST(FusedAddRmsNormCpu, UpdatesResidualAndNormalizesSum) {
  const int64_t tokens = 7;
  for (int hidden : {576, 769, 2048}) {
    const auto x = RandomVector(tokens * hidden, 3);
    auto residual = RandomVector(tokens * hidden, 4);
    const auto w = RandomVector(hidden, 5, 0.5f, 1.5f);
    std::vector<float> sum(x.size());
    for (size_t i = 0; i < x.size(); ++i) sum[i] = x[i] + residual[i];
    std::vector<float> out(x.size(), NAN);
    ASSERT_TRUE(
        FusedAddRmsNormCpu(x.data(), residual.data(), w.data(), out.data(), tokens, hidden, 1e-6f)
            .ok());
    EXPECT_EQ(RelL2(residual, sum), 0.0);
    EXPECT_LT(RelL2(out, RefRmsNorm(sum, w, tokens, hidden, 1e-6)), 1e-6);
  }
}

TEST(RmsNormCpu, RejectsBadShapes) {
  float v = 0;
  EXPECT_EQ(RmsNormCpu(&v, &v, &v, 1, 0, 1e-6f).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RmsNormCpu(&v, &v, &v, -1, 4, 1e-6f).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RmsNormCpu(nullptr, &v, &v, 1, 4, 1e-6f).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FusedAddRmsNormCpu(&v, nullptr, &v, &v, 1, 4, 1e-6f).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(RmsNormCpu(nullptr, nullptr, nullptr, 0, 4, 1e-6f).ok());
}

TEST(RmsNormPath, VectorOnlyWhenAlignedAndWholeVectors) {
  alignas(16) static char buf[64];
  EXPECT_EQ(ChooseRmsNormPath(DType::kBF16, 4096, buf, nullptr, buf), AccessPath::kVector16);
  EXPECT_EQ(ChooseRmsNormPath(DType::kBF16, 769, buf, nullptr, buf), AccessPath::kScalar);
  EXPECT_EQ(ChooseRmsNormPath(DType::kBF16, 4100, buf, nullptr, buf), AccessPath::kScalar);
  EXPECT_EQ(ChooseRmsNormPath(DType::kF32, 4100, buf, nullptr, buf), AccessPath::kVector16);
  EXPECT_EQ(ChooseRmsNormPath(DType::kBF16, 4096, buf + 2, nullptr, buf), AccessPath::kScalar);
  EXPECT_EQ(ChooseRmsNormPath(DType::kF16, 4096, buf, buf + 8, buf), AccessPath::kScalar);
}

TEST(RmsNormRegisterVecs, CachesWholeRowsUpToFourVectorsPerThread) {
  EXPECT_EQ(RmsNormRegisterVecs(72, RowThreads(72)), 1);      // 576 bf16
  EXPECT_EQ(RmsNormRegisterVecs(512, RowThreads(512)), 2);    // 4096 bf16
  EXPECT_EQ(RmsNormRegisterVecs(640, RowThreads(640)), 4);    // 5120 bf16: 2.5 per thread
  EXPECT_EQ(RmsNormRegisterVecs(1024, RowThreads(1024)), 4);  // 8192 bf16
  EXPECT_EQ(RmsNormRegisterVecs(3072, RowThreads(3072)), 4);  // scalar 3072
  EXPECT_EQ(RmsNormRegisterVecs(5125, RowThreads(5125)), 0);  // scalar 5125: two passes
  EXPECT_EQ(RmsNormRegisterVecs(9001, RowThreads(9001)), 0);  // scalar 9001: two passes
  EXPECT_EQ(RmsNormRegisterVecs(4096, 1024), 4);
  EXPECT_EQ(RmsNormRegisterVecs(4097, 1024), 0);
}

TEST(RowThreads, MultipleOf32WithinLimits) {
  for (int64_t n : {1, 31, 72, 256, 257, 512, 1024, 4096, 100000}) {
    const int t = RowThreads(n);
    EXPECT_EQ(t % 32, 0) << n;
    EXPECT_GE(t, 32);
    EXPECT_LE(t, 1024);
  }
  EXPECT_EQ(RowThreads(72), 96);    // 576 bf16 = 72 vectors: one per thread
  EXPECT_EQ(RowThreads(512), 256);  // 4096 bf16 = 512 vectors: two per thread
  EXPECT_EQ(RowThreads(8192), 1024);
}

}  // namespace
}  // namespace hearth
