// The direct integer GEMV (Q4_K) on the GPU against its CPU replay, bit for bit: the kernel and
// ReplayDirectRow (gemv_direct.h) run the same unit arithmetic in the same order, and the
// pre-kernel's int8 x equals QuantizeRowQ8Cpu's. Shapes cover partial row groups, 1 to 8 row slots,
// 1 to 4 pairs per lane, 1..8 tokens, bf16 and fp16 outputs, with and without bias.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "kernels/core/half.h"
#include "kernels/matmul/gemv_direct.h"
#include "kernels/matmul/matmul.h"
#include "tests/kernels/quant/random_blocks.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

using gemv_internal::XScale;

struct DeviceBuffer {
  void* p = nullptr;
  explicit DeviceBuffer(size_t bytes) {
    if (cudaMalloc(&p, bytes) != cudaSuccess) p = nullptr;
  }
  ~DeviceBuffer() {
    if (p) cudaFree(p);
  }
};

uint16_t Round(DType act, float v) { return act == DType::kBF16 ? FloatToBf16(v) : FloatToFp16(v); }
float Widen(DType act, uint16_t h) { return act == DType::kBF16 ? Bf16ToFloat(h) : Fp16ToFloat(h); }

void ExpectEqualsReplay(int n, int k, int num_tokens, DType act, bool with_bias) {
  SCOPED_TRACE("n=" + std::to_string(n) + " k=" + std::to_string(k) +
               " num_tokens=" + std::to_string(num_tokens) + " act=" + std::string(DTypeName(act)) +
               " bias=" + std::to_string(with_bias));
  const std::vector<uint8_t> w = testing::RandomWeights(DType::kQ4_K, int64_t{n} * k, 5 + k);
  const std::vector<float> xf = testing::RandomVector(size_t(num_tokens) * k, 6 + k, -2.f, 2.f);
  const std::vector<float> bf = testing::RandomVector(n, 7, -0.5f, 0.5f);
  std::vector<uint16_t> x_bits(xf.size()), b_bits(n);
  std::vector<float> x(xf.size()), bias(n);
  for (size_t i = 0; i < xf.size(); ++i)
    x_bits[i] = Round(act, xf[i]), x[i] = Widen(act, x_bits[i]);
  for (int i = 0; i < n; ++i) b_bits[i] = Round(act, bf[i]), bias[i] = Widen(act, b_bits[i]);

  // The replay on the CPU.
  const gemv_internal::DirectGemvPlan plan = gemv_internal::PlanDirectGemv(n, k, 1, 1);
  const int64_t row_bytes = *DTypeBytes(DType::kQ4_K, k);
  std::vector<int8_t> xq(k);
  std::vector<XScale> xs(k / 32);
  std::vector<uint16_t> want(size_t(num_tokens) * n);
  for (int t = 0; t < num_tokens; ++t) {
    gemv_internal::QuantizeRowQ8Cpu(x.data() + size_t(t) * k, k, xq.data(), xs.data());
    for (int row = 0; row < n; ++row) {
      float sum =
          gemv_internal::ReplayDirectRow(plan, w.data() + row * row_bytes, xq.data(), xs.data());
      if (with_bias) sum += bias[row];
      want[size_t(t) * n + row] = Round(act, sum);
    }
  }

  const int64_t scratch_bytes = QuantGemvQ8ScratchBytes(num_tokens, k);
  DeviceBuffer dw(w.size()), dx(x_bits.size() * 2), db(n * 2), dy(want.size() * 2),
      scratch(scratch_bytes);
  ASSERT_TRUE(dw.p && dx.p && db.p && dy.p && scratch.p) << "cudaMalloc failed";
  ASSERT_EQ(cudaMemcpy(dw.p, w.data(), w.size(), cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dx.p, x_bits.data(), x_bits.size() * 2, cudaMemcpyHostToDevice),
            cudaSuccess);
  ASSERT_EQ(cudaMemcpy(db.p, b_bits.data(), n * 2, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemset(dy.p, testing::kPoisonByte, want.size() * 2), cudaSuccess);
  const Status s =
      LaunchQuantGemvQ8Direct(DType::kQ4_K, dw.p, act, dx.p, with_bias ? db.p : nullptr, dy.p,
                              num_tokens, n, k, scratch.p, scratch_bytes, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<uint16_t> got(want.size());
  ASSERT_EQ(cudaMemcpy(got.data(), dy.p, got.size() * 2, cudaMemcpyDeviceToHost), cudaSuccess);
  size_t mismatches = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i] && mismatches++ == 0) first = i;
  }
  EXPECT_EQ(mismatches, 0u) << "first at token " << first / n << " row " << first % n << ": gpu "
                            << Widen(act, got[first]) << " replay " << Widen(act, want[first]);
}

TEST(GemvDirectGpu, EqualsCpuReplayBitForBit) {
  HEARTH_REQUIRE_GPU();
  // (n, k): 8 row slots of 32 lanes with 4 pairs and 28 idle lanes; 20 pairs; 68 pairs (2 slots
  // of 64, pairs 64..67 on a second turn); 224 pairs (128 lanes, 2 turns); 1024 pairs (4 turns).
  const int shapes[][2] = {{37, 256}, {5, 1280}, {67, 4352}, {300, 14336}, {9, 65536}};
  for (const auto& shape : shapes) {
    for (int num_tokens : {1, 3, 8}) {
      ExpectEqualsReplay(shape[0], shape[1], num_tokens, DType::kBF16, num_tokens == 3);
    }
    ExpectEqualsReplay(shape[0], shape[1], 2, DType::kF16, true);
  }
}

// More row groups than the device holds CTAs at once (grid-stride loop), against MatmulCpu on the
// int8 round trip of x.
TEST(GemvDirectGpu, ManyRowGroupsMatchCpu) {
  HEARTH_REQUIRE_GPU();
  const int n = 14336 * 2 + 5, k = 4096, num_tokens = 1;
  const std::vector<uint8_t> w = testing::RandomWeights(DType::kQ4_K, int64_t{n} * k, 9);
  const std::vector<float> xf = testing::RandomVector(size_t(num_tokens) * k, 10);
  std::vector<uint16_t> x_bits(xf.size());
  std::vector<float> x(xf.size());
  for (size_t i = 0; i < xf.size(); ++i)
    x_bits[i] = FloatToBf16(xf[i]), x[i] = Bf16ToFloat(x_bits[i]);
  QuantizeActivationsQ8Cpu(x.data(), num_tokens, k);
  std::vector<float> ref(size_t(num_tokens) * n);
  ASSERT_TRUE(
      MatmulCpu(DType::kQ4_K, w.data(), x.data(), nullptr, ref.data(), num_tokens, n, k).ok());
  const int64_t scratch_bytes = QuantGemvQ8ScratchBytes(num_tokens, k);
  DeviceBuffer dw(w.size()), dx(x_bits.size() * 2), dy(ref.size() * 2), scratch(scratch_bytes);
  ASSERT_TRUE(dw.p && dx.p && dy.p && scratch.p) << "cudaMalloc failed";
  ASSERT_EQ(cudaMemcpy(dw.p, w.data(), w.size(), cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dx.p, x_bits.data(), x_bits.size() * 2, cudaMemcpyHostToDevice),
            cudaSuccess);
  ASSERT_EQ(cudaMemset(dy.p, testing::kPoisonByte, ref.size() * 2), cudaSuccess);
  const Status s = LaunchQuantGemvQ8Direct(DType::kQ4_K, dw.p, DType::kBF16, dx.p, nullptr, dy.p,
                                           num_tokens, n, k, scratch.p, scratch_bytes, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<uint16_t> got_bits(ref.size());
  ASSERT_EQ(cudaMemcpy(got_bits.data(), dy.p, got_bits.size() * 2, cudaMemcpyDeviceToHost),
            cudaSuccess);
  std::vector<float> got(ref.size());
  for (size_t i = 0; i < got.size(); ++i) got[i] = Bf16ToFloat(got_bits[i]);
  EXPECT_LT(testing::RelL2(got, ref), 4e-3);  // bf16 output rounding
}

}  // namespace
}  // namespace hearth
