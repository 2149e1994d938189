// The direct integer GEMV's work split and arithmetic on the CPU (gemv_direct.h): the split covers
// every unit of every row exactly once for any shape, the CTAs share the row groups evenly, the
// loads of a unit are 16-byte aligned pieces of its block, and the replay of the kernel's
// sums (the unit arithmetic of the staged integer GEMV, the direct kernel's order) equals a double
// dot product of the dequantized weights (DequantizeCpu, checked against the gguf package
// elsewhere) with the dequantized int8 activations.
#include "kernels/matmul/gemv_direct.h"

#include <gtest/gtest.h>

#include <algorithm>
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

TEST(GemvDirectPlan, CoversEveryUnitAndRowOnce) {
  for (int units = 1; units <= 1024; units += units < 64 ? 1 : 44) {
    for (int n : {1, 3, 16, 17, 769, 4096, 14336}) {
      for (int max_ctas : {1, 7, 132, 396})
        for (int tokens : {1, 2, 4, 8}) {
          // Q4_K groups the most rows (Q6_K and Q8_0 one: RowGroupingPerTypeAndTokens).
          const int rows = gemv_internal::DirectUnit<DType::kQ4_K>::RowsFor(tokens);
          SCOPED_TRACE("n=" + std::to_string(n) + " units=" + std::to_string(units) +
                       " max_ctas=" + std::to_string(max_ctas) + " rows=" + std::to_string(rows));
          const DirectGemvPlan p = gemv_internal::PlanDirectGemv(n, units, rows, max_ctas);
          ASSERT_EQ(p.units_per_row, units);
          // Lanes per row: a power of two from 32 to 256, no more than the units unless below 32.
          ASSERT_TRUE(p.lanes_per_row == 32 || p.lanes_per_row == 64 || p.lanes_per_row == 128 ||
                      p.lanes_per_row == 256);
          ASSERT_TRUE(p.lanes_per_row == 32 || p.lanes_per_row <= p.units_per_row);
          ASSERT_TRUE(p.lanes_per_row == kDirectThreads || 2 * p.lanes_per_row > p.units_per_row);
          ASSERT_EQ(p.row_slots * p.lanes_per_row, kDirectThreads);
          // The final sums use one thread per (slot, row, token) for up to 8 tokens.
          ASSERT_LE(p.row_slots * rows * tokens, kDirectThreads);
          // Each unit of a row once: over the lanes of a slot and their turns.
          std::vector<int> seen(p.units_per_row, 0);
          for (int lane = 0; lane < p.lanes_per_row; ++lane) {
            bool ended = false;
            int lane_units = 0;
            for (int i = 0; i < p.units_per_lane; ++i) {
              const int unit = gemv_internal::DirectUnitOf(p, lane, i);
              if (unit < 0) {
                ended = true;
                continue;
              }
              ASSERT_FALSE(ended) << "a lane's units resume after its end";
              ++seen[unit];
              ++lane_units;
            }
            // The kernel walks a lane's units by this count.
            ASSERT_EQ(gemv_internal::DirectUnitsOfLane(p, lane), lane_units);
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

TEST(GemvDirectPlan, RowGroupingPerTypeAndTokens) {
  using gemv_internal::DirectUnit;
  EXPECT_EQ(DirectUnit<DType::kQ4_K>::RowsFor(1), 4);
  EXPECT_EQ(DirectUnit<DType::kQ4_K>::RowsFor(2), 2);
  EXPECT_EQ(DirectUnit<DType::kQ4_K>::RowsFor(8), 1);
  EXPECT_EQ(DirectUnit<DType::kQ8_0>::RowsFor(1), 1);
  EXPECT_TRUE(gemv_internal::HasDirectGemv(DType::kQ4_K, 256));
  EXPECT_TRUE(gemv_internal::HasDirectGemv(DType::kQ8_0, 4096));
  EXPECT_FALSE(gemv_internal::HasDirectGemv(DType::kQ8_0, 576));  // SmolLM2: 18 blocks a row
  EXPECT_TRUE(gemv_internal::HasDirectGemv(DType::kQ6_K, 4096));
  EXPECT_TRUE(gemv_internal::HasDirectGemv(DType::kQ5_K, 4096));
  EXPECT_TRUE(gemv_internal::HasDirectGemv(DType::kQ4_0, 4096));
  EXPECT_TRUE(gemv_internal::HasDirectGemv(DType::kQ4_1, 1536));
  EXPECT_FALSE(gemv_internal::HasDirectGemv(DType::kQ4_1, 576));  // SmolLM2: 4.5 units a row
  EXPECT_FALSE(gemv_internal::HasDirectGemv(DType::kQ4_0, 4160));
  EXPECT_TRUE(gemv_internal::HasDirectGemv(DType::kQ5_0, 4096));
  EXPECT_TRUE(gemv_internal::HasDirectGemv(DType::kQ5_1, 1536));
  EXPECT_FALSE(gemv_internal::HasDirectGemv(DType::kQ5_0, 576));
  EXPECT_FALSE(gemv_internal::HasDirectGemv(DType::kQ5_1, 4160));
  EXPECT_TRUE(gemv_internal::HasDirectGemv(DType::kQ2_K, 4096));
  EXPECT_TRUE(gemv_internal::HasDirectGemv(DType::kQ2_K, 256));
  EXPECT_TRUE(gemv_internal::HasDirectGemv(DType::kQ3_K, 4096));
  EXPECT_EQ(DirectUnit<DType::kQ2_K>::RowsFor(1), 1);
  EXPECT_EQ(DirectUnit<DType::kQ5_K>::RowsFor(1), 2);
  EXPECT_EQ(DirectUnit<DType::kQ5_K>::RowsFor(2), 2);
  EXPECT_EQ(DirectUnit<DType::kQ5_K>::RowsFor(4), 1);
  EXPECT_EQ(DirectUnit<DType::kQ6_K>::RowsFor(1), 1);
  const DirectGemvPlan p = gemv_internal::PlanDirectGemvFor<DType::kQ8_0>(4096, 14336, 1, 264);
  EXPECT_EQ(p.units_per_row, 112);
  EXPECT_EQ(p.lanes_per_row, 64);
  EXPECT_EQ(p.units_per_lane, 2);
}

// Every load of a unit is 16-byte aligned and starts inside the tensor (a Q8_0 or Q6_K unit's last
// load may pass its end: the kernel then reads the bytes before the end one by one), and the loads
// of a row's units cover every byte of the row.
template <DType T>
void ExpectLoadsCoverUnits(int n, int k) {
  using Unit = gemv_internal::DirectUnit<T>;
  SCOPED_TRACE(std::string(DTypeName(T)) + " n=" + std::to_string(n) + " k=" + std::to_string(k));
  const int64_t row_bytes = Unit::RowBytes(k);
  ASSERT_EQ(row_bytes, *DTypeBytes(T, k));
  const int64_t tensor_end = n * row_bytes;
  for (int row = 0; row < n; ++row) {
    std::vector<int> covered(row_bytes, 0);
    for (int unit = 0; unit < k / Unit::kWeights; ++unit) {
      const int64_t last = Unit::VecOffset(unit, Unit::kVecs - 1, row * row_bytes);
      // LoadUnit checks only the last load against the tensor's end (none for kLoadsInBlock).
      if (Unit::kLoadsInBlock) {
        ASSERT_LE(last + 16, (row + 1) * row_bytes);
      }
      for (int v = 0; v < Unit::kVecs; ++v) {
        const int64_t off = Unit::VecOffset(unit, v, row * row_bytes);
        ASSERT_EQ(off % 16, 0);
        ASSERT_GE(off, 0);
        ASSERT_LE(off, last) << "the last load is not the one reaching furthest";
        ASSERT_LT(off, tensor_end);  // the kernel reads a load passing the end byte by byte
        for (int64_t b = std::max<int64_t>(off, row * row_bytes);
             b < std::min<int64_t>(off + 16, (row + 1) * row_bytes); ++b) {
          covered[b - row * row_bytes] = 1;
        }
      }
    }
    for (int64_t b = 0; b < row_bytes; ++b)
      ASSERT_EQ(covered[b], 1) << "row " << row << " byte " << b;
  }
}

TEST(GemvDirectPlan, LoadsAreAlignedAndCoverEveryByte) {
  ExpectLoadsCoverUnits<DType::kQ4_K>(3, 1280);
  ExpectLoadsCoverUnits<DType::kQ5_K>(3, 1280);
  ExpectLoadsCoverUnits<DType::kQ4_0>(3, 128);   // 72-byte rows: units 8 bytes off on odd rows
  ExpectLoadsCoverUnits<DType::kQ4_0>(5, 4224);  // 33 units a row
  ExpectLoadsCoverUnits<DType::kQ4_1>(3, 128);   // 80-byte rows
  ExpectLoadsCoverUnits<DType::kQ4_1>(2, 4224);
  ExpectLoadsCoverUnits<DType::kQ5_0>(3, 128);  // 88-byte rows: units 8 bytes off on odd rows
  ExpectLoadsCoverUnits<DType::kQ5_0>(5, 4224);
  ExpectLoadsCoverUnits<DType::kQ5_1>(3, 128);  // 96-byte rows
  ExpectLoadsCoverUnits<DType::kQ5_1>(2, 4224);
  ExpectLoadsCoverUnits<DType::kQ8_0>(3, 128);   // 136-byte rows: units 8 bytes off on odd rows
  ExpectLoadsCoverUnits<DType::kQ8_0>(5, 4224);  // 33 units a row
  ExpectLoadsCoverUnits<DType::kQ6_K>(9, 256);   // 210-byte rows: every shift 0..14
  ExpectLoadsCoverUnits<DType::kQ6_K>(2, 4096);
  ExpectLoadsCoverUnits<DType::kQ2_K>(5, 256);  // 84-byte rows: every shift 0, 4, 8, 12
  ExpectLoadsCoverUnits<DType::kQ2_K>(3, 4352);
  ExpectLoadsCoverUnits<DType::kQ3_K>(9, 256);  // 110-byte rows: every even shift 0..14
  ExpectLoadsCoverUnits<DType::kQ3_K>(3, 4352);
}

TEST(GemvDirectPlan, ShiftWordsTakesTheBytesAtAnyEvenShift) {
  uint8_t bytes[48];
  for (int i = 0; i < 48; ++i) bytes[i] = static_cast<uint8_t>(i * 7 + 1);
  uint32_t in[12];
  std::memcpy(in, bytes, sizeof(in));
  for (int shift = 0; shift <= 14; shift += 2) {
    uint32_t out[8];
    gemv_internal::ShiftWords<8>(in, shift, out);
    EXPECT_EQ(std::memcmp(out, bytes + shift, sizeof(out)), 0) << "shift " << shift;
  }
}

template <DType T>
void ReplayMatchesDequantizedDot(int n, int k, int num_tokens) {
  using Unit = gemv_internal::DirectUnit<T>;
  SCOPED_TRACE(std::string(DTypeName(T)) + " n=" + std::to_string(n) + " k=" + std::to_string(k));
  const std::vector<uint8_t> w = testing::RandomWeights(T, int64_t{n} * k, 41 + k);
  std::vector<float> wf(int64_t{n} * k);
  ASSERT_TRUE(DequantizeCpu(T, w.data(), wf.data(), wf.size()).ok());
  const std::vector<float> x = testing::RandomVector(size_t(num_tokens) * k, 42 + k);
  const DirectGemvPlan plan = gemv_internal::PlanDirectGemvFor<T>(n, k, num_tokens, 132);
  ASSERT_EQ(Unit::RowBytes(k), *DTypeBytes(T, k));
  std::vector<float> got(size_t(num_tokens) * n), ref(got.size()), ref_float(got.size());
  std::vector<int8_t> xq(k);
  std::vector<XScale> xs(k / 32);
  for (int t = 0; t < num_tokens; ++t) {
    gemv_internal::QuantizeRowQ8Cpu(x.data() + size_t(t) * k, k, xq.data(), xs.data());
    for (int row = 0; row < n; ++row) {
      got[size_t(t) * n + row] =
          gemv_internal::ReplayDirectRow<T>(plan, w.data(), row, k, xq.data(), xs.data());
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
  ASSERT_TRUE(MatmulCpu(T, w.data(), x.data(), nullptr, ref_float.data(), num_tokens, n, k).ok());
  EXPECT_LT(testing::RelL2(got, ref_float), 1e-2);
}

TEST(GemvDirectReplay, Q4KMatchesDequantizedDot) {
  ReplayMatchesDequantizedDot<DType::kQ4_K>(37, 256, 2);   // 4 pairs: 28 idle lanes of 32
  ReplayMatchesDequantizedDot<DType::kQ4_K>(9, 4352, 1);   // 68 pairs: 64 lanes, 2nd turn for 4
  ReplayMatchesDequantizedDot<DType::kQ4_K>(5, 14336, 2);  // 224 pairs: 128 lanes, 2 turns
  ReplayMatchesDequantizedDot<DType::kQ4_K>(2, 65536, 1);  // 1024 pairs: 256 lanes, 4 turns
}

// Q5_K against DequantizeCpu (checked against the gguf package's dequantizer in dequant_test):
// the fifth bits of all four pairs of a block, both halves of a pair, the mins.
TEST(GemvDirectReplay, Q5KMatchesDequantizedDot) {
  ReplayMatchesDequantizedDot<DType::kQ5_K>(37, 256, 2);   // 4 pairs: 28 idle lanes of 32
  ReplayMatchesDequantizedDot<DType::kQ5_K>(9, 4352, 1);   // 68 pairs: 64 lanes, 2nd turn for 4
  ReplayMatchesDequantizedDot<DType::kQ5_K>(5, 14336, 2);  // 224 pairs: 128 lanes, 2 turns
}

// Q4_0 (m = -8d, blocks at every 18-byte place of a unit, units 8 bytes off on odd rows) and Q4_1
// (the min through the x blocks' sums); Q5_0 (m = -16d, 22-byte blocks) and Q5_1 (24-byte blocks)
// with their fifth bits.
TEST(GemvDirectReplay, Q40Q41Q50Q51MatchDequantizedDot) {
  ReplayMatchesDequantizedDot<DType::kQ4_0>(7, 128, 2);    // 72-byte rows, both shifts
  ReplayMatchesDequantizedDot<DType::kQ4_0>(5, 4224, 1);   // 33 units: 32 lanes, a 2nd turn
  ReplayMatchesDequantizedDot<DType::kQ4_0>(3, 14336, 2);  // 112 units: 64 lanes, 2 turns
  ReplayMatchesDequantizedDot<DType::kQ4_1>(7, 128, 2);
  ReplayMatchesDequantizedDot<DType::kQ4_1>(5, 4224, 1);
  ReplayMatchesDequantizedDot<DType::kQ4_1>(3, 1536, 2);  // SmolLM2's down projection
  ReplayMatchesDequantizedDot<DType::kQ5_0>(7, 128, 2);   // 88-byte rows, both shifts
  ReplayMatchesDequantizedDot<DType::kQ5_0>(5, 4224, 1);
  ReplayMatchesDequantizedDot<DType::kQ5_0>(3, 14336, 2);
  ReplayMatchesDequantizedDot<DType::kQ5_1>(7, 128, 2);
  ReplayMatchesDequantizedDot<DType::kQ5_1>(5, 4224, 1);
  ReplayMatchesDequantizedDot<DType::kQ5_1>(3, 1536, 2);
}

// Q2_K: both halves of a block at every shift, all four quarters' 2-bit planes, the 16 groups'
// scales and mins.
TEST(GemvDirectReplay, Q2KMatchesDequantizedDot) {
  ReplayMatchesDequantizedDot<DType::kQ2_K>(9, 256, 2);    // 2 units a row, every block shift
  ReplayMatchesDequantizedDot<DType::kQ2_K>(5, 4352, 1);   // 34 units: a 2nd turn for 2 lanes
  ReplayMatchesDequantizedDot<DType::kQ2_K>(3, 14336, 2);  // 112 units: 64 lanes, 2 turns
}

// Q3_K: both halves at every shift, the hmask bit planes of both halves, the 6-bit scales' low
// nibbles (by half) and high bit pairs.
TEST(GemvDirectReplay, Q3KMatchesDequantizedDot) {
  ReplayMatchesDequantizedDot<DType::kQ3_K>(9, 256, 2);
  ReplayMatchesDequantizedDot<DType::kQ3_K>(5, 4352, 1);
  ReplayMatchesDequantizedDot<DType::kQ3_K>(3, 14336, 2);
}

TEST(GemvDirectReplay, Q6KMatchesDequantizedDot) {
  ReplayMatchesDequantizedDot<DType::kQ6_K>(9, 256, 2);    // 2 units a row, every block shift
  ReplayMatchesDequantizedDot<DType::kQ6_K>(5, 4352, 1);   // 34 units: a 2nd turn for 2 lanes
  ReplayMatchesDequantizedDot<DType::kQ6_K>(3, 14336, 2);  // 112 units: 64 lanes, 2 turns
}

TEST(GemvDirectReplay, Q80MatchesDequantizedDot) {
  ReplayMatchesDequantizedDot<DType::kQ8_0>(7, 128, 2);    // 136-byte rows, both shifts
  ReplayMatchesDequantizedDot<DType::kQ8_0>(5, 4224, 1);   // 33 units: 32 lanes, a 2nd turn
  ReplayMatchesDequantizedDot<DType::kQ8_0>(3, 14336, 2);  // 112 units: 64 lanes, 2 turns
}

// The direct GEMV's x layout (gemv_q8_unit.h): rows of whole groups of 32 units; every element
// and scale on its own place inside its row; a warp's lanes (consecutive units of a group) read
// piece j as 512 contiguous bytes, j * 512 past piece 0; a 64-weight unit's scales where the plain
// layout has them.
template <int kW>
void ExpectXLayout(int k) {
  SCOPED_TRACE("unit weights " + std::to_string(kW) + " k=" + std::to_string(k));
  const int64_t pitch = gemv_internal::XRowBytesFor(kW, k);
  const int64_t group_bytes = int64_t{gemv_internal::kXGroupUnits} * kW;
  ASSERT_EQ(pitch % group_bytes, 0);
  ASSERT_GE(pitch, k);
  ASSERT_LT(pitch, k + group_bytes);
  ASSERT_EQ(gemv_internal::XRowScalesFor(kW, k) * 32, pitch);
  std::vector<int> hits(pitch, 0);
  for (int e = 0; e < k; ++e) {
    const int64_t at = gemv_internal::XqOffset<kW>(e);
    ASSERT_GE(at, 0);
    ASSERT_LT(at, pitch);
    ASSERT_EQ(++hits[at], 1) << "element " << e;
    const int u = e / kW, piece = e % kW / 16;
    const int64_t piece0 = gemv_internal::XqOffset<kW>(u * kW + e % 16);
    ASSERT_EQ(at, piece0 + piece * 512) << "piece " << piece << " of unit " << u;
    if (u % gemv_internal::kXGroupUnits != 0) {  // the lane before, the same piece: 16 bytes before
      ASSERT_EQ(at, gemv_internal::XqOffset<kW>(e - kW) + 16);
    }
  }
  std::vector<int> scale_hits(gemv_internal::XRowScalesFor(kW, k), 0);
  for (int b = 0; b < k / 32; ++b) {
    const int64_t at = gemv_internal::XsIndex<kW>(b);
    ASSERT_LT(at, static_cast<int64_t>(scale_hits.size()));
    ASSERT_EQ(++scale_hits[at], 1) << "block " << b;
    if (kW == 64) ASSERT_EQ(at, b);
    const int u = b / (kW / 32), i = b % (kW / 32);  // piece i / 2 of the unit's scales
    ASSERT_EQ(at, gemv_internal::XsIndex<kW>(u * (kW / 32) + i % 2) + i / 2 * 64);
  }
}

TEST(GemvDirectPlan, XLaidOutForTheUnits) {
  for (int k : {64, 256, 1984, 2048, 4096, 4160, 14336}) ExpectXLayout<64>(k);
  for (int k : {128, 256, 3968, 4096, 4224, 14336}) ExpectXLayout<128>(k);
  EXPECT_EQ(gemv_internal::XRowBytesFor(64, 14336), 14336);   // Q4_K: 7 whole groups
  EXPECT_EQ(gemv_internal::XRowBytesFor(128, 14336), 16384);  // Q6_K, Q8_0: 3.5 groups
  EXPECT_EQ(gemv_internal::XRowBytesFor(0, 576), 576);        // plain
  using gemv_internal::DirectUnitWeights;
  EXPECT_EQ(DirectUnitWeights<DType::kQ4_K>(), 64);
  EXPECT_EQ(DirectUnitWeights<DType::kQ5_K>(), 64);
  EXPECT_EQ(DirectUnitWeights<DType::kQ8_0>(), 128);
  EXPECT_EQ(DirectUnitWeights<DType::kQ6_K>(), 128);
  EXPECT_EQ(DirectUnitWeights<DType::kQ2_K>(), 128);
  EXPECT_EQ(DirectUnitWeights<DType::kQ3_K>(), 128);
  EXPECT_EQ(DirectUnitWeights<DType::kQ4_0>(), 128);
  EXPECT_EQ(DirectUnitWeights<DType::kQ4_1>(), 128);
  EXPECT_EQ(DirectUnitWeights<DType::kQ5_0>(), 128);
  EXPECT_EQ(DirectUnitWeights<DType::kQ5_1>(), 128);
  EXPECT_EQ(DirectUnitWeights<DType::kBF16>(), 0);
}

}  // namespace
}  // namespace hearth
