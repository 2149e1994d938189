// RoPE and fused q/k RMSNorm + RoPE on the GPU against the CPU twins, over the RoPE case table
// (real model shapes, both styles, llama3 scaling), every activation dtype. q and k live inside
// a fused QKV row, so the test also checks that the V columns are left alone.
#include <cuda_runtime.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/rope/rope.h"
#include "kernels/rope/rope_cases.h"
#include "tests/support/device_buffer.h"

namespace hearth {
namespace {

using testing::CloseRelL2;
using testing::DeviceBuffer;
using testing::RandomVector;
using testing::RoundTo;

class RopeGpuTest : public ::testing::TestWithParam<DType> {};

// pad: extra elements per token row (1 breaks 16-byte alignment: the scalar path).
void RunCase(DType dtype, const rope_cases::RopeCase& c, int64_t tokens, bool fused_norm,
             int pad = 0) {
  const int d = c.head_dim;
  const int64_t stride = int64_t{c.num_heads + 2 * c.num_kv_heads} * d + pad;  // fused QKV row
  const int64_t k_col = int64_t{c.num_heads} * d;
  auto qkv = RoundTo(dtype, RandomVector(tokens * stride, tokens + d, -2.f, 2.f));
  std::vector<int32_t> pos(tokens);
  std::mt19937 rng(tokens);
  for (auto& p : pos) p = static_cast<int32_t>(rng() % rope_cases::kMaxPosition);
  auto inv_freq =
      RopeInvFreq({.head_dim = d, .theta = c.theta, .style = c.style, .scaling = c.scaling});
  ASSERT_TRUE(inv_freq.ok()) << inv_freq.status().ToString();
  const auto qw = RandomVector(d, 1, 0.5f, 1.5f), kw = RandomVector(d, 2, 0.5f, 1.5f);

  DeviceBuffer dqkv = DeviceBuffer::FromFloats(dtype, qkv);
  DeviceBuffer dpos = DeviceBuffer::FromVector(pos);
  DeviceBuffer dfreq = DeviceBuffer::FromVector(*inv_freq);
  DeviceBuffer dqw = DeviceBuffer::FromVector(qw), dkw = DeviceBuffer::FromVector(kw);
  const size_t eb = GetDTypeInfo(dtype).block_bytes;
  char* q = dqkv.as<char>();
  char* k = q + k_col * eb;
  const AccessPath path = ChooseRopePath(dtype, q, stride, k, stride);
  SCOPED_TRACE(std::string(c.model) + " " + std::string(DTypeName(dtype)) +
               " tokens=" + std::to_string(tokens) + (fused_norm ? " qk_norm" : "") + " path " +
               AccessPathName(path) + " kernel " + RopeGpuKernelName(SelectRopeGpuKernel(d, path)));

  std::vector<float> ref = qkv;
  Status s;
  if (fused_norm) {
    ASSERT_TRUE(QkNormRopeCpu(c.style, d, inv_freq->data(), pos.data(), tokens, ref.data(), stride,
                              c.num_heads, ref.data() + k_col, stride, c.num_kv_heads, qw.data(),
                              kw.data(), 1e-6f)
                    .ok());
    s = QkNormRope(dtype, c.style, d, dfreq.as<float>(), dpos.as<int32_t>(), tokens, q, stride,
                   c.num_heads, k, stride, c.num_kv_heads, dqw.as<float>(), dkw.as<float>(), 1e-6f,
                   nullptr);
  } else {
    ASSERT_TRUE(RopeCpu(c.style, d, inv_freq->data(), pos.data(), tokens, ref.data(), stride,
                        c.num_heads, ref.data() + k_col, stride, c.num_kv_heads)
                    .ok());
    s = Rope(dtype, c.style, d, dfreq.as<float>(), dpos.as<int32_t>(), tokens, q, stride,
             c.num_heads, k, stride, c.num_kv_heads, nullptr);
  }
  ASSERT_TRUE(s.ok()) << s.ToString();
  const std::vector<float> got = dqkv.Floats(dtype);
  const double tol = rope_cases::Tolerance(eb, dtype == DType::kBF16);
  EXPECT_TRUE(CloseRelL2(got, ref, tol));
  // The first wrong element, to tell a rotation/angle bug from a rounding difference.
  for (int64_t i = 0; i < static_cast<int64_t>(got.size()); ++i) {
    if (std::fabs(got[i] - ref[i]) > 0.1 + 0.05 * std::fabs(ref[i])) {
      ADD_FAILURE() << "first large error at token " << i / stride << " column " << i % stride
                    << " (head " << (i % stride) / d << ", element " << (i % stride) % d
                    << "): got " << got[i] << ", want " << ref[i];
      break;
    }
  }
  const int64_t v_col = k_col + int64_t{c.num_kv_heads} * d;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t i = v_col; i < stride; ++i)
      ASSERT_EQ(got[t * stride + i], qkv[t * stride + i]) << "V column " << i << " of token " << t;
}

TEST_P(RopeGpuTest, RopeMatchesCpuTwin) {
  HEARTH_REQUIRE_GPU();
  for (const auto& c : rope_cases::kModels)
    for (int64_t tokens : rope_cases::kTokenCounts) RunCase(GetParam(), c, tokens, false);
}

TEST_P(RopeGpuTest, ScalarPathOnUnalignedRows) {
  HEARTH_REQUIRE_GPU();
  for (const auto& c : rope_cases::kModels) {
    for (int64_t tokens : {int64_t{1}, int64_t{64}}) {
      RunCase(GetParam(), c, tokens, false, /*pad=*/1);
      RunCase(GetParam(), c, tokens, true, /*pad=*/1);
    }
  }
}

TEST_P(RopeGpuTest, QkNormRopeMatchesCpuTwin) {
  HEARTH_REQUIRE_GPU();
  for (const auto& c : rope_cases::kModels)
    for (int64_t tokens : rope_cases::kTokenCounts) RunCase(GetParam(), c, tokens, true);
}

// Refused before any launch (the pointers are never dereferenced): above the largest GPU head
// size, and odd.
TEST_P(RopeGpuTest, UnsupportedHeadDimIsAnError) {
  HEARTH_REQUIRE_GPU();
  void* p = reinterpret_cast<void*>(256);
  const int big = kRopeMaxGpuHeadDim + 2;
  Status s = Rope(GetParam(), RopeStyle::kHalves, big, static_cast<float*>(p),
                  static_cast<int32_t*>(p), 1, p, big, 1, p, big, 1, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented) << s.ToString();
  s = Rope(GetParam(), RopeStyle::kHalves, 7, static_cast<float*>(p), static_cast<int32_t*>(p), 1,
           p, 7, 1, p, 7, 1, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
}

INSTANTIATE_TEST_SUITE_P(Dtypes, RopeGpuTest,
                         ::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

}  // namespace
}  // namespace hearth
