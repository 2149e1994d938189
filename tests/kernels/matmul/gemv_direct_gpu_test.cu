// The direct integer GEMV (Q4_K, Q6_K, Q8_0) on the GPU against its CPU replay, bit for bit: the
// kernel and ReplayDirectRow (gemv_direct.h) run the same unit arithmetic in the same order, and
// the pre-kernel's int8 x equals QuantizeRowQ8Cpu's. Shapes cover partial row groups, 1 to 8 row
// slots, 1 to 4 pairs per lane, 1..8 tokens, bf16 and fp16 outputs, with and without bias.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "kernels/matmul/gemv_direct.h"
#include "kernels/matmul/matmul.h"
#include "tests/kernels/quant/random_blocks.h"
#include "tests/support/device_buffer.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

using gemv_internal::XScale;
using testing::DeviceBuffer;

// The direct GEMV's output for w [n, k] of w_type and x [num_tokens, k] (floats exactly
// representable in act), as floats.
std::vector<float> RunDirect(DType w_type, const std::vector<uint8_t>& w, DType act,
                             const std::vector<float>& x, const std::vector<float>* bias,
                             int num_tokens, int n, int k) {
  const int64_t scratch_bytes = QuantGemvQ8ScratchBytes(num_tokens, k);
  DeviceBuffer dw = DeviceBuffer::FromVector(w), dx = DeviceBuffer::FromFloats(act, x),
               db = DeviceBuffer::FromFloats(act, bias ? *bias : std::vector<float>(n)),
               dy(size_t(num_tokens) * n * 2), scratch(scratch_bytes);
  dy.Poison();
  const Status s =
      LaunchQuantGemvQ8Direct(w_type, dw.get(), act, dx.get(), bias ? db.get() : nullptr, dy.get(),
                              num_tokens, n, k, scratch.get(), scratch_bytes, nullptr);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return dy.Floats(act);
}

template <DType T>
void ExpectEqualsReplay(int n, int k, int num_tokens, DType act, bool with_bias) {
  SCOPED_TRACE(std::string(DTypeName(T)) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
               " num_tokens=" + std::to_string(num_tokens) + " act=" + std::string(DTypeName(act)) +
               " bias=" + std::to_string(with_bias));
  const std::vector<uint8_t> w = testing::RandomWeights(T, int64_t{n} * k, 5 + k);
  const std::vector<float> x =
      testing::RoundTo(act, testing::RandomVector(size_t(num_tokens) * k, 6 + k, -2.f, 2.f));
  const std::vector<float> bias = testing::RoundTo(act, testing::RandomVector(n, 7, -0.5f, 0.5f));

  // The replay on the CPU, rounded to act as the kernel rounds its float sums.
  const gemv_internal::DirectGemvPlan plan =
      gemv_internal::PlanDirectGemvFor<T>(n, k, num_tokens, 1);
  std::vector<int8_t> xq(k);
  std::vector<XScale> xs(k / 32);
  std::vector<float> want(size_t(num_tokens) * n);
  for (int t = 0; t < num_tokens; ++t) {
    gemv_internal::QuantizeRowQ8Cpu(x.data() + size_t(t) * k, k, xq.data(), xs.data());
    for (int row = 0; row < n; ++row) {
      float sum = gemv_internal::ReplayDirectRow<T>(plan, w.data(), row, k, xq.data(), xs.data());
      if (with_bias) sum += bias[row];
      want[size_t(t) * n + row] = sum;
    }
  }
  want = testing::RoundTo(act, want);

  const std::vector<float> got =
      RunDirect(T, w, act, x, with_bias ? &bias : nullptr, num_tokens, n, k);
  size_t mismatches = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    // Bitwise: the poison (NaN) never equals.
    if (std::memcmp(&got[i], &want[i], 4) != 0 && mismatches++ == 0) first = i;
  }
  EXPECT_EQ(mismatches, 0u) << "first at token " << first / n << " row " << first % n << ": gpu "
                            << got[first] << " replay " << want[first];
}

// Each shape (n, k) with 1, 3 (and a bias) and 8 tokens of bf16, and 2 of fp16 with a bias.
template <DType T>
void ExpectShapesEqualReplay(std::initializer_list<std::pair<int, int>> shapes) {
  for (const auto& [n, k] : shapes) {
    for (int num_tokens : {1, 3, 8}) {
      ExpectEqualsReplay<T>(n, k, num_tokens, DType::kBF16, num_tokens == 3);
    }
    ExpectEqualsReplay<T>(n, k, 2, DType::kF16, true);
  }
}

TEST(GemvDirectGpu, EqualsCpuReplayBitForBit) {
  HEARTH_REQUIRE_GPU();
  // Q4_K: 8 row slots of 32 lanes with 4 pairs and 28 idle lanes; 20 pairs; 68 pairs (2 slots of
  // 64, pairs 64..67 on a second turn); 224 pairs (128 lanes, 2 turns); 1024 pairs.
  ExpectShapesEqualReplay<DType::kQ4_K>(
      {{37, 256}, {5, 1280}, {67, 4352}, {300, 14336}, {9, 65536}});
  // Q5_K: the same pairs as Q4_K's (2 rows a slot at 1-2 tokens).
  ExpectShapesEqualReplay<DType::kQ5_K>(
      {{37, 256}, {5, 1280}, {67, 4352}, {300, 14336}, {9, 65536}});
  // Q6_K: 210-byte rows (blocks at every even shift, a partial last load), 34 units (a second
  // turn), 112 units, 512 units.
  ExpectShapesEqualReplay<DType::kQ6_K>({{9, 256}, {31, 4352}, {300, 14336}, {4, 65536}});
  // Q2_K: 84-byte rows (blocks at shifts 0, 4, 8, 12, a partial last load), the same unit counts
  // as Q6_K's.
  ExpectShapesEqualReplay<DType::kQ2_K>({{9, 256}, {31, 4352}, {300, 14336}, {4, 65536}});
  // Q3_K: 110-byte rows (blocks at every even shift, a partial last load).
  ExpectShapesEqualReplay<DType::kQ3_K>({{9, 256}, {31, 4352}, {300, 14336}, {4, 65536}});
  // Q8_0: 136-byte rows (units 8 bytes off on odd rows, a partial last load), 33 units (a second
  // turn), 112 units (64 lanes, 2 turns), 512 units.
  ExpectShapesEqualReplay<DType::kQ8_0>({{9, 128}, {31, 4224}, {300, 14336}, {4, 65536}});
  // Q4_0: 72-byte units of 4 blocks (odd rows 8 bytes off, as Q8_0's); Q4_1: 80-byte units, every
  // row aligned. The same unit counts as Q8_0's.
  ExpectShapesEqualReplay<DType::kQ4_0>({{9, 128}, {31, 4224}, {300, 14336}, {4, 65536}});
  ExpectShapesEqualReplay<DType::kQ4_1>({{9, 128}, {31, 4224}, {300, 14336}, {4, 65536}});
  // Q5_0: 88-byte units (Q4_0's shifts), Q5_1: 96-byte units (aligned), six loads.
  ExpectShapesEqualReplay<DType::kQ5_0>({{9, 128}, {31, 4224}, {300, 14336}, {4, 65536}});
  ExpectShapesEqualReplay<DType::kQ5_1>({{9, 128}, {31, 4224}, {300, 14336}, {4, 65536}});
}

// At the edge of DirectFusesX (gemv_direct.h): the largest x a CTA quantizes into its 48 KiB of
// shared memory beside the kernel's static 256 bytes (beyond them a launch without an opt-in
// fails), and just past it, where the pre-kernel takes over. The 8-token case is fused under
// HEARTH_DIRECT_X=fused (ctest's gemv_direct_gpu_test_fused; the default fuses 1 token only).
TEST(GemvDirectGpu, FusedXAtTheSharedMemoryEdge) {
  HEARTH_REQUIRE_GPU();
  using gemv_internal::DirectFusesX;
  using gemv_internal::DirectX;
  // x laid out for the units: rows of whole groups of 32 units (gemv_direct_emulation_test's
  // FusedXOnlyWhereItFits has the sizes).
  ASSERT_TRUE(DirectFusesX(DirectX::kFused, 128, 1, 36864, true));
  ASSERT_FALSE(DirectFusesX(DirectX::kFused, 128, 1, 36992, true));
  ASSERT_TRUE(DirectFusesX(DirectX::kFused, 64, 1, 38912, true));
  ASSERT_FALSE(DirectFusesX(DirectX::kFused, 64, 1, 39168, true));
  ASSERT_TRUE(DirectFusesX(DirectX::kFused, 128, 8, 4096, true));
  ASSERT_FALSE(DirectFusesX(DirectX::kFused, 128, 8, 4352, true));
  ExpectEqualsReplay<DType::kQ8_0>(7, 36864, 1, DType::kBF16, false);
  ExpectEqualsReplay<DType::kQ8_0>(7, 36992, 1, DType::kBF16, false);
  ExpectEqualsReplay<DType::kQ4_K>(7, 38912, 1, DType::kBF16, true);
  ExpectEqualsReplay<DType::kQ4_K>(7, 39168, 1, DType::kF16, false);
  ExpectEqualsReplay<DType::kQ5_K>(7, 38912, 1, DType::kF16, false);
  ExpectEqualsReplay<DType::kQ6_K>(5, 4096, 8, DType::kF16, false);
  ExpectEqualsReplay<DType::kQ6_K>(5, 4352, 8, DType::kBF16, true);
  ExpectEqualsReplay<DType::kQ2_K>(7, 36864, 1, DType::kBF16, true);
  ExpectEqualsReplay<DType::kQ3_K>(7, 36864, 1, DType::kF16, false);
  ExpectEqualsReplay<DType::kQ4_0>(7, 36864, 1, DType::kBF16, true);
  ExpectEqualsReplay<DType::kQ4_1>(7, 36992, 1, DType::kF16, false);
  ExpectEqualsReplay<DType::kQ5_0>(7, 36864, 1, DType::kF16, true);
  ExpectEqualsReplay<DType::kQ5_1>(7, 36992, 1, DType::kBF16, false);
}

// More row groups than the device holds CTAs at once (grid-stride loop), against MatmulCpu on the
// int8 round trip of x.
TEST(GemvDirectGpu, ManyRowGroupsMatchCpu) {
  HEARTH_REQUIRE_GPU();
  const int n = 14336 * 2 + 5, k = 4096, num_tokens = 1;
  for (DType w_type : {DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ2_K,
                       DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kQ8_0}) {
    SCOPED_TRACE(std::string(DTypeName(w_type)));
    const std::vector<uint8_t> w = testing::RandomWeights(w_type, int64_t{n} * k, 9);
    const std::vector<float> x =
        testing::RoundTo(DType::kBF16, testing::RandomVector(size_t(num_tokens) * k, 10));
    std::vector<float> xq = x;
    QuantizeActivationsQ8Cpu(xq.data(), num_tokens, k);
    std::vector<float> ref(size_t(num_tokens) * n);
    ASSERT_TRUE(MatmulCpu(w_type, w.data(), xq.data(), nullptr, ref.data(), num_tokens, n, k).ok());
    const std::vector<float> got = RunDirect(w_type, w, DType::kBF16, x, nullptr, num_tokens, n, k);
    EXPECT_LT(testing::RelL2(got, ref), 4e-3);  // bf16 output rounding
  }
}

}  // namespace
}  // namespace hearth
