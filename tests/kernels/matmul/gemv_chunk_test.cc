// The GEMV's chunk staging, replayed on the CPU: every row of a weight matrix is fetched chunk by
// chunk exactly as matmul_gemv.cu does (16-byte vectors from the aligned-down chunk start, into a
// stage of ChunkGeometry::kStageBytes, bytes past the tensor zero-filled) and decoded with the
// kernel's WordReader; the result must equal DequantizeCpu bit for bit, for row sizes that are
// and are not multiples of 16 bytes.
#include "kernels/matmul/gemv_chunk.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/quant/dequant.h"
#include "tests/kernels/quant/random_blocks.h"

namespace hearth {
namespace {

template <DType T>
void ReplayRows(int n, int k) {
  using Geo = gemv_internal::ChunkGeometry<T>;
  using Codec = quant::BlockCodec<T>;
  SCOPED_TRACE(std::string(DTypeName(T)) + " n=" + std::to_string(n) + " k=" + std::to_string(k));
  const std::vector<uint8_t> bytes = testing::RandomWeights(T, int64_t{n} * k, 5);
  // 256-byte aligned copy, as cudaMalloc gives.
  std::vector<uint8_t> storage(bytes.size() + 256);
  uint8_t* w = storage.data() + (256 - reinterpret_cast<uintptr_t>(storage.data()) % 256) % 256;
  std::memcpy(w, bytes.data(), bytes.size());
  std::vector<float> ref(int64_t{n} * k);
  ASSERT_TRUE(DequantizeCpu(T, w, ref.data(), ref.size()).ok());

  const int64_t row_bytes = *DTypeBytes(T, k);
  const uint8_t* tensor_end = w + n * row_bytes;
  const int blocks_per_row = k / Codec::kElems;
  const int num_chunks = (blocks_per_row + Geo::kBlocks - 1) / Geo::kBlocks;
  alignas(16) uint8_t stage[Geo::kStageBytes];
  int64_t mismatches = 0;
  for (int row = 0; row < n; ++row) {
    const uint8_t* row_ptr = w + row * row_bytes;
    for (int c = 0; c < num_chunks; ++c) {
      const gemv_internal::ChunkSpan span = gemv_internal::ChunkAt<T>(row_ptr, c, blocks_per_row);
      ASSERT_EQ(reinterpret_cast<uintptr_t>(span.base) % 16, 0u);
      ASSERT_GE(span.base, w);
      ASSERT_LE(span.num_vecs * 16, Geo::kStageBytes - 16) << "no slack for WordReader";
      std::memset(stage, 0xAB, sizeof(stage));
      for (int v = 0; v < span.num_vecs; ++v) {
        for (int b = 0; b < 16; ++b) {
          const uint8_t* p = span.base + 16 * v + b;
          stage[16 * v + b] = p < tensor_end ? *p : 0;
        }
      }
      const int64_t elem0 = int64_t{c} * Geo::kBlocks * Codec::kElems;
      for (int g = 0; g < span.num_blocks * Codec::kElems / 8; ++g) {
        float out[8];
        Codec::template Decode8<quant::WordReader>(
            stage + span.lead + (g / (Codec::kElems / 8)) * Codec::kBytes, g % (Codec::kElems / 8),
            out);
        mismatches += std::memcmp(out, &ref[int64_t{row} * k + elem0 + 8 * g], 32) != 0;
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

template <DType T>
void ReplayShapes() {
  ReplayRows<T>(769, 512);
  ReplayRows<T>(7, 1280);
  ReplayRows<T>(3, 4096);
  ReplayRows<T>(2, 14336);
}

TEST(GemvChunkTest, StagedDecodeEqualsDequantizeCpu) {
  ReplayShapes<DType::kF32>();
  ReplayShapes<DType::kQ8_0>();
  ReplayShapes<DType::kQ4_0>();
  ReplayShapes<DType::kQ4_1>();
  ReplayShapes<DType::kQ5_0>();
  ReplayShapes<DType::kQ5_1>();
  ReplayShapes<DType::kQ2_K>();
  ReplayShapes<DType::kQ3_K>();
  ReplayShapes<DType::kQ4_K>();
  ReplayShapes<DType::kQ5_K>();
  ReplayShapes<DType::kQ6_K>();
}

}  // namespace
}  // namespace hearth
