// MatmulCpu against a double-precision reference on the dequantized weights (the dequantizer is
// checked bit-exact against the gguf package by dequant_oracle_test), plus batch and thread-count
// invariance, every code path against the scalar one bit for bit, the path choice and the error
// paths.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "kernels/core/cpu_features.h"
#include "kernels/matmul/gemv_direct.h"
#include "kernels/matmul/matmul.h"
#include "kernels/matmul/matmul_cpu_avx2.h"
#include "kernels/matmul/quant_mma.h"
#include "kernels/quant/dequant.h"
#include "tests/kernels/matmul/matmul_cases.h"
#include "tests/kernels/quant/random_blocks.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

std::vector<double> ReferenceMatmul(const std::vector<float>& wf, const std::vector<float>& x,
                                    const float* bias, int num_tokens, int n, int k) {
  std::vector<double> y(static_cast<size_t>(num_tokens) * n);
  for (int t = 0; t < num_tokens; ++t) {
    for (int r = 0; r < n; ++r) {
      double acc = bias ? bias[r] : 0.0;
      for (int i = 0; i < k; ++i)
        acc += static_cast<double>(wf[size_t(r) * k + i]) * x[size_t(t) * k + i];
      y[size_t(t) * n + r] = acc;
    }
  }
  return y;
}

class MatmulCpuTest : public ::testing::TestWithParam<DType> {};

TEST_P(MatmulCpuTest, MatchesDoubleReference) {
  const DType type = GetParam();
  for (const auto& shape : testing::kMatmulTestShapes) {
    const int n = shape.n, k = shape.k, num_tokens = 5;
    const auto w = testing::RandomWeights(type, int64_t{n} * k, 11);
    std::vector<float> wf(size_t(n) * k);
    ASSERT_TRUE(DequantizeCpu(type, w.data(), wf.data(), wf.size()).ok());
    const auto x = testing::RandomVector(size_t(num_tokens) * k, 12);
    const auto bias = testing::RandomVector(n, 13);
    for (const float* b : {static_cast<const float*>(nullptr), bias.data()}) {
      std::vector<float> y(size_t(num_tokens) * n);
      std::memset(y.data(), testing::kPoisonByte, y.size() * 4);
      const Status s = MatmulCpu(type, w.data(), x.data(), b, y.data(), num_tokens, n, k);
      ASSERT_TRUE(s.ok()) << s.ToString();
      const auto ref = ReferenceMatmul(wf, x, b, num_tokens, n, k);
      std::vector<float> reff(ref.begin(), ref.end());
      // Only float32 accumulation error remains (the weights are the same dequantized values):
      // ~sqrt(k) * 2^-24 relative.
      const double err = testing::RelL2(y, reff);
      EXPECT_LT(err, 2e-6) << DTypeName(type) << " n=" << n << " k=" << k
                           << " bias=" << (b != nullptr);
    }
  }
}

TEST_P(MatmulCpuTest, BatchAndThreadInvariant) {
  const DType type = GetParam();
  const int n = 769, k = 512, num_tokens = 7;
  const auto w = testing::RandomWeights(type, int64_t{n} * k, 21);
  const auto x = testing::RandomVector(size_t(num_tokens) * k, 22);
  std::vector<float> batch(size_t(num_tokens) * n);
  ASSERT_TRUE(MatmulCpu(type, w.data(), x.data(), nullptr, batch.data(), num_tokens, n, k).ok());
  const int saved_threads = omp_get_max_threads();
  for (int threads : {1, 3}) {
    omp_set_num_threads(threads);
    for (int t = 0; t < num_tokens; ++t) {
      std::vector<float> single(n);
      ASSERT_TRUE(
          MatmulCpu(type, w.data(), x.data() + size_t(t) * k, nullptr, single.data(), 1, n, k)
              .ok());
      ASSERT_EQ(std::memcmp(single.data(), batch.data() + size_t(t) * n, n * 4), 0)
          << DTypeName(type) << " token " << t << " threads " << threads;
    }
  }
  omp_set_num_threads(saved_threads);
}

// One token takes a fused decode + dot path on AVX2 machines; with a bias too it must give the
// batch's bits.
TEST_P(MatmulCpuTest, SingleTokenWithBiasMatchesBatch) {
  const DType type = GetParam();
  const int n = 37, k = 256, num_tokens = 3;
  const auto w = testing::RandomWeights(type, int64_t{n} * k, 31);
  const auto x = testing::RandomVector(size_t(num_tokens) * k, 32);
  const auto bias = testing::RandomVector(n, 33);
  std::vector<float> batch(size_t(num_tokens) * n);
  ASSERT_TRUE(
      MatmulCpu(type, w.data(), x.data(), bias.data(), batch.data(), num_tokens, n, k).ok());
  for (int t = 0; t < num_tokens; ++t) {
    std::vector<float> single(n);
    ASSERT_TRUE(
        MatmulCpu(type, w.data(), x.data() + size_t(t) * k, bias.data(), single.data(), 1, n, k)
            .ok());
    ASSERT_EQ(std::memcmp(single.data(), batch.data() + size_t(t) * n, n * 4), 0)
        << DTypeName(type) << " token " << t;
  }
}

// Every code path gives the portable scalar code's bits (the invariant MatmulCpu's batch and
// thread-count independence rests on), for token counts that exercise each kernel's token groups
// (1, 2, 3, then remainders), a row count that leaves partial row groups, a bias, x at an
// address that is not 32-byte aligned (copied to an aligned buffer), and for the plain types a k
// that is not a multiple of 16 (the scalar tail of each dot).
TEST_P(MatmulCpuTest, EveryPathGivesTheScalarBits) {
  const DType type = GetParam();
  const int block = GetDTypeInfo(type).block_elems;
  const int n = 37;
  std::vector<int> ks = {block == 1 ? 256 : 8 * block};
  if (block == 1) ks.push_back(100);
  for (const int k : ks) {
    const auto w = testing::RandomWeights(type, int64_t{n} * k, 41);
    const auto bias = testing::RandomVector(n, 43);
    for (const int num_tokens : {1, 2, 3, 4, 5, 7}) {
      const auto x_storage = testing::RandomVector(size_t(num_tokens) * k + 1, 42);
      const float* x = x_storage.data() + 1;  // 4 bytes past malloc's alignment
      std::vector<float> scalar(size_t(num_tokens) * n);
      ASSERT_TRUE(MatmulCpuOnPath(CpuMatmulPath::kScalar, type, w.data(), x, bias.data(),
                                  scalar.data(), num_tokens, n, k)
                      .ok());
      for (const CpuMatmulPath path : {CpuMatmulPath::kAvx2Fused, CpuMatmulPath::kAvx2Blocked,
                                       CpuMatmulPath::kAvx2TokenDots}) {
        std::vector<float> y(scalar.size());
        std::memset(y.data(), testing::kPoisonByte, y.size() * 4);
        const Status s =
            MatmulCpuOnPath(path, type, w.data(), x, bias.data(), y.data(), num_tokens, n, k);
        if (s.code() == StatusCode::kUnimplemented) continue;  // no AVX2, or no fused kernel
        ASSERT_TRUE(s.ok()) << s.ToString();
        ASSERT_EQ(std::memcmp(y.data(), scalar.data(), y.size() * 4), 0)
            << DTypeName(type) << " path " << CpuMatmulPathName(path) << " k=" << k
            << " num_tokens=" << num_tokens;
      }
    }
  }
}

// The AVX2 block decoders (the tiled path's, and the fused path's in registers) give the
// dequantizer's bits: on well-formed random blocks, and on blocks of random bytes whose fp16
// scales may be subnormal, huge, inf or NaN (any NaN matches any NaN: payloads are not kept).
TEST_P(MatmulCpuTest, Avx2DecodeGivesTheDequantizerBits) {
  const DType type = GetParam();
  if (!CpuHasAvx2F16c()) GTEST_SKIP() << "no AVX2";
  if (type == DType::kF32) GTEST_SKIP() << "F32 rows are read in place";
  const int64_t count =
      64 * int64_t{GetDTypeInfo(type).block_elems == 1 ? 32 : GetDTypeInfo(type).block_elems};
  for (const bool well_formed : {true, false}) {
    std::vector<uint8_t> w = testing::RandomWeights(type, count, 51);
    if (!well_formed) {
      uint64_t state = 52;
      for (uint8_t& b : w) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        b = static_cast<uint8_t>(state >> 56);
      }
    }
    std::vector<float> want(count), got(count);
    ASSERT_TRUE(DequantizeCpu(type, w.data(), want.data(), count).ok());
    std::memset(got.data(), testing::kPoisonByte, got.size() * 4);
    ASSERT_TRUE(matmul_cpu::DecodeAvx2(type, w.data(), got.data(), count));
    for (int64_t i = 0; i < count; ++i) {
      if (std::isnan(want[i]) && std::isnan(got[i])) continue;
      uint32_t a, b;
      std::memcpy(&a, &want[i], 4);
      std::memcpy(&b, &got[i], 4);
      ASSERT_EQ(a, b) << DTypeName(type) << " element " << i << (well_formed ? "" : " (raw bytes)")
                      << ": " << want[i] << " vs " << got[i];
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulCpuTest, ::testing::ValuesIn(testing::kMatmulWeightTypes),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

TEST(MatmulCpuErrors, RejectsBadShapesAndTypes) {
  std::vector<uint8_t> w(4096);
  std::vector<float> x(512), y(512);
  EXPECT_EQ(MatmulCpu(DType::kQ4_K, w.data(), x.data(), nullptr, y.data(), 1, 2, 100).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MatmulCpu(DType::kI32, w.data(), x.data(), nullptr, y.data(), 1, 2, 32).code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(MatmulCpu(DType::kQ8_0, w.data(), x.data(), nullptr, y.data(), -1, 2, 32).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MatmulCpu(DType::kQ8_0, nullptr, x.data(), nullptr, y.data(), 1, 2, 32).code(),
            StatusCode::kInvalidArgument);
}

// The AVX2 path's CPU check (CPUID for F16C, which clang 14's __builtin_cpu_supports lacks)
// agrees with the kernel's view of the processor.
TEST(MatmulCpuErrors, Avx2CheckAgreesWithProcCpuinfo) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line) && line.rfind("flags", 0) != 0) {
  }
  if (line.empty()) GTEST_SKIP() << "no flags line in /proc/cpuinfo";
  line += ' ';
  const bool expected =
      line.find(" avx2 ") != std::string::npos && line.find(" f16c ") != std::string::npos;
  EXPECT_EQ(CpuHasAvx2F16c(), expected) << line;
}

TEST(MatmulCpuErrors, PathsAProcessorOrTypeLacks) {
  std::vector<uint8_t> w(4096);
  std::vector<float> x(512), y(512);
  // No fused kernel for the float types (nor any on a CPU without AVX2).
  EXPECT_EQ(MatmulCpuOnPath(CpuMatmulPath::kAvx2Fused, DType::kF16, w.data(), x.data(), nullptr,
                            y.data(), 1, 2, 256)
                .code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(MatmulCpuOnPath(CpuMatmulPath::kAvx2Fused, DType::kQ4_K, w.data(), x.data(), nullptr,
                            y.data(), 1, 2, 256)
                .code(),
            CpuHasAvx2F16c() ? StatusCode::kOk : StatusCode::kUnimplemented);
  const Status blocked = MatmulCpuOnPath(CpuMatmulPath::kAvx2Blocked, DType::kQ8_0, w.data(),
                                         x.data(), nullptr, y.data(), 1, 2, 32);
  EXPECT_EQ(blocked.code(), CpuHasAvx2F16c() ? StatusCode::kOk : StatusCode::kUnimplemented);
  // Shape errors come first on every path.
  EXPECT_EQ(MatmulCpuOnPath(CpuMatmulPath::kScalar, DType::kQ4_K, w.data(), x.data(), nullptr,
                            y.data(), 1, 2, 100)
                .code(),
            StatusCode::kInvalidArgument);
}

TEST(SelectCpuMatmulPathTest, IsAPureFunctionOfTypeAndTokens) {
  for (const DType t : testing::kMatmulWeightTypes) {
    const bool fused = t != DType::kF32 && t != DType::kF16 && t != DType::kBF16;
    for (int num_tokens : {1, 2, 3, 4, 8, 512}) {
      EXPECT_EQ(SelectCpuMatmulPath(t, num_tokens, false), CpuMatmulPath::kScalar);
      EXPECT_EQ(SelectCpuMatmulPath(t, num_tokens, true), fused && num_tokens <= kMaxCpuFusedTokens
                                                              ? CpuMatmulPath::kAvx2Fused
                                                              : CpuMatmulPath::kAvx2Blocked)
          << DTypeName(t) << " " << num_tokens;
    }
  }
  EXPECT_EQ(CpuMatmulPathName(CpuMatmulPath::kAvx2Blocked), "avx2_blocked");
  EXPECT_EQ(CpuMatmulPathName(CpuMatmulPath::kAvx2TokenDots), "avx2_token_dots");
}

constexpr DType kBlockTypes[] = {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0,
                                 DType::kQ5_1, DType::kQ2_K, DType::kQ3_K, DType::kQ4_K,
                                 DType::kQ5_K, DType::kQ6_K};

// A type's own GEMV: the staged integer one (Q8_0, Q4_K, Q6_K), else the direct one (Q4_0, Q4_1,
// Q5_0, Q5_1, Q2_K, Q3_K, Q5_K; the float one for the first four where k % 128 != 0).
MatmulKernel OwnGemv(DType t) {
  if (t == DType::kQ8_0 || t == DType::kQ4_K || t == DType::kQ6_K) {
    return MatmulKernel::kQuantGemvQ8;
  }
  const bool direct_only = t == DType::kQ4_0 || t == DType::kQ4_1 || t == DType::kQ5_0 ||
                           t == DType::kQ5_1 || t == DType::kQ2_K || t == DType::kQ3_K ||
                           t == DType::kQ5_K;
  return direct_only ? MatmulKernel::kQuantGemvQ8Direct : MatmulKernel::kQuantGemv;
}

// The default: a pure function of type and token count (the shape only where a kernel needs
// it: k % 128 for the direct GEMV), following DefaultQuantKernelRanges' measured table.
TEST(SelectMatmulKernelTest, IsAPureFunctionOfTypeAndShape) {
  EXPECT_EQ(SelectMatmulKernel(DType::kBF16, 1, 4096, 4096), MatmulKernel::kCublasLt);
  EXPECT_EQ(SelectMatmulKernel(DType::kF16, 512, 4096, 4096), MatmulKernel::kCublasLt);
  for (DType t : kBlockTypes) {
    SCOPED_TRACE(std::string(DTypeName(t)));
    const QuantKernelRanges r = DefaultQuantKernelRanges(t);
    for (int num_tokens = 1; num_tokens <= 300; ++num_tokens) {
      MatmulKernel want = MatmulKernel::kDequantCublasLt;
      if (num_tokens <= r.direct_gemv) {
        want = MatmulKernel::kQuantGemvQ8Direct;
      } else if (num_tokens <= r.gemv) {
        want = OwnGemv(t);
      } else if (num_tokens <= r.mma) {
        want = MatmulKernel::kQuantMma;
      }
      EXPECT_EQ(SelectMatmulKernel(t, num_tokens, 4096, 14336), want) << num_tokens;
      EXPECT_EQ(SelectMatmulKernel(t, num_tokens, 14336, 4096), want) << num_tokens;
    }
    // The ranges nest: the GEMVs within kMaxGemvTokens, the MMA within kMaxQuantMmaTokens.
    EXPECT_LE(r.direct_gemv, r.gemv);
    EXPECT_LE(r.gemv, kMaxGemvTokens);
    EXPECT_LE(r.gemv, r.mma);
    EXPECT_LE(r.mma, gemv_internal::kMaxQuantMmaTokens);
    EXPECT_EQ(SelectMatmulKernel(t, 4096, 14336, 4096), MatmulKernel::kDequantCublasLt);
  }
  // As measured on the H100 (2026-11-23 and 25): the direct GEMV for Q4_K up to 6 tokens, the
  // staged one at 7, the MMA from 8; Q6_K and Q8_0 direct at 1 token, staged at 2-3, the MMA from
  // 4.
  EXPECT_EQ(SelectMatmulKernel(DType::kQ4_K, 6, 4096, 4096), MatmulKernel::kQuantGemvQ8Direct);
  EXPECT_EQ(SelectMatmulKernel(DType::kQ4_K, 7, 4096, 4096), MatmulKernel::kQuantGemvQ8);
  EXPECT_EQ(SelectMatmulKernel(DType::kQ4_K, 8, 4096, 4096), MatmulKernel::kQuantMma);
  for (DType t : {DType::kQ6_K, DType::kQ8_0}) {
    SCOPED_TRACE(std::string(DTypeName(t)));
    EXPECT_EQ(SelectMatmulKernel(t, 1, 4096, 14336), MatmulKernel::kQuantGemvQ8Direct);
    EXPECT_EQ(SelectMatmulKernel(t, 2, 4096, 4096), MatmulKernel::kQuantGemvQ8);
    EXPECT_EQ(SelectMatmulKernel(t, 3, 4096, 4096), MatmulKernel::kQuantGemvQ8);
    EXPECT_EQ(SelectMatmulKernel(t, 4, 4096, 4096), MatmulKernel::kQuantMma);
    EXPECT_EQ(SelectMatmulKernel(t, 64, 4096, 4096), MatmulKernel::kQuantMma);
  }
  EXPECT_EQ(SelectMatmulKernel(DType::kQ8_0, 65, 4096, 4096), MatmulKernel::kDequantCublasLt);
  // Q5_K: the direct GEMV up to 7 tokens (its MMA is the slowest), then the MMA.
  EXPECT_EQ(SelectMatmulKernel(DType::kQ5_K, 7, 4096, 14336), MatmulKernel::kQuantGemvQ8Direct);
  EXPECT_EQ(SelectMatmulKernel(DType::kQ5_K, 8, 4096, 14336), MatmulKernel::kQuantMma);
  // Q5_0, Q5_1 (1-3 tokens), Q2_K, Q3_K, Q4_0, Q4_1 (1-2): their direct GEMV, then the MMA; the
  // float GEMV where k % 128 != 0 for the four legacy types (SmolLM2's k = 576).
  for (DType t :
       {DType::kQ2_K, DType::kQ3_K, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1}) {
    SCOPED_TRACE(std::string(DTypeName(t)));
    const int last = t == DType::kQ5_0 || t == DType::kQ5_1 ? 3 : 2;
    EXPECT_EQ(SelectMatmulKernel(t, 1, 4096, 4096), MatmulKernel::kQuantGemvQ8Direct);
    EXPECT_EQ(SelectMatmulKernel(t, last, 4096, 14336), MatmulKernel::kQuantGemvQ8Direct);
    EXPECT_EQ(SelectMatmulKernel(t, 1, 576, 1536), MatmulKernel::kQuantGemvQ8Direct);
    EXPECT_EQ(SelectMatmulKernel(t, last + 1, 4096, 4096), MatmulKernel::kQuantMma);
  }
  EXPECT_EQ(SelectMatmulKernel(DType::kQ4_0, 1, 1536, 576), MatmulKernel::kQuantGemv);
  EXPECT_EQ(SelectMatmulKernel(DType::kQ4_1, 2, 1536, 576), MatmulKernel::kQuantGemv);
  EXPECT_EQ(SelectMatmulKernel(DType::kQ5_1, 3, 1536, 576), MatmulKernel::kQuantGemv);
  EXPECT_EQ(SelectMatmulKernel(DType::kQ5_1, 4, 1536, 576), MatmulKernel::kQuantMma);
  // k = 4160: 130 Q8_0 blocks, not a multiple of 4 (the direct unit): the staged GEMV at 1 token.
  // Q4_K rows of k % 256 != 0 do not exist.
  EXPECT_EQ(SelectMatmulKernel(DType::kQ8_0, 1, 576, 4160), MatmulKernel::kQuantGemvQ8);
  // F32 weights: the float GEMV (the scalar one where k % 8 != 0), dequantize + cuBLASLt above.
  for (int num_tokens = 1; num_tokens <= kMaxGemvTokens; ++num_tokens) {
    EXPECT_EQ(SelectMatmulKernel(DType::kF32, num_tokens, 64, 256), MatmulKernel::kQuantGemv);
    EXPECT_EQ(SelectMatmulKernel(DType::kF32, num_tokens, 64, 172), MatmulKernel::kScalarGemv);
  }
  EXPECT_EQ(SelectMatmulKernel(DType::kF32, 9, 64, 256), MatmulKernel::kDequantCublasLt);
  EXPECT_EQ(SelectMatmulKernel(DType::kQ4_K, 1, 4096, 100), MatmulKernel::kUnsupported);
  EXPECT_EQ(SelectMatmulKernel(DType::kI32, 1, 4096, 4096), MatmulKernel::kUnsupported);
  EXPECT_EQ(SelectMatmulKernel(DType::kQ8_0, 0, 4096, 4096), MatmulKernel::kUnsupported);
  EXPECT_EQ(MatmulKernelName(MatmulKernel::kQuantGemv), "quant_gemv");
  EXPECT_EQ(MatmulKernelName(MatmulKernel::kQuantGemvQ8), "quant_gemv_q8");
  EXPECT_EQ(MatmulKernelName(MatmulKernel::kQuantGemvQ8Direct), "quant_gemv_q8_direct");
  EXPECT_EQ(MatmulKernelName(MatmulKernel::kQuantMma), "quant_mma");
}

// HEARTH_GEMV names the GEMV of every step of up to 8 tokens (where the type has it, else the
// type's own); F32 activations take the float GEMV whatever was chosen.
TEST(SelectMatmulKernelTest, GemvOverride) {
  for (DType t : kBlockTypes) {
    SCOPED_TRACE(std::string(DTypeName(t)));
    const MatmulKernel own = OwnGemv(t);
    const bool direct = gemv_internal::HasDirectGemv(t, 14336);
    for (int num_tokens = 1; num_tokens <= kMaxGemvTokens; ++num_tokens) {
      for (DType act : {DType::kBF16, DType::kF16}) {
        EXPECT_EQ(SelectMatmulKernelForRun(t, act, num_tokens, 4096, 14336, GemvOverride::kFloat),
                  MatmulKernel::kQuantGemv);
        EXPECT_EQ(SelectMatmulKernelForRun(t, act, num_tokens, 4096, 14336, GemvOverride::kStaged),
                  own);
        EXPECT_EQ(SelectMatmulKernelForRun(t, act, num_tokens, 4096, 14336, GemvOverride::kDirect),
                  direct ? MatmulKernel::kQuantGemvQ8Direct : MatmulKernel::kQuantGemv);
        // k = 4160: 130 Q8_0 blocks, not a multiple of 4 (the direct unit): the staged GEMV.
        if (t == DType::kQ8_0) {
          EXPECT_EQ(SelectMatmulKernelForRun(t, act, num_tokens, 576, 4160, GemvOverride::kDirect),
                    MatmulKernel::kQuantGemvQ8);
        }
        EXPECT_EQ(SelectMatmulKernelForRun(t, act, num_tokens, 14336, 4096),
                  SelectMatmulKernel(t, num_tokens, 14336, 4096));
      }
      for (GemvOverride g : {GemvOverride::kNone, GemvOverride::kFloat, GemvOverride::kStaged,
                             GemvOverride::kDirect}) {
        for (QuantGemm q : {QuantGemm::kAuto, QuantGemm::kDequant, QuantGemm::kFused}) {
          EXPECT_EQ(SelectMatmulKernelForRun(t, DType::kF32, num_tokens, 4096, 14336, g, q),
                    MatmulKernel::kQuantGemv);
        }
      }
    }
    // Above the GEMVs' range the override changes nothing.
    for (GemvOverride g : {GemvOverride::kFloat, GemvOverride::kStaged, GemvOverride::kDirect}) {
      EXPECT_EQ(SelectMatmulKernelForRun(t, DType::kBF16, 9, 4096, 4096, g),
                SelectMatmulKernel(t, 9, 4096, 4096));
    }
  }
  for (GemvOverride g : {GemvOverride::kFloat, GemvOverride::kDirect}) {
    EXPECT_EQ(SelectMatmulKernelForRun(DType::kBF16, DType::kBF16, 1, 4096, 4096, g),
              MatmulKernel::kCublasLt);
    EXPECT_EQ(SelectMatmulKernelForRun(DType::kF32, DType::kBF16, 1, 64, 172, g),
              MatmulKernel::kScalarGemv);
  }
}

// HEARTH_QUANT_GEMM: "dequant" never runs the MMA (the type's GEMV up to 8 tokens, dequantize +
// cuBLASLt above), "fused" runs it for every step of 9..kMaxQuantMmaTokens tokens; F32 weights,
// F32 activations and more tokens keep their kernels.
TEST(SelectMatmulKernelTest, QuantGemmOverride) {
  const int max_mma = gemv_internal::kMaxQuantMmaTokens;
  for (DType t : kBlockTypes) {
    SCOPED_TRACE(std::string(DTypeName(t)));
    for (int num_tokens = 1; num_tokens <= 300; ++num_tokens) {
      const MatmulKernel auto_kernel = SelectMatmulKernel(t, num_tokens, 4096, 14336);
      for (DType act : {DType::kBF16, DType::kF16}) {
        const MatmulKernel dequant = SelectMatmulKernelForRun(
            t, act, num_tokens, 4096, 14336, GemvOverride::kNone, QuantGemm::kDequant);
        const MatmulKernel fused = SelectMatmulKernelForRun(t, act, num_tokens, 4096, 14336,
                                                            GemvOverride::kNone, QuantGemm::kFused);
        EXPECT_NE(dequant, MatmulKernel::kQuantMma) << num_tokens;
        if (num_tokens > kMaxGemvTokens) {
          EXPECT_EQ(dequant, MatmulKernel::kDequantCublasLt) << num_tokens;
          EXPECT_EQ(fused, num_tokens <= max_mma ? MatmulKernel::kQuantMma
                                                 : MatmulKernel::kDequantCublasLt)
              << num_tokens;
        } else {
          EXPECT_EQ(fused, auto_kernel) << num_tokens;
          if (auto_kernel == MatmulKernel::kQuantMma) {
            EXPECT_EQ(dequant, OwnGemv(t));
          } else {
            EXPECT_EQ(dequant, auto_kernel) << num_tokens;
          }
        }
      }
      // The MMA takes 16-bit activations only: F32 above the GEMVs' range is dequantize +
      // cuBLASLt's (which then reports the activation type), any other "activation" too.
      if (num_tokens > kMaxGemvTokens) {
        EXPECT_EQ(SelectMatmulKernelForRun(t, DType::kF32, num_tokens, 4096, 14336,
                                           GemvOverride::kNone, QuantGemm::kFused),
                  MatmulKernel::kDequantCublasLt);
        EXPECT_EQ(SelectMatmulKernelForRun(t, DType::kQ4_K, num_tokens, 4096, 14336),
                  MatmulKernel::kDequantCublasLt);
      }
    }
  }
  EXPECT_EQ(SelectMatmulKernelForRun(DType::kF32, DType::kBF16, 16, 64, 256, GemvOverride::kNone,
                                     QuantGemm::kFused),
            MatmulKernel::kDequantCublasLt);
  EXPECT_EQ(SelectMatmulKernelForRun(DType::kBF16, DType::kBF16, 16, 64, 256, GemvOverride::kNone,
                                     QuantGemm::kFused),
            MatmulKernel::kCublasLt);
}

// Which kernels the benchmarks may time beside the selected one (GpuMatmul::RunKernel's check).
TEST(SelectMatmulKernelTest, KernelRuns) {
  for (DType t : kBlockTypes) {
    for (int num_tokens : {1, 8, 9, 64, 128, 129, 4096}) {
      for (DType act : {DType::kBF16, DType::kF16, DType::kF32}) {
        // The selected kernel always runs its case.
        EXPECT_TRUE(MatmulKernelRuns(SelectMatmulKernelForRun(t, act, num_tokens, 4096, 4096), t,
                                     act, num_tokens, 4096, 4096) ||
                    act == DType::kF32)
            << DTypeName(t) << " " << num_tokens;
        const bool act16 = act != DType::kF32;
        EXPECT_EQ(MatmulKernelRuns(MatmulKernel::kQuantGemv, t, act, num_tokens, 4096, 4096),
                  num_tokens <= kMaxGemvTokens);
        EXPECT_EQ(MatmulKernelRuns(MatmulKernel::kQuantMma, t, act, num_tokens, 4096, 4096),
                  act16 && num_tokens <= gemv_internal::kMaxQuantMmaTokens);
        EXPECT_EQ(MatmulKernelRuns(MatmulKernel::kDequantCublasLt, t, act, num_tokens, 4096, 4096),
                  act16);
        EXPECT_FALSE(MatmulKernelRuns(MatmulKernel::kCublasLt, t, act, num_tokens, 4096, 4096));
        EXPECT_EQ(
            MatmulKernelRuns(MatmulKernel::kQuantGemvQ8Direct, t, act, num_tokens, 4096, 4096),
            act16 && num_tokens <= kMaxGemvTokens &&
                (t == DType::kQ4_0 || t == DType::kQ4_1 || t == DType::kQ5_0 || t == DType::kQ5_1 ||
                 t == DType::kQ2_K || t == DType::kQ3_K || t == DType::kQ4_K || t == DType::kQ5_K ||
                 t == DType::kQ6_K || t == DType::kQ8_0));
      }
    }
    EXPECT_FALSE(MatmulKernelRuns(MatmulKernel::kQuantGemv, t, DType::kBF16, 1, 4096, 100));
  }
  EXPECT_TRUE(MatmulKernelRuns(MatmulKernel::kCublasLt, DType::kBF16, DType::kBF16, 9, 64, 64));
  EXPECT_FALSE(MatmulKernelRuns(MatmulKernel::kCublasLt, DType::kBF16, DType::kF16, 9, 64, 64));
  EXPECT_TRUE(MatmulKernelRuns(MatmulKernel::kScalarGemv, DType::kF32, DType::kF32, 8, 64, 172));
  EXPECT_FALSE(MatmulKernelRuns(MatmulKernel::kQuantMma, DType::kF32, DType::kBF16, 16, 64, 256));
}

TEST(QuantGemmTest, ParsesTheEnvironment) {
  EXPECT_EQ(*ParseQuantGemm(nullptr), QuantGemm::kAuto);
  EXPECT_EQ(*ParseQuantGemm(""), QuantGemm::kAuto);
  EXPECT_EQ(*ParseQuantGemm("dequant"), QuantGemm::kDequant);
  EXPECT_EQ(*ParseQuantGemm("fused"), QuantGemm::kFused);
  const auto bad = ParseQuantGemm("mma");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("fused"), std::string::npos);
}

TEST(GemvOverrideTest, ParsesTheEnvironment) {
  EXPECT_EQ(*ParseGemvOverride(nullptr), GemvOverride::kNone);
  EXPECT_EQ(*ParseGemvOverride(""), GemvOverride::kNone);
  EXPECT_EQ(*ParseGemvOverride("float"), GemvOverride::kFloat);
  EXPECT_EQ(*ParseGemvOverride("staged"), GemvOverride::kStaged);
  EXPECT_EQ(*ParseGemvOverride("direct"), GemvOverride::kDirect);
  const auto bad = ParseGemvOverride("fast");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("direct"), std::string::npos);
}

// F32 rows that do not end on an 8-element group (stories260K's w_down, k = 172): the scalar GEMV
// for 1..8 tokens, whatever the activations; more tokens are rounded to bf16/fp16 for cuBLASLt.
TEST(SelectMatmulKernelTest, F32RowsOfAnyLength) {
  for (int k : {172, 13, 1, 1028}) {
    for (int num_tokens = 1; num_tokens <= kMaxGemvTokens; ++num_tokens) {
      EXPECT_EQ(SelectMatmulKernel(DType::kF32, num_tokens, 64, k), MatmulKernel::kScalarGemv) << k;
      for (DType act : {DType::kF32, DType::kBF16, DType::kF16}) {
        EXPECT_EQ(
            SelectMatmulKernelForRun(DType::kF32, act, num_tokens, 64, k, GemvOverride::kNone),
            MatmulKernel::kScalarGemv);
      }
    }
    EXPECT_EQ(SelectMatmulKernel(DType::kF32, kMaxGemvTokens + 1, 64, k),
              MatmulKernel::kDequantCublasLt);
  }
  // k % 8 == 0 keeps the block GEMV; half-precision weights keep cuBLASLt at any k.
  EXPECT_EQ(SelectMatmulKernel(DType::kF32, 1, 172, 64), MatmulKernel::kQuantGemv);
  EXPECT_EQ(SelectMatmulKernel(DType::kBF16, 1, 64, 172), MatmulKernel::kCublasLt);
  EXPECT_EQ(SelectMatmulKernel(DType::kF16, 8, 64, 172), MatmulKernel::kCublasLt);
  EXPECT_EQ(SelectMatmulKernel(DType::kQ8_0, 1, 64, 172), MatmulKernel::kUnsupported);
  EXPECT_EQ(MatmulKernelName(MatmulKernel::kScalarGemv), "scalar_gemv");
}

TEST(GemmOperandAlignment, LargestPowerOfTwoOfBaseAndColumnStride) {
  EXPECT_EQ(GemmOperandAlignment(576, 2), 16u);   // SmolLM2 hidden, bf16
  EXPECT_EQ(GemmOperandAlignment(4096, 2), 16u);  // capped at the base's alignment
  EXPECT_EQ(GemmOperandAlignment(172, 2), 8u);    // stories260K ffn: 344-byte columns
  EXPECT_EQ(GemmOperandAlignment(344, 2), 16u);   // its fused gate/up output: 688 bytes
  EXPECT_EQ(GemmOperandAlignment(13, 2), 2u);
  EXPECT_EQ(GemmOperandAlignment(7, 4), 4u);
  EXPECT_EQ(GemmOperandAlignment(64, 2, 4), 4u);  // base only 4-byte aligned
  EXPECT_EQ(GemmOperandAlignment(1, 1), 1u);
}

}  // namespace
}  // namespace hearth
