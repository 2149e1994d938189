// The fused dequantize + tensor-core GEMM's kernel source (quant_mma_kernel.cuh) run on the CPU
// under the CUDA block emulation (tests/support/cuda_block_emulation.h: one fiber per CUDA
// thread, cp.async as a copy, mma.sync through a per-warp exchange of the fragments in the PTX
// layout). The emulated mma adds each tile's 16 products in k order in float, so the kernel's
// result must equal, bit for bit, a plain float sum over k of (DequantizeCpu's W rounded to the
// activation type) x (x), + bias, rounded: every weight type, bf16 and fp16, the three token
// tiles, partial row and token tiles, a k that ends mid-step, rows whose bytes start anywhere in
// a 16-byte vector, and the tensor's last partial vector. This checks the kernel's staging,
// decoding, fragment indexing and epilogue without a GPU; its timing and the real cp.async /
// mma.sync need one (matmul_gpu_test under HEARTH_QUANT_GEMM=fused).
#include "tests/support/cuda_block_emulation.h"
// The kernel source after the emulation, which stands in for the CUDA headers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/matmul/quant_mma_kernel.cuh"
#include "kernels/quant/dequant.h"
#include "tests/kernels/quant/random_blocks.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

using cuda_emulation::Bf16;
using cuda_emulation::Half;

template <class A>
std::string ActName() {
  return std::is_same_v<A, Bf16> ? "bf16" : "f16";
}

template <DType T, class A, int kTokenTile>
void ExpectKernelEqualsFloatSum(int n, int k, int num_tokens, bool with_bias,
                                int expect_splits = 1) {
  SCOPED_TRACE(std::string(DTypeName(T)) + " " + ActName<A>() + " n=" + std::to_string(n) +
               " k=" + std::to_string(k) + " num_tokens=" + std::to_string(num_tokens));
  ASSERT_EQ(gemv_internal::QuantMmaTokenTile(num_tokens), kTokenTile);
  const int64_t elems = int64_t{n} * k;
  const std::vector<uint8_t> bytes = testing::RandomWeights(T, elems, 7 + k + n);
  // 16-byte aligned as on the GPU, and not a byte more: under ASan a read past the tensor's end
  // (the last row's last vector) is an error.
  const testing::AlignedBytes storage = testing::CopyAligned16(bytes);
  const uint8_t* w = storage.get();
  std::vector<float> deq(elems);
  ASSERT_TRUE(DequantizeCpu(T, w, deq.data(), elems).ok());

  const std::vector<float> xf = testing::RandomVector(size_t(num_tokens) * k, 8 + k, -2.f, 2.f);
  const std::vector<float> bf = testing::RandomVector(n, 9, -0.5f, 0.5f);
  std::vector<A> x(xf.size()), bias(n);
  for (size_t i = 0; i < xf.size(); ++i) x[i] = cuda::FromFloat<A>(xf[i]);
  for (int i = 0; i < n; ++i) bias[i] = cuda::FromFloat<A>(bf[i]);

  const gemv_internal::QuantMmaPlan plan = gemv_internal::PlanQuantMma(num_tokens, n, k);
  ASSERT_EQ(plan.k_splits, expect_splits);
  cuda_emulation::SetDynamicSmem(gemv_internal::QuantMmaSmemBytes<T>(kTokenTile));
  std::vector<A> y(size_t(num_tokens) * n, A{0xFFFF});  // poisoned: NaN
  const int64_t count = int64_t{num_tokens} * n;
  std::vector<float> partial(plan.k_splits > 1 ? plan.k_splits * count : 0, std::nanf(""));
  const A* b = with_bias ? bias.data() : nullptr;
  cuda_emulation::Launch(
      EmulatedDim3{static_cast<unsigned>(plan.token_tiles), static_cast<unsigned>(plan.row_tiles),
                   static_cast<unsigned>(plan.k_splits)},
      gemv_internal::kMmaThreads, &gemv_internal::QuantMmaKernel<T, A, kTokenTile>,
      static_cast<const uint8_t*>(w), static_cast<const A*>(x.data()), b, y.data(),
      plan.k_splits > 1 ? partial.data() : nullptr, num_tokens, n, k, plan);
  if (plan.k_splits > 1) {
    const int threads = gemv_internal::kMmaReduceThreads;
    cuda_emulation::Launch(
        EmulatedDim3{static_cast<unsigned>((count + threads - 1) / threads), 1, 1}, threads,
        &gemv_internal::QuantMmaReduceKernel<A>, static_cast<const float*>(partial.data()), b,
        y.data(), plan.k_splits, count, n);
  }

  // Each split: a float sum over its k range in order; then the splits in order from 0, the bias.
  const int split_elems = plan.steps_per_split * gemv_internal::kMmaStepElems;
  size_t mismatches = 0;
  for (int t = 0; t < num_tokens; ++t) {
    for (int row = 0; row < n; ++row) {
      float total = 0.f;
      for (int e0 = 0; e0 < k; e0 += split_elems) {
        float acc = 0.f;
        for (int e = e0; e < std::min(k, e0 + split_elems); ++e) {
          const float wv = cuda::ToFloat(cuda::FromFloat<A>(deq[size_t(row) * k + e]));
          acc += wv * cuda::ToFloat(x[size_t(t) * k + e]);
        }
        total = plan.k_splits > 1 ? total + acc : acc;
      }
      if (with_bias) total += cuda::ToFloat(bias[row]);
      const uint16_t want = cuda::FromFloat<A>(total).bits;
      const uint16_t got = y[size_t(t) * n + row].bits;
      if (got != want && mismatches++ < 3) {
        ADD_FAILURE() << "token " << t << " row " << row << ": kernel " << cuda::ToFloat(A{got})
                      << " float sum " << cuda::ToFloat(A{want});
      }
    }
  }
  EXPECT_EQ(mismatches, 0u);
}

TEST(QuantMmaEmulation, KQuantsWholeSteps) {
  // 70 rows: a full and a partial row tile; 20 tokens in a tile of 32.
  ExpectKernelEqualsFloatSum<DType::kQ4_K, Bf16, 32>(70, 512, 20, true);
  // Q6_K's 210-byte blocks start at every even shift from a 16-byte boundary.
  ExpectKernelEqualsFloatSum<DType::kQ6_K, Bf16, 16>(9, 768, 9, false);
  ExpectKernelEqualsFloatSum<DType::kQ6_K, Half, 16>(5, 256, 16, true);
  ExpectKernelEqualsFloatSum<DType::kQ5_K, Bf16, 16>(17, 256, 12, true);
  ExpectKernelEqualsFloatSum<DType::kQ3_K, Half, 16>(7, 512, 10, false);
  ExpectKernelEqualsFloatSum<DType::kQ2_K, Bf16, 16>(7, 256, 13, true);
}

TEST(QuantMmaEmulation, ThirtyTwoBlocksEndingMidStep) {
  // k = 544: two whole steps and one of a single block; Q8_0's 34-byte blocks put rows at every
  // even shift, and the tensor ends mid-vector.
  ExpectKernelEqualsFloatSum<DType::kQ8_0, Bf16, 16>(9, 544, 11, true);
  ExpectKernelEqualsFloatSum<DType::kQ8_0, Half, 32>(3, 288, 17, false);
  ExpectKernelEqualsFloatSum<DType::kQ4_0, Bf16, 16>(5, 544, 9, true);
  ExpectKernelEqualsFloatSum<DType::kQ4_1, Half, 16>(6, 96, 14, true);
  ExpectKernelEqualsFloatSum<DType::kQ5_0, Bf16, 16>(11, 320, 15, false);
  ExpectKernelEqualsFloatSum<DType::kQ5_1, Bf16, 16>(4, 800, 16, true);
}

TEST(QuantMmaEmulation, SeveralTokenTiles) {
  // 70 tokens: tiles of 64, the second holding 6.
  ExpectKernelEqualsFloatSum<DType::kQ4_K, Half, 64>(19, 256, 70, true);
  ExpectKernelEqualsFloatSum<DType::kQ8_0, Bf16, 64>(66, 64, 40, false);
}

TEST(QuantMmaEmulation, SplitK) {
  // 9 rows of k = 4096: 16 steps in 4 splits of 4; the reduce kernel adds them.
  ExpectKernelEqualsFloatSum<DType::kQ4_K, Bf16, 16>(9, 4096, 12, true, 4);
  // 65 Q8_0 blocks = 9 steps (the last of one block) in 2 splits of 5 and 4.
  ExpectKernelEqualsFloatSum<DType::kQ8_0, Half, 32>(70, 2080, 20, false, 2);
  ExpectKernelEqualsFloatSum<DType::kQ6_K, Bf16, 16>(3, 2048, 1, true, 2);
}

TEST(QuantMmaPlan, SplitsDependOnTheShapeOnly) {
  using gemv_internal::PlanQuantMma;
  int64_t worst = 0;
  for (int n = 1; n <= 40000; n += (n < 600 ? 7 : 397)) {
    for (int k = 32; k <= 65536; k *= 2) {
      for (int kk : {k, k + 32 * (k / 256)}) {
        const gemv_internal::QuantMmaPlan p = PlanQuantMma(1, n, kk);
        ASSERT_GE(p.k_splits, 1);
        ASSERT_LE(p.k_splits, gemv_internal::kMmaMaxSplits);
        // Every split has steps, and together they cover all.
        ASSERT_LT((p.k_splits - 1) * p.steps_per_split, p.steps) << n << " " << kk;
        ASSERT_GE(p.k_splits * p.steps_per_split, p.steps);
        if (p.k_splits > 1) {
          ASSERT_GE(p.steps_per_split, gemv_internal::kMmaMinStepsPerSplit);
          ASSERT_LT(p.row_tiles, gemv_internal::kMmaMinRowTiles);
        }
        for (int tokens : {9, 16, 64, 100, gemv_internal::kMaxQuantMmaTokens}) {
          const gemv_internal::QuantMmaPlan q = PlanQuantMma(tokens, n, kk);
          ASSERT_EQ(q.k_splits, p.k_splits);
          ASSERT_EQ(q.steps_per_split, p.steps_per_split);
        }
        worst = std::max(
            worst, gemv_internal::QuantMmaScratchBytes(gemv_internal::kMaxQuantMmaTokens, n, kk));
      }
    }
  }
  EXPECT_LE(worst, gemv_internal::kQuantMmaMaxScratchBytes);
  // Llama-3-8B: o / down (4096 rows) split 4 ways, the fused q/k/v (6144) 3 ways, gate/up
  // (14336) not.
  EXPECT_EQ(PlanQuantMma(16, 4096, 4096).k_splits, 4);
  EXPECT_EQ(PlanQuantMma(16, 4096, 14336).k_splits, 4);
  EXPECT_EQ(PlanQuantMma(16, 6144, 4096).k_splits, 3);
  EXPECT_EQ(PlanQuantMma(16, 14336, 4096).k_splits, 1);
  EXPECT_EQ(gemv_internal::QuantMmaScratchBytes(16, 14336, 4096), 0);
}

TEST(QuantMmaPlan, TilesAndSharedMemory) {
  using gemv_internal::PlanQuantMma;
  using gemv_internal::QuantMmaTokenTile;
  EXPECT_EQ(QuantMmaTokenTile(1), 16);
  EXPECT_EQ(QuantMmaTokenTile(16), 16);
  EXPECT_EQ(QuantMmaTokenTile(17), 32);
  EXPECT_EQ(QuantMmaTokenTile(33), 64);
  EXPECT_EQ(QuantMmaTokenTile(4096), 64);
  const gemv_internal::QuantMmaPlan p = PlanQuantMma(100, 14336, 4096);
  EXPECT_EQ(p.token_tile, 64);
  EXPECT_EQ(p.token_tiles, 2);
  EXPECT_EQ(p.row_tiles, 224);
  EXPECT_EQ(p.steps, 16);
  EXPECT_EQ(PlanQuantMma(9, 65, 544).steps, 3);
  EXPECT_EQ(PlanQuantMma(9, 65, 544).row_tiles, 2);
  // Every kernel fits an H100's 227 KiB per CTA; the 16-token tile leaves room for 2 CTAs per SM
  // (228 KiB, 1 KiB reserved per CTA).
  const auto check = [](auto type) {
    constexpr DType T = decltype(type)::value;
    if constexpr (gemv_internal::HasQuantMma(T)) {
      EXPECT_LE(gemv_internal::QuantMmaSmemBytes<T>(64), 227 * 1024) << DTypeName(T);
      EXPECT_LE(2 * (gemv_internal::QuantMmaSmemBytes<T>(16) + 1024), 228 * 1024) << DTypeName(T);
      // The raw ring's rows hold a step's blocks from any shift in a vector, plus the slack.
      using Step = gemv_internal::MmaStep<T>;
      EXPECT_GE(Step::kRawRowBytes, 15 + Step::kBlocks * Step::Codec::kBytes + 4) << DTypeName(T);
    }
    return Status::Ok();
  };
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,
                  DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    EXPECT_TRUE(gemv_internal::HasQuantMma(t));
    EXPECT_TRUE(quant::VisitWeightType(t, check).ok());
  }
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16})
    EXPECT_FALSE(gemv_internal::HasQuantMma(t));
}

}  // namespace
}  // namespace hearth
