#include <cmath>
#include <vector>

#include "kernels/activation/silu_mul.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

using testing::RandomVector;
using testing::RelL2;

TEST(SiluMulCpu, ConcatMatchesDoubleReference) {
  for (int ffn : {1, 769, 1536}) {
    const int64_t tokens = 7;
    const auto x = RandomVector(tokens * 2 * ffn, ffn, -6.f, 6.f);
    std::vector<float> out(tokens * ffn, NAN), ref(tokens * ffn);
    for (int64_t t = 0; t < tokens; ++t)
      for (int i = 0; i < ffn; ++i) {
        const double g = x[t * 2 * ffn + i], u = x[t * 2 * ffn + ffn + i];
        ref[t * ffn + i] = float(g / (1.0 + std::exp(-g)) * u);
      }
    ASSERT_TRUE(SiluMulConcatCpu(x.data(), out.data(), tokens, ffn).ok());
    EXPECT_LT(RelL2(out, ref), 1e-6) << ffn;
  }
}

TEST(SiluMulCpu, SeparatePointersEqualConcat) {
  const int64_t tokens = 5;
  const int ffn = 96;
  const auto x = RandomVector(tokens * 2 * ffn, 9);
  std::vector<float> g(tokens * ffn), u(tokens * ffn), a(tokens * ffn), b(tokens * ffn);
  for (int64_t t = 0; t < tokens; ++t)
    for (int i = 0; i < ffn; ++i) {
      g[t * ffn + i] = x[t * 2 * ffn + i];
      u[t * ffn + i] = x[t * 2 * ffn + ffn + i];
    }
  ASSERT_TRUE(SiluMulConcatCpu(x.data(), a.data(), tokens, ffn).ok());
  ASSERT_TRUE(SiluMulCpu(g.data(), ffn, u.data(), ffn, b.data(), tokens, ffn).ok());
  EXPECT_EQ(a, b);
}

TEST(SiluMulCpu, KnownValuesAndBadShapes) {
  const float gate_up[4] = {0.f, 2.f, 5.f, 3.f};  // gate {0, 2}, up {5, 3}
  float out[2];
  ASSERT_TRUE(SiluMulConcatCpu(gate_up, out, 1, 2).ok());
  EXPECT_FLOAT_EQ(out[0], 0.f);
  EXPECT_NEAR(out[1], 2.0 / (1.0 + std::exp(-2.0)) * 3.0, 1e-6);
  EXPECT_EQ(SiluMulCpu(gate_up, 1, gate_up, 2, out, 1, 2).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SiluMulConcatCpu(nullptr, out, 1, 2).code(), StatusCode::kInvalidArgument);
}

TEST(SiluMulPath, ConcatOfOddFfnIsScalar) {
  alignas(16) static char buf[64];
  EXPECT_EQ(ChooseSiluMulPath(DType::kBF16, 1536, 3072, 3072, buf, buf, buf),
            AccessPath::kVector16);
  EXPECT_EQ(ChooseSiluMulPath(DType::kBF16, 769, 1538, 1538, buf, buf, buf), AccessPath::kScalar);
  EXPECT_EQ(ChooseSiluMulPath(DType::kBF16, 1536, 3076, 3076, buf, buf, buf), AccessPath::kScalar);
}

}  // namespace
}  // namespace hearth
