#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernels/core/dtype.h"
#include "kernels/core/half.h"
#include "kernels/core/status.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

// Every fp16 bit pattern survives fp16 -> float -> fp16 (NaNs stay NaN).
TEST(HalfTest, Fp16RoundTripsEveryPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = Fp16ToFloat(static_cast<uint16_t>(h));
    const uint16_t back = FloatToFp16(f);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(Fp16ToFloat(back))) << h;
    } else {
      EXPECT_EQ(back, h) << "pattern " << h;
    }
  }
}

TEST(HalfTest, Bf16RoundTripsEveryPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = Bf16ToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(FloatToBf16(f), h);
  }
}

// Rounding to nearest even at the midpoints, checked against exact double arithmetic.
TEST(HalfTest, Fp16RoundsToNearestEven) {
  const float cases[] = {1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 65504.f, 65520.f, 6e-8f,
                         2.98023224e-08f, 5.96046448e-08f, 1e-5f, -3.3333f, 1e30f};
  for (float f : cases) {
    const uint16_t h = FloatToFp16(f);
    // Brute force: the nearest representable value (ties to even mantissa).
    double best = INFINITY;
    uint16_t best_h = 0;
    for (uint32_t c = 0; c < 0x7c00; ++c) {
      const uint16_t cand = static_cast<uint16_t>(c | (f < 0 ? 0x8000 : 0));
      const double err = std::fabs(static_cast<double>(Fp16ToFloat(cand)) - f);
      if (err < best || (err == best && (cand & 1) == 0)) best = err, best_h = cand;
    }
    if (std::fabs(f) >= 65520.f) best_h = f < 0 ? 0xfc00 : 0x7c00;  // overflow to inf
    EXPECT_EQ(h, best_h) << f;
  }
}

TEST(DTypeTest, BlockSizes) {
  EXPECT_EQ(DTypeBytes(DType::kQ4_K, 512), 288);
  EXPECT_EQ(DTypeBytes(DType::kQ4_K, 100), std::nullopt);
  EXPECT_EQ(DTypeBytes(DType::kBF16, 3), 6);
  EXPECT_EQ(DTypeBytes(DType::kQ8_0, INT64_MAX / 2), std::nullopt);
  EXPECT_EQ(DTypeFromName("Q6_K"), DType::kQ6_K);
  EXPECT_EQ(DTypeFromName("nope"), std::nullopt);
}

Result<int> Half(int x) {
  if (x % 2) return InvalidArgumentError("odd: " + std::to_string(x));
  return x / 2;
}

Status UseHalf(int x, int* out) {
  HEARTH_ASSIGN_OR_RETURN(*out, Half(x));
  return Status::Ok();
}

TEST(StatusTest, ResultAndMacros) {
  int v = 0;
  EXPECT_TRUE(UseHalf(4, &v).ok());
  EXPECT_EQ(v, 2);
  const Status s = UseHalf(3, &v);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.ToString(), "INVALID_ARGUMENT: odd: 3");
}

TEST(DeviceTest, NoCrashWithoutDevice) {
  const int n = GpuCount();
  EXPECT_GE(n, 0);
  if (n == 0) {
    EXPECT_EQ(GetGpuInfo(0).device, -1);
  }
}

}  // namespace
}  // namespace hearth
