// SiLU-and-multiply on the GPU against the CPU twin over the activation case table.
#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "kernels/activation/activation_cases.h"
#include "kernels/activation/silu_mul.h"
#include "tests/support/device_buffer.h"

namespace hearth {
namespace {

using testing::CloseRelL2;
using testing::DeviceBuffer;
using testing::RandomVector;
using testing::RoundTo;

class ActivationGpuTest : public ::testing::TestWithParam<DType> {};

double Tol(DType d) {
  return activation_cases::Tolerance(GetDTypeInfo(d).block_bytes, d == DType::kBF16);
}

TEST_P(ActivationGpuTest, ConcatMatchesCpuTwin) {
  HEARTH_REQUIRE_GPU();
  const DType dtype = GetParam();
  for (int64_t tokens : activation_cases::kTokenCounts) {
    for (int ffn : activation_cases::kFfns) {
      SCOPED_TRACE("tokens=" + std::to_string(tokens) + " ffn=" + std::to_string(ffn));
      const auto x = RoundTo(dtype, RandomVector(tokens * 2 * ffn, ffn + tokens, -5.f, 5.f));
      std::vector<float> ref(tokens * ffn);
      ASSERT_TRUE(SiluMulConcatCpu(x.data(), ref.data(), tokens, ffn).ok());
      DeviceBuffer dx = DeviceBuffer::FromFloats(dtype, x);
      DeviceBuffer dout(ref.size() * GetDTypeInfo(dtype).block_bytes);
      dout.Poison();
      const Status s = SiluMulConcat(dtype, dx.get(), dout.get(), tokens, ffn, nullptr);
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_TRUE(CloseRelL2(dout.Floats(dtype), ref, Tol(dtype)));
    }
  }
}

TEST_P(ActivationGpuTest, SeparatePointersMatchCpuTwin) {
  HEARTH_REQUIRE_GPU();
  const DType dtype = GetParam();
  const int64_t tokens = 64;
  for (int ffn : {8192, 5125, 172}) {  // 172: stories260K unfused (scalar in bf16/fp16)
    SCOPED_TRACE("ffn=" + std::to_string(ffn));
    const auto g = RoundTo(dtype, RandomVector(tokens * ffn, 1, -5.f, 5.f));
    const auto u = RoundTo(dtype, RandomVector(tokens * ffn, 2, -5.f, 5.f));
    std::vector<float> ref(tokens * ffn);
    ASSERT_TRUE(SiluMulCpu(g.data(), ffn, u.data(), ffn, ref.data(), tokens, ffn).ok());
    DeviceBuffer dg = DeviceBuffer::FromFloats(dtype, g), du = DeviceBuffer::FromFloats(dtype, u);
    DeviceBuffer dout(ref.size() * GetDTypeInfo(dtype).block_bytes);
    dout.Poison();
    const Status s = SiluMul(dtype, dg.get(), ffn, du.get(), ffn, dout.get(), tokens, ffn, nullptr);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(CloseRelL2(dout.Floats(dtype), ref, Tol(dtype)));
  }
}

TEST_P(ActivationGpuTest, RejectsBadArguments) {
  HEARTH_REQUIRE_GPU();
  EXPECT_EQ(SiluMul(GetParam(), nullptr, 4, nullptr, 4, nullptr, 1, 8, nullptr).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(SiluMul(DType::kI32, reinterpret_cast<void*>(16), 8, reinterpret_cast<void*>(16), 8,
                    reinterpret_cast<void*>(16), 1, 8, nullptr)
                .code(),
            StatusCode::kUnimplemented);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ActivationGpuTest,
                         ::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

}  // namespace
}  // namespace hearth
