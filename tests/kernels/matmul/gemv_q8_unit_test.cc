// The integer GEMV's arithmetic replayed on the CPU: activations quantized by the CPU twin of the
// pre-kernel, weight rows staged chunk by chunk exactly as matmul_gemv_q8.cu does (Q8 chunk
// geometry of 8 lanes per row, 16-byte vectors from the aligned-down chunk start, WordReader),
// every unit decoded and dotted with the kernel's lane order; the sum must equal a double-precision
// dot product of the dequantized weights (DequantizeCpu, checked against the gguf package
// elsewhere) with the dequantized activations d * q. Plus the quantizer's own properties and the
// Q6_K byte trick.
#include "kernels/matmul/gemv_q8_unit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/matmul/gemv_chunk.h"
#include "kernels/matmul/matmul.h"
#include "kernels/quant/dequant.h"
#include "tests/kernels/quant/random_blocks.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

using gemv_internal::XScale;

template <DType T>
void ReplayGemv(int n, int k, int num_tokens) {
  using Unit = gemv_internal::Q8Unit<T>;
  using Codec = quant::BlockCodec<T>;
  constexpr int kLanes = gemv_internal::kQ8LanesPerRow;
  constexpr int kChunk = gemv_internal::Q8ChunkBlocks<T, kLanes>();
  using Geo = gemv_internal::ChunkGeometry<T, kChunk, kLanes>;
  SCOPED_TRACE(std::string(DTypeName(T)) + " n=" + std::to_string(n) + " k=" + std::to_string(k));
  const std::vector<uint8_t> bytes = testing::RandomWeights(T, int64_t{n} * k, 31 + k);
  std::vector<uint8_t> storage(bytes.size() + 256);
  uint8_t* w = storage.data() + (256 - reinterpret_cast<uintptr_t>(storage.data()) % 256) % 256;
  std::memcpy(w, bytes.data(), bytes.size());
  std::vector<float> wf(int64_t{n} * k);
  ASSERT_TRUE(DequantizeCpu(T, w, wf.data(), wf.size()).ok());

  const std::vector<float> x = testing::RandomVector(size_t(num_tokens) * k, 32 + k);
  std::vector<int8_t> xq(x.size());
  std::vector<XScale> xs(x.size() / 32);
  for (int t = 0; t < num_tokens; ++t) {
    gemv_internal::QuantizeRowQ8Cpu(x.data() + size_t(t) * k, k, xq.data() + size_t(t) * k,
                                    xs.data() + size_t(t) * (k / 32));
  }
  std::vector<float> xd(x.size());
  for (size_t i = 0; i < x.size(); ++i) xd[i] = xs[i / 32].d * static_cast<float>(xq[i]);
  // The library twin must produce the same dequantized activations.
  std::vector<float> twin = x;
  QuantizeActivationsQ8Cpu(twin.data(), num_tokens, k);
  ASSERT_EQ(std::memcmp(twin.data(), xd.data(), xd.size() * 4), 0);

  const int64_t row_bytes = *DTypeBytes(T, k);
  const uint8_t* tensor_end = w + n * row_bytes;
  const int blocks_per_row = k / Codec::kElems;
  const int num_chunks = (blocks_per_row + kChunk - 1) / kChunk;
  alignas(16) uint8_t stage[Geo::kStageBytes];
  std::vector<float> got(size_t(num_tokens) * n), ref(got.size());
  for (int row = 0; row < n; ++row) {
    std::vector<float> acc(size_t(kLanes) * num_tokens, 0.f);  // per lane, per token
    for (int c = 0; c < num_chunks; ++c) {
      const gemv_internal::ChunkSpan span =
          gemv_internal::ChunkAt<T, kChunk>(w + row * row_bytes, c, blocks_per_row);
      ASSERT_LE(span.num_vecs, Geo::kVecsPerLane * kLanes);
      ASSERT_LE(span.num_vecs * 16, Geo::kStageBytes - 16) << "no slack for WordReader";
      std::memset(stage, 0xAB, sizeof(stage));
      for (int b = 0; b < span.num_vecs * 16; ++b) {
        const uint8_t* p = span.base + b;
        stage[b] = p < tensor_end ? *p : 0;
      }
      const int units = span.num_blocks * Unit::kUnitsPerBlock;
      ASSERT_LE(units, 2 * kLanes);
      for (int lane = 0; lane < kLanes; ++lane) {
        for (int u_idx = lane; u_idx < units; u_idx += kLanes) {
          const int u = u_idx % Unit::kUnitsPerBlock;
          const auto wu = Unit::template Decode<quant::WordReader>(
              stage + span.lead + (u_idx / Unit::kUnitsPerBlock) * Codec::kBytes, u);
          const int64_t e0 = (int64_t{c} * kChunk + u_idx / Unit::kUnitsPerBlock) * Codec::kElems;
          for (int t = 0; t < num_tokens; ++t) {
            acc[size_t(lane) * num_tokens + t] += Unit::Dot(
                wu, u, xq.data() + size_t(t) * k + e0, xs.data() + size_t(t) * (k / 32) + e0 / 32);
          }
        }
      }
    }
    for (int t = 0; t < num_tokens; ++t) {
      float sum = 0.f;
      for (int lane = 0; lane < kLanes; ++lane) sum += acc[size_t(lane) * num_tokens + t];
      got[size_t(t) * n + row] = sum;
      double r = 0.0;
      for (int i = 0; i < k; ++i) {
        r += static_cast<double>(wf[int64_t{row} * k + i]) * xd[size_t(t) * k + i];
      }
      ref[size_t(t) * n + row] = static_cast<float>(r);
    }
  }
  // Only float32 rounding of the per-unit scale products and the sums remains.
  EXPECT_LT(testing::RelL2(got, ref), 2e-6);
  // And vs the unquantized activations: the int8 rounding of x, ~4e-3 for uniform x.
  std::vector<float> ref_float(got.size());
  ASSERT_TRUE(MatmulCpu(T, w, x.data(), nullptr, ref_float.data(), num_tokens, n, k).ok());
  EXPECT_LT(testing::RelL2(got, ref_float), 1e-2);
}

template <DType T>
void ReplayShapes() {
  ReplayGemv<T>(37, 256, 3);
  ReplayGemv<T>(9, 1280, 2);  // rows not 16-byte multiples for Q8_0 / Q6_K; a partial chunk
  ReplayGemv<T>(5, 4096, 1);
  ReplayGemv<T>(3, 14336, 2);
}

TEST(GemvQ8UnitTest, Q8_0MatchesDequantizedDot) { ReplayShapes<DType::kQ8_0>(); }
TEST(GemvQ8UnitTest, Q4_KMatchesDequantizedDot) { ReplayShapes<DType::kQ4_K>(); }
TEST(GemvQ8UnitTest, Q6_KMatchesDequantizedDot) { ReplayShapes<DType::kQ6_K>(); }

TEST(GemvQ8UnitTest, QuantizerRoundsToNearestWithinHalfAStep) {
  const int k = 4096;
  std::vector<float> x = testing::RandomVector(k, 5, -3.f, 3.f);
  for (int i = 0; i < 32; ++i) x[64 + i] = 0.f;  // an all-zero block: d = 0, q = 0
  x[5] = 1e-30f;                                 // tiny values stay finite
  for (int i = 0; i < 32; ++i) x[96 + i] = (i % 2 ? -1e-38f : 2e-38f);  // 127 / amax overflows
  std::vector<int8_t> q(k);
  std::vector<XScale> s(k / 32);
  gemv_internal::QuantizeRowQ8Cpu(x.data(), k, q.data(), s.data());
  for (int b = 0; b < k / 32; ++b) {
    float amax = 0.f;
    int sum = 0, max_q = 0;
    for (int i = 0; i < 32; ++i) {
      amax = std::fmax(amax, std::fabs(x[b * 32 + i]));
      sum += q[b * 32 + i];
      max_q = std::max(max_q, std::abs(static_cast<int>(q[b * 32 + i])));
      if (b != 3) {  // block 3: below the scale's range (checked below)
        ASSERT_LE(std::fabs(x[b * 32 + i] - s[b].d * q[b * 32 + i]), 0.5f * s[b].d * 1.0001f)
            << "block " << b << " element " << i;
      }
    }
    EXPECT_FLOAT_EQ(s[b].d, amax / 127.f);
    EXPECT_EQ(s[b].s, s[b].d * static_cast<float>(sum));
    if (amax > 0.f && b != 3) {
      EXPECT_EQ(max_q, 127) << "block " << b;
    }
    EXPECT_TRUE(std::isfinite(s[b].d) && std::isfinite(s[b].s));
  }
  EXPECT_EQ(s[2].d, 0.f);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(q[96 + i], 0) << i;  // below the scale's range: zeros
  EXPECT_EQ(s[3].s, 0.f);
}

TEST(GemvQ8UnitTest, Q6KMinus32IsBytewise) {
  using Unit = gemv_internal::Q8Unit<DType::kQ6_K>;
  for (uint32_t a = 0; a < 64; ++a) {
    for (uint32_t b = 0; b < 64; b += 7) {
      const uint32_t packed = a | (b << 8) | ((63 - a) << 16) | ((a ^ b) << 24);
      const uint32_t r = Unit::Minus32(packed);
      for (int i = 0; i < 4; ++i) {
        const int want = static_cast<int>((packed >> (8 * i)) & 0xFF) - 32;
        EXPECT_EQ(static_cast<int8_t>(r >> (8 * i)), want) << a << " " << b << " byte " << i;
      }
    }
  }
}

TEST(GemvQ8UnitTest, Dp4aEmulation) {
  EXPECT_EQ(gemv_internal::Dp4a(0x01FF7F80u, 0x02FE7F81u, 5),
            5 + 1 * 2 + (-1) * (-2) + 127 * 127 + (-128) * (-127));
}

}  // namespace
}  // namespace hearth
