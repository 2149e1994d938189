// The direct integer GEMV's work split and arithmetic on the CPU (gemv_direct.h): the split covers
// every pair of every row exactly once for any shape, the CTAs share the row groups evenly, the
// three loads of a pair are 16-byte aligned pieces of its block, and the replay of the kernel's
// sums (the unit arithmetic of the staged integer GEMV, the direct kernel's order) equals a double
// dot product of the dequantized weights (DequantizeCpu, checked against the gguf package
// elsewhere) with the dequantized int8 activations.
#include "kernels/matmul/gemv_direct.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "kernels/matmul/matmul.h"
#include "kernels/quant/dequant.h"
#include "tests/kernels/quant/random_blocks.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

using gemv_internal::DirectGemvPlan;
using gemv_internal::kDirectThreads;
using gemv_internal::XScale;

TEST(GemvDirectPlan, CoversEveryPairAndRowOnce) {
  for (int k = 256; k <= 65536; k += k < 4096 ? 256 : 2816) {
    for (int n : {1, 3, 16, 17, 769, 4096, 14336}) {
      for (int max_ctas : {1, 7, 132, 396})
        for (int tokens : {1, 2, 4, 8}) {
          const int rows = gemv_internal::DirectRowsFor(tokens);
          SCOPED_TRACE("n=" + std::to_string(n) + " k=" + std::to_string(k) +
                       " max_ctas=" + std::to_string(max_ctas) + " rows=" + std::to_string(rows));
          const DirectGemvPlan p = gemv_internal::PlanDirectGemv(n, k, rows, max_ctas);
          ASSERT_EQ(p.pairs_per_row, k / 64);
          // Lanes per row: a power of two from 32 to 256, no more than the pairs unless below 32.
          ASSERT_TRUE(p.lanes_per_row == 32 || p.lanes_per_row == 64 || p.lanes_per_row == 128 ||
                      p.lanes_per_row == 256);
          ASSERT_TRUE(p.lanes_per_row == 32 || p.lanes_per_row <= p.pairs_per_row);
          ASSERT_TRUE(p.lanes_per_row == kDirectThreads || 2 * p.lanes_per_row > p.pairs_per_row);
          ASSERT_EQ(p.row_slots * p.lanes_per_row, kDirectThreads);
          // The final sums use one thread per (slot, row, token) for up to 8 tokens.
          ASSERT_LE(p.row_slots * rows * tokens, kDirectThreads);
          ASSERT_LE(rows, gemv_internal::kDirectMaxRows);
          // Each pair of a row once: over the lanes of a slot and their turns.
          std::vector<int> seen(p.pairs_per_row, 0);
          for (int lane = 0; lane < p.lanes_per_row; ++lane) {
            bool ended = false;
            for (int i = 0; i < p.pairs_per_lane; ++i) {
              const int pair = gemv_internal::DirectPairOf(p, lane, i);
              if (pair < 0) {
                ended = true;
                continue;
              }
              ASSERT_FALSE(ended) << "a lane's pairs resume after its end";
              ++seen[pair];
            }
          }
          for (int c : seen) ASSERT_EQ(c, 1);
          // Each row once: over the groups, slots and rows of a slot (rows past n are skipped).
          std::vector<int> covered(static_cast<size_t>(p.num_groups) * p.rows_per_group, 0);
          for (int g = 0; g < p.num_groups; ++g)
            for (int slot = 0; slot < p.row_slots; ++slot)
              for (int r = 0; r < p.rows_per_slot; ++r) {
                ++covered[gemv_internal::DirectRowOf(p, g, slot, r)];
              }
          for (int row = 0; row < n; ++row) ASSERT_EQ(covered[row], 1);
          ASSERT_LT(static_cast<int64_t>(p.num_groups - 1) * p.rows_per_group, n);
          // The threads of a warp share a slot (warp butterflies stay inside one row).
          for (int tid = 0; tid < kDirectThreads; ++tid) {
            ASSERT_EQ(gemv_internal::DirectLaneOf(p, tid).slot,
                      gemv_internal::DirectLaneOf(p, tid / 32 * 32).slot);
          }
          // CTAs: no more than fit, and grid-striding gives each the same groups, give or take one,
          // with no CTA left without any.
          ASSERT_GE(p.num_ctas, 1);
          ASSERT_LE(p.num_ctas, max_ctas);
          ASSERT_LE(p.num_ctas, p.num_groups);
          const int most = (p.num_groups + p.num_ctas - 1) / p.num_ctas;
          ASSERT_EQ(most, (p.num_groups + max_ctas - 1) / max_ctas) << "a CTA does extra groups";
        }
    }
  }
}

TEST(GemvDirectPlan, PairLoadsAreAlignedPiecesOfTheirBlock) {
  for (int pair = 0; pair < 64; ++pair) {
    const gemv_internal::PairOffsets o = gemv_internal::PairOffsetsOf(pair);
    const int64_t block = pair / 4 * 144;
    EXPECT_EQ(o.header, block);
    EXPECT_EQ(o.header % 16, 0);
    EXPECT_EQ(o.quants0 % 16, 0);
    EXPECT_EQ(o.quants1, o.quants0 + 16);
    // qs[32p, 32p + 32) at block offset 16.
    EXPECT_EQ(o.quants0, block + 16 + 32 * (pair % 4));
    EXPECT_LE(o.quants1 + 16, block + 144);
    EXPECT_EQ(gemv_internal::PairXOffset(pair), 64 * pair);
    EXPECT_EQ(gemv_internal::PairXBlock(pair), 2 * pair);
  }
}

void ReplayMatchesDequantizedDot(int n, int k, int num_tokens) {
  SCOPED_TRACE("n=" + std::to_string(n) + " k=" + std::to_string(k));
  const std::vector<uint8_t> w = testing::RandomWeights(DType::kQ4_K, int64_t{n} * k, 41 + k);
  std::vector<float> wf(int64_t{n} * k);
  ASSERT_TRUE(DequantizeCpu(DType::kQ4_K, w.data(), wf.data(), wf.size()).ok());
  const std::vector<float> x = testing::RandomVector(size_t(num_tokens) * k, 42 + k);
  const DirectGemvPlan plan = gemv_internal::PlanDirectGemv(n, k, 4, 132);
  const int64_t row_bytes = *DTypeBytes(DType::kQ4_K, k);
  std::vector<float> got(size_t(num_tokens) * n), ref(got.size()), ref_float(got.size());
  std::vector<int8_t> xq(k);
  std::vector<XScale> xs(k / 32);
  for (int t = 0; t < num_tokens; ++t) {
    gemv_internal::QuantizeRowQ8Cpu(x.data() + size_t(t) * k, k, xq.data(), xs.data());
    for (int row = 0; row < n; ++row) {
      got[size_t(t) * n + row] =
          gemv_internal::ReplayDirectRow(plan, w.data() + row * row_bytes, xq.data(), xs.data());
      double r = 0.0;
      for (int i = 0; i < k; ++i) {
        r += static_cast<double>(wf[int64_t{row} * k + i]) * xs[i / 32].d * xq[i];
      }
      ref[size_t(t) * n + row] = static_cast<float>(r);
    }
  }
  // Only float32 rounding of the per-unit scale products and the sums remains.
  EXPECT_LT(testing::RelL2(got, ref), 2e-6);
  // Against the unquantized activations: the int8 rounding of x, ~4e-3 for uniform x.
  ASSERT_TRUE(
      MatmulCpu(DType::kQ4_K, w.data(), x.data(), nullptr, ref_float.data(), num_tokens, n, k)
          .ok());
  EXPECT_LT(testing::RelL2(got, ref_float), 1e-2);
}

TEST(GemvDirectReplay, MatchesDequantizedDot) {
  ReplayMatchesDequantizedDot(37, 256, 2);   // 4 pairs: 28 idle lanes of 32
  ReplayMatchesDequantizedDot(9, 4352, 1);   // 68 pairs: 64 lanes, a second turn for 4
  ReplayMatchesDequantizedDot(5, 14336, 2);  // 224 pairs: 128 lanes, 2 turns
  ReplayMatchesDequantizedDot(2, 65536, 1);  // 1024 pairs: 256 lanes, 4 turns
}

}  // namespace
}  // namespace hearth
