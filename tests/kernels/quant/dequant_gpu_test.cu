// GPU dequantization equals CPU dequantization bit for bit (f32 output), and the bf16/fp16
// outputs equal the CPU float32 values rounded to nearest even, for every weight type.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernels/core/half.h"
#include "kernels/quant/dequant.h"
#include "tests/kernels/quant/random_blocks.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

#define ASSERT_CUDA(stmt) \
  ASSERT_EQ((stmt), cudaSuccess) << #stmt << ": " << cudaGetErrorString(cudaGetLastError())

const DType kTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0, DType::kQ4_0,
                        DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ2_K, DType::kQ3_K,
                        DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

class DequantGpuTest : public ::testing::TestWithParam<DType> {};

TEST_P(DequantGpuTest, MatchesCpuBitForBit) {
  HEARTH_REQUIRE_GPU();
  const DType type = GetParam();
  // 769 blocks (odd) of 256 elements: a whole number of blocks of every type.
  const int64_t num_elems = 769 * 256;
  const std::vector<uint8_t> w = testing::RandomWeights(type, num_elems, 1234);
  std::vector<float> ref(num_elems);
  ASSERT_TRUE(DequantizeCpu(type, w.data(), ref.data(), num_elems).ok());

  void* d_src = nullptr;
  void* d_dst = nullptr;
  ASSERT_CUDA(cudaMalloc(&d_src, w.size()));
  ASSERT_CUDA(cudaMalloc(&d_dst, num_elems * 4));
  ASSERT_CUDA(cudaMemcpy(d_src, w.data(), w.size(), cudaMemcpyHostToDevice));
  for (DType out_type : {DType::kF32, DType::kBF16, DType::kF16}) {
    ASSERT_CUDA(cudaMemset(d_dst, testing::kPoisonByte, num_elems * 4));
    const Status s = DequantizeGpu(type, d_src, out_type, d_dst, num_elems, nullptr);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_CUDA(cudaDeviceSynchronize());
    const int esize = out_type == DType::kF32 ? 4 : 2;
    std::vector<uint8_t> got(num_elems * esize);
    ASSERT_CUDA(cudaMemcpy(got.data(), d_dst, got.size(), cudaMemcpyDeviceToHost));
    int64_t mismatches = 0, first = -1;
    for (int64_t i = 0; i < num_elems; ++i) {
      uint32_t want, have = 0;
      if (out_type == DType::kF32) {
        std::memcpy(&want, &ref[i], 4);
      } else {
        want = out_type == DType::kBF16 ? FloatToBf16(ref[i]) : FloatToFp16(ref[i]);
      }
      std::memcpy(&have, got.data() + i * esize, esize);
      if (have != want) {
        if (first < 0) first = i;
        ++mismatches;
      }
    }
    EXPECT_EQ(mismatches, 0) << DTypeName(type) << " -> " << DTypeName(out_type)
                             << ": first mismatch at element " << first << " (cpu value "
                             << (first >= 0 ? ref[first] : 0.f) << ")";
  }
  // A source that is only 2-byte aligned takes the bytewise reads: same values.
  {
    void* d_shifted = nullptr;
    ASSERT_CUDA(cudaMalloc(&d_shifted, w.size() + 16));
    uint8_t* src2 = static_cast<uint8_t*>(d_shifted) + 2;
    ASSERT_CUDA(cudaMemcpy(src2, w.data(), w.size(), cudaMemcpyHostToDevice));
    ASSERT_CUDA(cudaMemset(d_dst, testing::kPoisonByte, num_elems * 4));
    ASSERT_TRUE(DequantizeGpu(type, src2, DType::kF32, d_dst, num_elems, nullptr).ok());
    std::vector<float> got(num_elems);
    ASSERT_CUDA(cudaMemcpy(got.data(), d_dst, num_elems * 4, cudaMemcpyDeviceToHost));
    EXPECT_EQ(std::memcmp(got.data(), ref.data(), num_elems * 4), 0)
        << DTypeName(type) << " from a 2-byte aligned source";
    ASSERT_CUDA(cudaFree(d_shifted));
  }
  // A destination that is not 16-byte aligned takes the element stores: same values.
  {
    ASSERT_CUDA(cudaMemset(d_dst, testing::kPoisonByte, num_elems * 4));
    uint8_t* dst2 = static_cast<uint8_t*>(d_dst) + 2;
    ASSERT_TRUE(DequantizeGpu(type, d_src, DType::kBF16, dst2, num_elems, nullptr).ok());
    std::vector<uint16_t> got(num_elems);
    ASSERT_CUDA(cudaMemcpy(got.data(), dst2, num_elems * 2, cudaMemcpyDeviceToHost));
    int64_t mismatches = 0;
    for (int64_t i = 0; i < num_elems; ++i) mismatches += got[i] != FloatToBf16(ref[i]);
    EXPECT_EQ(mismatches, 0) << DTypeName(type) << " -> BF16 at a 2-byte aligned destination";
  }
  // A partial group of a plain type.
  if (!GetDTypeInfo(type).quantized) {
    ASSERT_CUDA(cudaMemset(d_dst, testing::kPoisonByte, 16 * 4));
    ASSERT_TRUE(DequantizeGpu(type, d_src, DType::kF32, d_dst, 13, nullptr).ok());
    std::vector<float> got(13);
    ASSERT_CUDA(cudaMemcpy(got.data(), d_dst, 13 * 4, cudaMemcpyDeviceToHost));
    for (int i = 0; i < 13; ++i) EXPECT_EQ(got[i], ref[i]) << i;
  }
  EXPECT_EQ(DequantizeGpu(type, d_src, DType::kI32, d_dst, 256, nullptr).code(),
            StatusCode::kUnimplemented);
  ASSERT_CUDA(cudaFree(d_src));
  ASSERT_CUDA(cudaFree(d_dst));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, DequantGpuTest, ::testing::ValuesIn(kTypes),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

}  // namespace
}  // namespace hearth
