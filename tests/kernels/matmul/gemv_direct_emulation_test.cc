// The direct integer GEMV's kernel source (gemv_direct_kernel.cuh) run on the CPU under the CUDA
// block emulation (tests/support/cuda_block_emulation.h: one fiber per CUDA thread, barriers
// for __syncthreads, a per-warp exchange for the shuffles), with float activations: its outputs
// must equal the replay of its arithmetic (ReplayDirectRow) bit for bit, for every type it has,
// every token count's row grouping, partial row groups, several pairs per lane, idle lanes,
// grid-strided row groups and a bias. This checks the kernel's indexing, loops and reductions
// without a GPU; its loads, launch and timing need one (gemv_direct_gpu_test).
#include "tests/support/cuda_block_emulation.h"
// The kernel source after the emulation, which stands in for the CUDA headers.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "kernels/matmul/gemv_direct_kernel.cuh"
#include "tests/kernels/quant/random_blocks.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

using gemv_internal::DirectGemvPlan;
using gemv_internal::XScale;

// fused_x: the kernel quantizes x itself into its shared memory (kFusedX) instead of reading the
// pre-kernel's output; the replay's x is the CPU twin's either way, so both must be its bits.
template <DType T, int kMaxTokens>
void ExpectKernelEqualsReplay(int n, int k, int num_tokens, int max_ctas, bool with_bias,
                              bool fused_x = false) {
  SCOPED_TRACE(std::string(DTypeName(T)) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
               " num_tokens=" + std::to_string(num_tokens) +
               " max_ctas=" + std::to_string(max_ctas) + " fused_x=" + std::to_string(fused_x));
  const std::vector<uint8_t> bytes = testing::RandomWeights(T, int64_t{n} * k, 3 + k);
  // 16-byte aligned as on the GPU, nothing after the last byte: under ASan a load past the
  // tensor's end (the last unit's last vector of Q8_0 / Q6_K) is an error.
  const testing::AlignedBytes storage = testing::CopyAligned16(bytes);
  const uint8_t* w = storage.get();
  const std::vector<float> x = testing::RandomVector(size_t(num_tokens) * k, 4 + k, -2.f, 2.f);
  const std::vector<float> bias = testing::RandomVector(n, 5, -0.5f, 0.5f);
  // The pre-kernel's output as its CPU twin computes it (16-byte aligned like the scratch).
  std::vector<uint4> xq_store((size_t(num_tokens) * k + 15) / 16);
  std::vector<uint4> xs_store((size_t(num_tokens) * (k / 32) * sizeof(XScale) + 15) / 16);
  auto* xq = reinterpret_cast<int8_t*>(xq_store.data());
  auto* xs = reinterpret_cast<XScale*>(xs_store.data());
  for (int t = 0; t < num_tokens; ++t) {
    gemv_internal::QuantizeRowQ8Cpu(x.data() + size_t(t) * k, k, xq + size_t(t) * k,
                                    xs + size_t(t) * (k / 32));
  }

  const DirectGemvPlan plan = gemv_internal::PlanDirectGemvFor<T>(n, k, kMaxTokens, max_ctas);
  std::vector<float> y(size_t(num_tokens) * n, std::nanf(""));
  const float* b = with_bias ? bias.data() : nullptr;
  const EmulatedDim3 grid{static_cast<unsigned>(plan.num_ctas), 1, 1};
  if (fused_x) {
    cuda_emulation::SetDynamicSmem(
        gemv_internal::DirectFusedXBytes(gemv_internal::DirectUnit<T>::kWeights, num_tokens, k));
    cuda_emulation::Launch(grid, gemv_internal::kDirectThreads,
                           &gemv_internal::DirectGemvKernel<T, float, kMaxTokens, true>, w,
                           static_cast<const int8_t*>(nullptr), static_cast<const XScale*>(nullptr),
                           x.data(), b, y.data(), num_tokens, n, k, plan);
  } else {
    // The pre-kernel lays x out for the unit (XqOffset); the replay reads the plain rows.
    constexpr int kW = gemv_internal::DirectUnit<T>::kWeights;
    std::vector<uint4> lq_store(num_tokens * gemv_internal::XRowBytesFor(kW, k) / 16);
    std::vector<uint4> ls_store(num_tokens * gemv_internal::XRowScalesFor(kW, k) / 2);
    auto* lq = reinterpret_cast<int8_t*>(lq_store.data());
    auto* ls = reinterpret_cast<XScale*>(ls_store.data());
    gemv_internal::LayOutXCpu<kW>(num_tokens, k, xq, xs, lq, ls);
    cuda_emulation::Launch(grid, gemv_internal::kDirectThreads,
                           &gemv_internal::DirectGemvKernel<T, float, kMaxTokens, false>, w,
                           static_cast<const int8_t*>(lq), static_cast<const XScale*>(ls),
                           static_cast<const float*>(nullptr), b, y.data(), num_tokens, n, k, plan);
  }

  testing::ExpectBitsEqual(y, num_tokens, n, [&](int t, int row) {
    const float sum = gemv_internal::ReplayDirectRow<T>(plan, w, row, k, xq + size_t(t) * k,
                                                        xs + size_t(t) * (k / 32));
    return with_bias ? sum + bias[row] : sum;
  });
}

TEST(GemvDirectEmulation, Q4KOneTokenFourRowsPerSlot) {
  // 4 pairs a row: 8 slots of 32 lanes, 28 of them idle; 37 rows = 2 groups, one CTA strides.
  ExpectKernelEqualsReplay<DType::kQ4_K, 1>(37, 256, 1, 1, true);
  // 68 pairs: 4 slots of 64 lanes, a second turn for 4 lanes; 3 CTAs for 2 groups -> 2 CTAs.
  ExpectKernelEqualsReplay<DType::kQ4_K, 1>(20, 4352, 1, 3, false);
}

TEST(GemvDirectEmulation, Q4KSeveralTokens) {
  ExpectKernelEqualsReplay<DType::kQ4_K, 2>(9, 1280, 2, 2, true);   // 20 pairs, 2 rows a slot
  ExpectKernelEqualsReplay<DType::kQ4_K, 4>(11, 512, 3, 1, false);  // 3 of 4 tokens, 1 row
  ExpectKernelEqualsReplay<DType::kQ4_K, 8>(5, 2304, 8, 2, true);   // 36 pairs: a 2nd turn
}

TEST(GemvDirectEmulation, Q4KManyPairsPerLane) {
  ExpectKernelEqualsReplay<DType::kQ4_K, 1>(3, 16384, 1, 1, false);  // 256 pairs: one slot
  ExpectKernelEqualsReplay<DType::kQ4_K, 1>(2, 32768, 1, 1, true);   // 512 pairs: 2 turns
}

TEST(GemvDirectEmulation, Q5K) {
  // 4 pairs a row, 2 rows a slot at 1-2 tokens: 37 rows = 3 groups, one CTA strides.
  ExpectKernelEqualsReplay<DType::kQ5_K, 1>(37, 256, 1, 1, true);
  ExpectKernelEqualsReplay<DType::kQ5_K, 2>(9, 4352, 2, 2, false);  // 68 pairs: a 2nd turn
  ExpectKernelEqualsReplay<DType::kQ5_K, 8>(5, 2304, 7, 2, true);   // 1 row a slot
}

TEST(GemvDirectEmulation, Q40Q41Q50Q51) {
  // 72-byte rows: odd rows' units 8 bytes past a 16-byte boundary; the tensor's last load partial.
  ExpectKernelEqualsReplay<DType::kQ4_0, 1>(9, 128, 1, 1, true);
  ExpectKernelEqualsReplay<DType::kQ4_0, 2>(5, 4224, 2, 2, false);  // 33 units: a 2nd turn
  ExpectKernelEqualsReplay<DType::kQ4_0, 8>(3, 1024, 5, 1, true);
  ExpectKernelEqualsReplay<DType::kQ4_1, 1>(9, 128, 1, 1, false);
  ExpectKernelEqualsReplay<DType::kQ4_1, 4>(5, 1536, 3, 2, true);
  // 88-byte rows as Q4_0's 72; 96-byte rows aligned as Q4_1's.
  ExpectKernelEqualsReplay<DType::kQ5_0, 1>(9, 128, 1, 1, true);
  ExpectKernelEqualsReplay<DType::kQ5_0, 2>(5, 4224, 2, 2, false);
  ExpectKernelEqualsReplay<DType::kQ5_0, 8>(3, 1024, 5, 1, true);
  ExpectKernelEqualsReplay<DType::kQ5_1, 1>(9, 128, 1, 1, false);
  ExpectKernelEqualsReplay<DType::kQ5_1, 4>(5, 1536, 3, 2, true);
}

TEST(GemvDirectEmulation, Q6K) {
  // 210-byte rows: blocks at every even shift; the tensor's last load is a partial one.
  ExpectKernelEqualsReplay<DType::kQ6_K, 1>(9, 256, 1, 1, true);
  ExpectKernelEqualsReplay<DType::kQ6_K, 2>(5, 4352, 2, 2, false);  // 34 units: a 2nd turn
  ExpectKernelEqualsReplay<DType::kQ6_K, 8>(3, 1024, 6, 1, true);
}

TEST(GemvDirectEmulation, Q2K) {
  // 84-byte rows: blocks at shifts 0, 4, 8, 12; the tensor's last load is a partial one.
  ExpectKernelEqualsReplay<DType::kQ2_K, 1>(9, 256, 1, 1, true);
  ExpectKernelEqualsReplay<DType::kQ2_K, 2>(5, 4352, 2, 2, false);  // 34 units: a 2nd turn
  ExpectKernelEqualsReplay<DType::kQ2_K, 8>(3, 1024, 6, 1, true);
}

TEST(GemvDirectEmulation, Q3K) {
  // 110-byte rows: blocks at every even shift; the tensor's last load is a partial one.
  ExpectKernelEqualsReplay<DType::kQ3_K, 1>(9, 256, 1, 1, true);
  ExpectKernelEqualsReplay<DType::kQ3_K, 2>(5, 4352, 2, 2, false);  // 34 units: a 2nd turn
  ExpectKernelEqualsReplay<DType::kQ3_K, 8>(3, 1024, 6, 1, true);
}

TEST(GemvDirectEmulation, Q80) {
  // 136-byte rows: odd rows' units start 8 bytes past a 16-byte boundary; the tensor ends 8
  // bytes past one, so the last unit's ninth load is an 8-byte one.
  ExpectKernelEqualsReplay<DType::kQ8_0, 1>(9, 128, 1, 1, true);
  ExpectKernelEqualsReplay<DType::kQ8_0, 2>(5, 4224, 2, 2, false);  // 33 units: a 2nd turn
  ExpectKernelEqualsReplay<DType::kQ8_0, 8>(3, 1024, 5, 1, true);
}

// The CTAs quantize x themselves: every block of every token, batches of 4 x 64 blocks with a
// partial last batch (k = 4352: 136 blocks a token), several tokens, zero blocks (amax 0).
TEST(GemvDirectEmulation, FusedXQuantizesAsThePreKernel) {
  ExpectKernelEqualsReplay<DType::kQ4_K, 1>(37, 256, 1, 1, true, true);
  ExpectKernelEqualsReplay<DType::kQ4_K, 1>(20, 4352, 1, 3, false, true);
  ExpectKernelEqualsReplay<DType::kQ4_K, 4>(11, 512, 3, 1, false, true);
  ExpectKernelEqualsReplay<DType::kQ5_K, 1>(20, 4352, 1, 3, true, true);
  ExpectKernelEqualsReplay<DType::kQ4_0, 2>(7, 4224, 2, 2, true, true);
  ExpectKernelEqualsReplay<DType::kQ4_1, 1>(6, 1536, 1, 1, false, true);
  ExpectKernelEqualsReplay<DType::kQ5_0, 1>(5, 4224, 1, 2, true, true);
  ExpectKernelEqualsReplay<DType::kQ5_1, 2>(6, 1536, 2, 1, false, true);
  ExpectKernelEqualsReplay<DType::kQ6_K, 2>(5, 4352, 2, 2, true, true);
  ExpectKernelEqualsReplay<DType::kQ2_K, 1>(7, 4352, 1, 2, false, true);
  ExpectKernelEqualsReplay<DType::kQ3_K, 2>(5, 4352, 2, 1, true, true);
  ExpectKernelEqualsReplay<DType::kQ8_0, 8>(3, 1024, 5, 1, true, true);
  ExpectKernelEqualsReplay<DType::kQ8_0, 1>(4, 34816, 1, 1, false, true);  // 1088 blocks
}

TEST(GemvDirectEmulation, FusedXOnlyWhereItFits) {
  using gemv_internal::DirectFusedXBytes;
  using gemv_internal::DirectFusesX;
  using gemv_internal::DirectX;
  // x laid out for the units (XqOffset): rows of whole groups of 32 units, 1.25 bytes a slot.
  // 1 token of k = 14336 (Llama-3-8B's down projection): Q4_K's 224 units are 7 groups, 14336 +
  // 448 x 8 bytes; Q6_K's and Q8_0's 112 of 128 weights take 4 groups, 16384 + 512 x 8.
  EXPECT_EQ(DirectFusedXBytes(64, 1, 14336), 14336 + 448 * 8);
  EXPECT_EQ(DirectFusedXBytes(128, 1, 14336), 16384 + 512 * 8);
  EXPECT_EQ(DirectFusedXBytes(128, 2, 4224), 2 * (8192 + 256 * 8));  // 33 units: 2 groups
  EXPECT_TRUE(DirectFusesX(DirectX::kFused, 64, 1, 14336, true));
  EXPECT_TRUE(DirectFusesX(DirectX::kFused, 128, 2, 14336, true));
  EXPECT_FALSE(DirectFusesX(DirectX::kFused, 64, 4, 14336, true));  // 71.7 KB
  EXPECT_TRUE(DirectFusesX(DirectX::kFused, 64, 8, 4096, true));    // 40 KB
  EXPECT_TRUE(DirectFusesX(DirectX::kFused, 128, 8, 4096, true));
  EXPECT_FALSE(DirectFusesX(DirectX::kFused, 128, 8, 4352, true));  // 2 groups: 80 KB
  EXPECT_FALSE(DirectFusesX(DirectX::kFused, 64, 8, 8192, true));
  // 48 KiB with the kernel's static shared memory, which a launch may not pass without an
  // opt-in: 288 units of 128 (9 groups) fit, 289 (10 groups, 51200 bytes) do not; 608 of 64 (19
  // groups) fit, 612 (20) do not.
  EXPECT_TRUE(DirectFusesX(DirectX::kFused, 128, 1, 36864, true));
  EXPECT_FALSE(DirectFusesX(DirectX::kFused, 128, 1, 36992, true));
  EXPECT_TRUE(DirectFusesX(DirectX::kFused, 64, 1, 38912, true));
  EXPECT_FALSE(DirectFusesX(DirectX::kFused, 64, 1, 39168, true));
  EXPECT_LE(DirectFusedXBytes(128, 1, 36864) + gemv_internal::kDirectStaticSmemBytes, 48 * 1024);
  EXPECT_LE(DirectFusedXBytes(64, 1, 38912) + gemv_internal::kDirectStaticSmemBytes, 48 * 1024);
  EXPECT_FALSE(DirectFusesX(DirectX::kFused, 64, 1, 4096, false));  // x not 16-byte aligned
  EXPECT_FALSE(DirectFusesX(DirectX::kPreKernel, 64, 1, 4096, true));
  // The default: one token only (measured: slower than the pre-kernel from 2 tokens), within the
  // same limits.
  EXPECT_TRUE(DirectFusesX(DirectX::kOneToken, 64, 1, 14336, true));
  EXPECT_TRUE(DirectFusesX(DirectX::kOneToken, 128, 1, 36864, true));
  EXPECT_FALSE(DirectFusesX(DirectX::kOneToken, 128, 1, 36992, true));
  EXPECT_FALSE(DirectFusesX(DirectX::kOneToken, 128, 1, 4096, false));
  EXPECT_FALSE(DirectFusesX(DirectX::kOneToken, 64, 2, 4096, true));
  EXPECT_FALSE(DirectFusesX(DirectX::kOneToken, 128, 8, 128, true));
  EXPECT_EQ(*gemv_internal::ParseDirectX(nullptr), DirectX::kOneToken);
  EXPECT_EQ(*gemv_internal::ParseDirectX(""), DirectX::kOneToken);
  EXPECT_EQ(*gemv_internal::ParseDirectX("fused"), DirectX::kFused);
  EXPECT_EQ(*gemv_internal::ParseDirectX("pre"), DirectX::kPreKernel);
  EXPECT_FALSE(gemv_internal::ParseDirectX("yes").ok());
}

}  // namespace
}  // namespace hearth
