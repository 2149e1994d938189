#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "kernels/rope/rope.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

using testing::RandomVector;
using testing::RelL2;

// RoPE straight from the formula, in double: pair i of each head turns by pos * theta^(-2i/d).
void RefRope(RopeStyle style, int d, double theta, const std::vector<int32_t>& pos,
             std::vector<float>& x, int64_t stride, int heads) {
  for (size_t t = 0; t < pos.size(); ++t)
    for (int h = 0; h < heads; ++h) {
      float* v = x.data() + t * stride + h * d;
      for (int i = 0; i < d / 2; ++i) {
        const double ang = pos[t] * std::pow(theta, -2.0 * i / d);
        const int ia = style == RopeStyle::kHalves ? i : 2 * i;
        const int ib = style == RopeStyle::kHalves ? i + d / 2 : 2 * i + 1;
        const double a = v[ia], b = v[ib];
        v[ia] = float(a * std::cos(ang) - b * std::sin(ang));
        v[ib] = float(a * std::sin(ang) + b * std::cos(ang));
      }
    }
}

TEST(RopeInvFreq, PlainMatchesFormula) {
  auto f =
      RopeInvFreq({.head_dim = 128, .theta = 500000.f, .style = RopeStyle::kHalves, .scaling = {}});
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(f->size(), 64u);
  for (int i = 0; i < 64; ++i)
    EXPECT_FLOAT_EQ((*f)[i], float(std::pow(500000.0, -2.0 * i / 128))) << i;
}

TEST(RopeInvFreq, Llama3ScalingKeepsHighAndDividesLowFrequencies) {
  const RopeScaling s{RopeScalingType::kLlama3, 8.0, 1.0, 4.0, 8192};
  auto f = RopeInvFreq({.head_dim = 128, .theta = 500000.f, .scaling = s});
  ASSERT_TRUE(f.ok());
  for (int i = 0; i < 64; ++i) {
    const double base = std::pow(500000.0, -2.0 * i / 128);
    const double wavelen = 2 * std::numbers::pi / base;
    if (wavelen < 8192.0 / 4) {
      EXPECT_FLOAT_EQ((*f)[i], float(base)) << i;
    } else if (wavelen > 8192.0 / 1) {
      EXPECT_FLOAT_EQ((*f)[i], float(base / 8)) << i;
    } else {  // smooth: between base/8 and base
      const double smooth = (8192.0 / wavelen - 1) / (4 - 1);
      EXPECT_FLOAT_EQ((*f)[i], float((1 - smooth) * base / 8 + smooth * base)) << i;
      EXPECT_LT((*f)[i], base);
      EXPECT_GT((*f)[i], base / 8);
    }
  }
  // Llama 3.1 with these parameters has all three bands.
  EXPECT_FLOAT_EQ((*f)[0], 1.f);
  EXPECT_FLOAT_EQ((*f)[63], float(std::pow(500000.0, -126.0 / 128) / 8));
  auto lin =
      RopeInvFreq({.head_dim = 64, .theta = 10000.f, .scaling = {RopeScalingType::kLinear, 4.0}});
  ASSERT_TRUE(lin.ok());
  EXPECT_FLOAT_EQ((*lin)[5], float(std::pow(10000.0, -10.0 / 64) / 4));
}

TEST(RopeInvFreq, RejectsBadConfigs) {
  EXPECT_FALSE(RopeInvFreq({.head_dim = 63, .style = RopeStyle::kHalves, .scaling = {}}).ok());
  EXPECT_FALSE(
      RopeInvFreq({.head_dim = 64, .theta = 0.f, .style = RopeStyle::kHalves, .scaling = {}}).ok());
  EXPECT_FALSE(
      RopeInvFreq({.head_dim = 64, .scaling = {RopeScalingType::kLlama3, 8.0, 4.0, 1.0, 8192}})
          .ok());
}

TEST(RopeInvFreq, DividesByGgufFrequencyFactors) {
  const auto plain = RopeInvFreq({.head_dim = 8, .theta = 10000.f});
  ASSERT_TRUE(plain.ok());
  ASSERT_EQ(plain->size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_FLOAT_EQ((*plain)[i], static_cast<float>(std::pow(10000.0, -2.0 * i / 8)));
  }
  const float factors[4] = {1.f, 2.f, 4.f, 8.f};
  RopeConfig c{.head_dim = 8, .theta = 10000.f};
  c.scaling.type = RopeScalingType::kFreqFactors;
  c.freq_factors = factors;
  const auto scaled = RopeInvFreq(c);
  ASSERT_TRUE(scaled.ok());
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ((*scaled)[i], (*plain)[i] / factors[i]);
  const float zero[4] = {1.f, 0.f, 1.f, 1.f};
  c.freq_factors = zero;
  EXPECT_EQ(RopeInvFreq(c).status().code(), StatusCode::kInvalidArgument);
  c.freq_factors = nullptr;
  EXPECT_EQ(RopeInvFreq(c).status().code(), StatusCode::kInvalidArgument);
}

class RopeCpuStyleTest : public ::testing::TestWithParam<RopeStyle> {};

TEST_P(RopeCpuStyleTest, MatchesDoubleFormula) {
  const RopeStyle style = GetParam();
  for (int d : {64, 128, 96}) {
    const int heads = 3, kv_heads = 1;
    const int64_t tokens = 9, stride = (heads + 2 * kv_heads) * d;
    std::vector<int32_t> pos(tokens);
    for (int64_t t = 0; t < tokens; ++t) pos[t] = int32_t(t * 37);  // small: tight bound
    auto q = RandomVector(tokens * stride, d), k = q;
    auto rq = q, rk = k;
    auto f =
        RopeInvFreq({.head_dim = d, .theta = 10000.f, .style = RopeStyle::kHalves, .scaling = {}});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(RopeCpu(style, d, f->data(), pos.data(), tokens, q.data(), stride, heads,
                        k.data() + heads * d, stride, kv_heads)
                    .ok());
    RefRope(style, d, 10000.0, pos, rq, stride, heads);
    std::vector<float> rk_view(rk.begin() + heads * d, rk.end());
    RefRope(style, d, 10000.0, pos, rk_view, stride, kv_heads);
    std::copy(rk_view.begin(), rk_view.end(), rk.begin() + heads * d);
    EXPECT_LT(RelL2(q, rq), 2e-6) << d;
    // k: only its kv head changed; q's columns of the k buffer are untouched.
    for (int64_t t = 0; t < tokens; ++t)
      for (int i = 0; i < heads * d; ++i) ASSERT_EQ(k[t * stride + i], rk[t * stride + i]);
    EXPECT_LT(RelL2(k, rk), 2e-6) << d;
  }
}

TEST_P(RopeCpuStyleTest, LargePositionsStayWithinFloatAngleError) {
  const RopeStyle style = GetParam();
  const int d = 128;
  std::vector<int32_t> pos = {0, 1, 4095, 8191, 32767, 131071};
  auto q = RandomVector(pos.size() * d, 3), rq = q;
  auto f =
      RopeInvFreq({.head_dim = d, .theta = 500000.f, .style = RopeStyle::kHalves, .scaling = {}});
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(
      RopeCpu(style, d, f->data(), pos.data(), pos.size(), q.data(), d, 1, nullptr, 0, 0).ok());
  RefRope(style, d, 500000.0, pos, rq, d, 1);
  // float angles: error ~ pos * 2^-24 rad for the fastest pair.
  EXPECT_LT(RelL2(q, rq), 1e-2);
}

TEST_P(RopeCpuStyleTest, QkNormRopeEqualsPerHeadRmsNormThenRope) {
  const RopeStyle style = GetParam();
  const int d = 128, heads = 4, kv_heads = 2;
  const int64_t tokens = 5;
  std::vector<int32_t> pos = {0, 3, 100, 2047, 5};
  auto q = RandomVector(tokens * heads * d, 7, -4.f, 4.f);
  auto k = RandomVector(tokens * kv_heads * d, 8, -4.f, 4.f);
  const auto qw = RandomVector(d, 9, 0.5f, 1.5f), kw = RandomVector(d, 10, 0.5f, 1.5f);
  auto rq = q, rk = k;
  auto norm = [&](std::vector<float>& x, const std::vector<float>& w) {
    for (size_t h = 0; h < x.size() / d; ++h) {
      double ss = 0;
      for (int i = 0; i < d; ++i) ss += double(x[h * d + i]) * x[h * d + i];
      const double inv = 1 / std::sqrt(ss / d + 1e-6);
      for (int i = 0; i < d; ++i) x[h * d + i] = float(x[h * d + i] * inv * w[i]);
    }
  };
  norm(rq, qw);
  norm(rk, kw);
  RefRope(style, d, 1e6, pos, rq, heads * d, heads);
  RefRope(style, d, 1e6, pos, rk, kv_heads * d, kv_heads);
  auto f = RopeInvFreq({.head_dim = d, .theta = 1e6f, .style = RopeStyle::kHalves, .scaling = {}});
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(QkNormRopeCpu(style, d, f->data(), pos.data(), tokens, q.data(), heads * d, heads,
                            k.data(), kv_heads * d, kv_heads, qw.data(), kw.data(), 1e-6f)
                  .ok());
  EXPECT_LT(RelL2(q, rq), 1e-5);
  EXPECT_LT(RelL2(k, rk), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Styles, RopeCpuStyleTest,
                         ::testing::Values(RopeStyle::kAdjacentPairs, RopeStyle::kHalves));

TEST(RopeCpu, AdjacentStyleIsHalvesStyleUnderInterleaving) {
  const int d = 64;
  const auto x = RandomVector(d, 5);
  std::vector<float> interleaved(d);
  for (int i = 0; i < d / 2; ++i) {
    interleaved[2 * i] = x[i];
    interleaved[2 * i + 1] = x[i + d / 2];
  }
  auto f =
      RopeInvFreq({.head_dim = d, .theta = 10000.f, .style = RopeStyle::kHalves, .scaling = {}});
  ASSERT_TRUE(f.ok());
  const int32_t pos[] = {1234};
  auto halves = x;
  ASSERT_TRUE(
      RopeCpu(RopeStyle::kHalves, d, f->data(), pos, 1, halves.data(), d, 1, nullptr, 0, 0).ok());
  ASSERT_TRUE(RopeCpu(RopeStyle::kAdjacentPairs, d, f->data(), pos, 1, interleaved.data(), d, 1,
                      nullptr, 0, 0)
                  .ok());
  for (int i = 0; i < d / 2; ++i) {
    EXPECT_EQ(interleaved[2 * i], halves[i]);
    EXPECT_EQ(interleaved[2 * i + 1], halves[i + d / 2]);
  }
}

TEST(RopeCpu, RejectsBadShapes) {
  float x[8] = {};
  const float f[4] = {};
  const int32_t pos[1] = {0};
  EXPECT_EQ(RopeCpu(RopeStyle::kHalves, 7, f, pos, 1, x, 8, 1, x, 8, 1).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(RopeCpu(RopeStyle::kHalves, 8, f, pos, 1, x, 4, 1, x, 8, 1).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(RopeCpu(RopeStyle::kHalves, 8, nullptr, pos, 1, x, 8, 1, x, 8, 1).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      QkNormRopeCpu(RopeStyle::kHalves, 8, f, pos, 1, x, 8, 1, x, 8, 1, nullptr, f, 1e-6f).code(),
      StatusCode::kInvalidArgument);
}

TEST(RopePath, VectorOnlyWhenAlignedWithWholeVectorStrides) {
  alignas(16) static char buf[64];
  EXPECT_EQ(ChooseRopePath(DType::kBF16, buf, 6144, buf + 16, 6144), AccessPath::kVector16);
  EXPECT_EQ(ChooseRopePath(DType::kBF16, buf, 6145, buf + 16, 6145), AccessPath::kScalar);
  EXPECT_EQ(ChooseRopePath(DType::kF32, buf, 6145, buf, 6144), AccessPath::kScalar);
  EXPECT_EQ(ChooseRopePath(DType::kF32, buf, 6148, buf, 6148), AccessPath::kVector16);
  EXPECT_EQ(ChooseRopePath(DType::kBF16, buf + 2, 6144, buf, 6144), AccessPath::kScalar);
  EXPECT_EQ(ChooseRopePath(DType::kBF16, buf, 6144, nullptr, 0), AccessPath::kVector16);
}

TEST(RopeVecThreads, GroupsTileWarpsAndCoverAllHeads) {
  EXPECT_EQ(RopeVecThreads(128, 2, 40), 320);  // llama3 8B bf16: 8 threads per head
  EXPECT_EQ(RopeVecThreads(128, 4, 40), 512);  // f32: 16 per head, 32 heads a round
  EXPECT_EQ(RopeVecThreads(64, 2, 12), 64);    // smollm2: 4 per head, 48 rounded up
  EXPECT_EQ(RopeVecThreads(256, 4, 12), 384);  // 32 per head
  EXPECT_EQ(RopeVecThreads(64, 2, 1), 32);
  for (int hd : {64, 128, 256})
    for (int eb : {2, 4})
      for (int heads : {1, 3, 12, 40, 100}) {
        const int t = RopeVecThreads(hd, eb, heads), group = hd / 2 / (16 / eb);
        EXPECT_EQ(t % 32, 0);
        EXPECT_EQ(t % group, 0);
        EXPECT_LE(t, 512);
        EXPECT_GE(t / group, std::min(heads, 512 / group));
      }
}

TEST(RopeGpuSupport, KernelByHeadDimAndPath) {
  for (int hd : {64, 128, 256}) {
    EXPECT_EQ(SelectRopeGpuKernel(hd, AccessPath::kVector16), RopeGpuKernel::kVector) << hd;
    EXPECT_EQ(SelectRopeGpuKernel(hd, AccessPath::kScalar), RopeGpuKernel::kWarpPerHead) << hd;
  }
  // stories260K (8), the tiny HF models (16, 32), other even sizes: the thread-per-head kernel
  // whatever the alignment.
  for (int hd : {2, 8, 16, 32, 80, 96, 254}) {
    for (AccessPath path : {AccessPath::kVector16, AccessPath::kScalar}) {
      EXPECT_EQ(SelectRopeGpuKernel(hd, path), RopeGpuKernel::kThreadPerHead) << hd;
    }
  }
  for (int hd : {-2, 0, 7, 63, 258, 512}) {
    EXPECT_EQ(SelectRopeGpuKernel(hd, AccessPath::kScalar), RopeGpuKernel::kUnsupported) << hd;
  }
  EXPECT_STREQ(RopeGpuKernelName(RopeGpuKernel::kThreadPerHead), "thread_per_head");
}

}  // namespace
}  // namespace hearth
