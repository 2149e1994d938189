// DequantizeCpu unit tests. The numerical oracle is check_dequant_oracle.py (bit-exact against
// the gguf package on every tensor of tiny-random-llama); these cover hand-made blocks and the
// error paths.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/core/half.h"
#include "kernels/quant/block_decode.h"
#include "kernels/quant/blocks.h"
#include "kernels/quant/dequant.h"
#include "tests/kernels/quant/random_blocks.h"

namespace hearth {
namespace {

// The decoders' conversion trick is exact over its whole documented range.
TEST(DequantCpuTest, ExactFloatEqualsConversion) {
  for (int q = -(1 << 22) + 1; q < (1 << 22); ++q) {
    ASSERT_EQ(quant::ExactFloat(q), static_cast<float>(q)) << q;
  }
}

TEST(DequantCpuTest, Q8_0HandMadeBlock) {
  quant::BlockQ8_0 b{};
  b.d = FloatToFp16(0.5f);
  for (int i = 0; i < 32; ++i) b.qs[i] = static_cast<int8_t>(i - 16);
  std::vector<float> out(32);
  ASSERT_TRUE(DequantizeCpu(DType::kQ8_0, &b, out.data(), 32).ok());
  for (int i = 0; i < 32; ++i) EXPECT_EQ(out[i], 0.5f * (i - 16)) << i;
}

TEST(DequantCpuTest, Q4_0NibbleOrder) {
  quant::BlockQ4_0 b{};
  b.d = FloatToFp16(1.0f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>((j & 15) | ((15 - j) << 4));
  std::vector<float> out(32);
  ASSERT_TRUE(DequantizeCpu(DType::kQ4_0, &b, out.data(), 32).ok());
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], static_cast<float>(j - 8));
    EXPECT_EQ(out[16 + j], static_cast<float>(15 - j - 8));
  }
}

TEST(DequantCpuTest, Q6_KZeroQuantsGiveMinus32Scaled) {
  quant::BlockQ6_K b{};
  b.d = FloatToFp16(0.25f);
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(j - 8);
  std::vector<float> out(256);
  ASSERT_TRUE(DequantizeCpu(DType::kQ6_K, &b, out.data(), 256).ok());
  for (int e = 0; e < 256; ++e) EXPECT_EQ(out[e], 0.25f * (e / 16 - 8) * -32.f) << e;
}

TEST(DequantCpuTest, PlainTypesWithPartialGroup) {
  std::vector<uint16_t> h = {FloatToFp16(1.5f), FloatToFp16(-2.f), FloatToFp16(0.25f)};
  std::vector<float> out(3);
  ASSERT_TRUE(DequantizeCpu(DType::kF16, h.data(), out.data(), 3).ok());
  EXPECT_EQ(out, (std::vector<float>{1.5f, -2.f, 0.25f}));
  std::vector<uint16_t> bf = {FloatToBf16(3.f), FloatToBf16(-0.5f)};
  ASSERT_TRUE(DequantizeCpu(DType::kBF16, bf.data(), out.data(), 2).ok());
  EXPECT_EQ(out[0], 3.f);
  EXPECT_EQ(out[1], -0.5f);
}

TEST(DequantCpuTest, RejectsPartialBlocksAndNonWeightTypes) {
  std::vector<uint8_t> buf(1024);
  std::vector<float> out(512);
  EXPECT_EQ(DequantizeCpu(DType::kQ4_K, buf.data(), out.data(), 100).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(DequantizeCpu(DType::kQ8_0, buf.data(), out.data(), -32).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(DequantizeCpu(DType::kI32, buf.data(), out.data(), 4).code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(DequantizeCpu(DType::kQ8_0, nullptr, out.data(), 32).code(),
            StatusCode::kInvalidArgument);
}

TEST(DequantCpuTest, RandomWeightsAreFinite) {
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,
                  DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    const auto w = testing::RandomWeights(t, 1024, 7);
    std::vector<float> out(1024);
    ASSERT_TRUE(DequantizeCpu(t, w.data(), out.data(), 1024).ok());
    for (float v : out) ASSERT_TRUE(std::isfinite(v)) << DTypeName(t);
  }
}

}  // namespace
}  // namespace hearth
