// MatmulCpuInt8 (8-bit activations) against a double-precision reference on the dequantized
// weights and the dequantized 8-bit x (the dequantizer is checked bit for bit against the gguf
// package by dequant_oracle_test, the quantizer is the GPU's), against MatmulCpu within x's 8-bit
// rounding, the AVX2 path against the portable one bit for bit, batch and thread invariance,
// non-finite activations, the fallback for other types and the mode's parsing.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/core/cpu_features.h"
#include "kernels/matmul/matmul.h"
#include "kernels/quant/dequant.h"
#include "tests/kernels/quant/random_blocks.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

constexpr DType kInt8Types[] = {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0,
                                DType::kQ5_1, DType::kQ2_K, DType::kQ3_K, DType::kQ4_K,
                                DType::kQ5_K, DType::kQ6_K};

std::vector<float> Int8(DType type, const std::vector<uint8_t>& w, const float* x,
                        const float* bias, int num_tokens, int n, int k) {
  std::vector<float> y(size_t(num_tokens) * n);
  std::memset(y.data(), testing::kPoisonByte, y.size() * 4);
  const Status s = MatmulCpuInt8(type, w.data(), x, bias, y.data(), num_tokens, n, k);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return y;
}

// Random bytes: fp16 scales that may be subnormal, huge, inf or NaN.
std::vector<uint8_t> RawBytes(size_t count, uint64_t state) {
  std::vector<uint8_t> w(count);
  for (uint8_t& b : w) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    b = static_cast<uint8_t>(state >> 56);
  }
  return w;
}

// Same bits, or both NaN (payloads are not part of the contract).
void ExpectSameBits(const std::vector<float>& got, const std::vector<float>& want,
                    const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i]) && std::isnan(want[i])) continue;
    uint32_t a, b;
    std::memcpy(&a, &got[i], 4);
    std::memcpy(&b, &want[i], 4);
    ASSERT_EQ(a, b) << what << " element " << i << ": " << got[i] << " vs " << want[i];
  }
}

// Activation blocks at the quantizer's edges (x of one token, k >= 8 * 32): rounding ties (a
// block whose max is 127, so v * 127 / amax == v: 2.5 -> 2, -3.5 -> -4, 0.5 -> 0), zeros,
// subnormals (whose inverse scale overflows: quants 0) and a block near FLT_MAX; all finite, so
// the token's outputs show every quant. (Non-finite blocks: the caller, in another token.)
void SpecialBlocks(float* x) {
  const float ties[] = {127.f, 2.5f, -3.5f, 0.5f, -0.5f, 1.5f, -2.5f, 126.5f};
  for (int i = 0; i < 32; ++i) x[i] = ties[i % 8] * (i % 3 == 2 ? -1.f : 1.f);
  for (int i = 32; i < 64; ++i) x[i] = 0.f;
  for (int i = 64; i < 96; ++i) x[i] = (i % 2 ? 1e-45f : -3e-39f) * static_cast<float>(i % 5);
  for (int i = 96; i < 128; ++i) x[i] = (i % 2 ? 3e38f : -1e38f) / static_cast<float>(1 + i % 7);
}

class MatmulCpuInt8Test : public ::testing::TestWithParam<DType> {};

TEST_P(MatmulCpuInt8Test, MatchesDoubleReferenceOnTheQuantizedActivations) {
  const DType type = GetParam();
  for (const auto& [n, k] : {std::pair{37, 256}, std::pair{769, 512}, std::pair{64, 4096}}) {
    const int num_tokens = 5;
    const auto w = testing::RandomWeights(type, int64_t{n} * k, 11);
    std::vector<float> wf(size_t(n) * k);
    ASSERT_TRUE(DequantizeCpu(type, w.data(), wf.data(), wf.size()).ok());
    const auto x = testing::RandomVector(size_t(num_tokens) * k, 12);
    std::vector<float> xq = x;
    QuantizeActivationsQ8Cpu(xq.data(), num_tokens, k);  // d * q, as the kernel sees x
    const auto bias = testing::RandomVector(n, 13);
    const auto y = Int8(type, w, x.data(), bias.data(), num_tokens, n, k);
    std::vector<float> ref(y.size()), ref_float(y.size());
    for (int t = 0; t < num_tokens; ++t) {
      for (int r = 0; r < n; ++r) {
        double acc = bias[r], acc_float = bias[r];
        for (int i = 0; i < k; ++i) {
          acc += double{wf[size_t(r) * k + i]} * xq[size_t(t) * k + i];
          acc_float += double{wf[size_t(r) * k + i]} * x[size_t(t) * k + i];
        }
        ref[size_t(t) * n + r] = static_cast<float>(acc);
        ref_float[size_t(t) * n + r] = static_cast<float>(acc_float);
      }
    }
    // Only float32 rounding remains against the quantized x (a wrong quant, scale or min would
    // be off by far more); against the float x, its 8-bit rounding.
    EXPECT_LT(testing::RelL2(y, ref), 1e-5) << DTypeName(type) << " n=" << n << " k=" << k;
    const double err_float = testing::RelL2(y, ref_float);
    EXPECT_LT(err_float, 1.5e-2) << DTypeName(type) << " n=" << n << " k=" << k;
    EXPECT_GT(err_float, 1e-4) << "x was not quantized?";
  }
}

TEST_P(MatmulCpuInt8Test, Avx2GivesThePortableBits) {
  const DType type = GetParam();
  if (!CpuHasAvx2F16c()) GTEST_SKIP() << "no AVX2";
  const int n = 37, k = 512;
  for (const bool well_formed : {true, false}) {
    const auto w = well_formed ? testing::RandomWeights(type, int64_t{n} * k, 41)
                               : RawBytes(*DTypeBytes(type, k) * n, 44);
    const auto bias = testing::RandomVector(n, 43);
    for (const int num_tokens : {1, 2, 3, 7, 17}) {
      auto x_storage = testing::RandomVector(size_t(num_tokens) * k + 1, 42);
      float* x = x_storage.data() + 1;  // 4 bytes past malloc's alignment
      if (num_tokens == 7) {  // the quantizer's edge cases: token 3 finite, token 5 not
        SpecialBlocks(x + 3 * k);
        x[5 * k + 130] = std::numeric_limits<float>::infinity();
        x[5 * k + 200] = std::numeric_limits<float>::quiet_NaN();
      }
      std::vector<float> portable(size_t(num_tokens) * n), avx2(portable.size());
      std::memset(avx2.data(), testing::kPoisonByte, avx2.size() * 4);
      ASSERT_TRUE(MatmulCpuInt8OnPath(false, type, w.data(), x, bias.data(), portable.data(),
                                      num_tokens, n, k)
                      .ok());
      ASSERT_TRUE(
          MatmulCpuInt8OnPath(true, type, w.data(), x, bias.data(), avx2.data(), num_tokens, n, k)
              .ok());
      ExpectSameBits(avx2, portable,
                     std::string(DTypeName(type)) + (well_formed ? "" : " (raw bytes)") +
                         " num_tokens=" + std::to_string(num_tokens));
    }
  }
}

TEST_P(MatmulCpuInt8Test, BatchAndThreadInvariant) {
  const DType type = GetParam();
  const int n = 769, k = 512, num_tokens = 20;  // two token blocks of the tile loop
  const auto w = testing::RandomWeights(type, int64_t{n} * k, 21);
  const auto x = testing::RandomVector(size_t(num_tokens) * k, 22);
  const auto batch = Int8(type, w, x.data(), nullptr, num_tokens, n, k);
  const int saved_threads = omp_get_max_threads();
  for (int threads : {1, 3}) {
    omp_set_num_threads(threads);
    for (int t = 0; t < num_tokens; t += 3) {
      const auto single = Int8(type, w, x.data() + size_t(t) * k, nullptr, 1, n, k);
      ASSERT_EQ(std::memcmp(single.data(), batch.data() + size_t(t) * n, size_t(n) * 4), 0)
          << DTypeName(type) << " token " << t << " threads " << threads;
    }
  }
  omp_set_num_threads(saved_threads);
}

// inf or NaN in a token's x makes that token's outputs NaN (never a finite number that hides
// it); the other tokens are unaffected.
TEST_P(MatmulCpuInt8Test, NonFiniteActivationsGiveNan) {
  const DType type = GetParam();
  const int n = 9, k = 256, num_tokens = 3;
  const auto w = testing::RandomWeights(type, int64_t{n} * k, 31);
  for (const float bad :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    auto x = testing::RandomVector(size_t(num_tokens) * k, 32);
    x[size_t(1) * k + 100] = bad;
    const auto y = Int8(type, w, x.data(), nullptr, num_tokens, n, k);
    const auto first = Int8(type, w, x.data(), nullptr, 1, n, k);
    for (int r = 0; r < n; ++r) {
      EXPECT_TRUE(std::isnan(y[size_t(n) + r])) << DTypeName(type) << " row " << r;
      EXPECT_EQ(y[r], first[r]);
      EXPECT_TRUE(std::isfinite(y[size_t(2) * n + r]));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Int8Types, MatmulCpuInt8Test, ::testing::ValuesIn(kInt8Types),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

TEST(MatmulCpuInt8, OtherTypesRunTheFloatPath) {
  const int n = 33, k = 256, num_tokens = 2;
  for (const DType type : {DType::kF32, DType::kF16, DType::kBF16}) {
    EXPECT_FALSE(HasCpuInt8Matmul(type));
    const auto w = testing::RandomWeights(type, int64_t{n} * k, 61);
    const auto x = testing::RandomVector(size_t(num_tokens) * k, 62);
    std::vector<float> want(size_t(num_tokens) * n);
    ASSERT_TRUE(MatmulCpu(type, w.data(), x.data(), nullptr, want.data(), num_tokens, n, k).ok());
    const auto got = Int8(type, w, x.data(), nullptr, num_tokens, n, k);
    EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0) << DTypeName(type);
    std::vector<float> y(want.size());
    EXPECT_EQ(
        MatmulCpuInt8OnPath(false, type, w.data(), x.data(), nullptr, y.data(), num_tokens, n, k)
            .code(),
        StatusCode::kUnimplemented);
  }
}

TEST(MatmulCpuInt8, RejectsBadArguments) {
  const auto w = testing::RandomWeights(DType::kQ4_K, 256, 71);
  std::vector<float> x(300), y(4);
  EXPECT_EQ(MatmulCpuInt8(DType::kQ4_K, w.data(), x.data(), nullptr, y.data(), 1, 1, 300).code(),
            StatusCode::kInvalidArgument);  // k not a whole number of blocks
  EXPECT_EQ(MatmulCpuInt8(DType::kQ4_K, w.data(), x.data(), nullptr, y.data(), -1, 1, 256).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MatmulCpuInt8(DType::kQ4_K, nullptr, x.data(), nullptr, y.data(), 1, 1, 256).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(MatmulCpuInt8(DType::kQ4_K, nullptr, nullptr, nullptr, nullptr, 0, 1, 256).ok());
}

TEST(CpuMatmulModeTest, Parses) {
  EXPECT_EQ(*ParseCpuMatmulMode(""), CpuMatmulMode::kF32);
  EXPECT_EQ(*ParseCpuMatmulMode("f32"), CpuMatmulMode::kF32);
  EXPECT_EQ(*ParseCpuMatmulMode("float32"), CpuMatmulMode::kF32);
  EXPECT_EQ(*ParseCpuMatmulMode("int8"), CpuMatmulMode::kInt8);
  const auto bad = ParseCpuMatmulMode("int4");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("int8"), std::string::npos);
  EXPECT_EQ(CpuMatmulModeName(CpuMatmulMode::kInt8), "int8");
  EXPECT_EQ(CpuMatmulModeName(CpuMatmulMode::kF32), "f32");
}

}  // namespace
}  // namespace hearth
