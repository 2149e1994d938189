// RMSNorm and fused add+RMSNorm on the GPU against the CPU twin, over the norm case table, every
// activation dtype, both access paths.
#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "kernels/norm/norm_cases.h"
#include "kernels/norm/rms_norm.h"
#include "tests/support/device_buffer.h"

namespace hearth {
namespace {

using testing::CloseRelL2;
using testing::DeviceBuffer;
using testing::RandomVector;
using testing::RoundTo;

class NormGpuTest : public ::testing::TestWithParam<DType> {};

double Tol(DType d) {
  return norm_cases::Tolerance(GetDTypeInfo(d).block_bytes, d == DType::kBF16);
}

// `offset_elems` shifts every pointer off its 16-byte alignment (forces the scalar path).
void RunCase(DType dtype, int64_t tokens, int hidden, bool fused, int offset_elems) {
  SCOPED_TRACE(std::string(DTypeName(dtype)) + " tokens=" + std::to_string(tokens) +
               " hidden=" + std::to_string(hidden) + (fused ? " fused" : "") +
               " offset=" + std::to_string(offset_elems));
  const size_t n = tokens * hidden;
  const size_t eb = GetDTypeInfo(dtype).block_bytes;
  const size_t off = offset_elems * eb;
  const auto x = RoundTo(dtype, RandomVector(n, 11 + hidden, -2.f, 2.f));
  const auto res0 = RoundTo(dtype, RandomVector(n, 12 + hidden, -2.f, 2.f));
  const auto w = RandomVector(hidden, 13, 0.5f, 1.5f);

  std::vector<float> pad_x(offset_elems, 0.f), xin = x, rin = res0;
  xin.insert(xin.begin(), pad_x.begin(), pad_x.end());
  rin.insert(rin.begin(), pad_x.begin(), pad_x.end());
  DeviceBuffer dx = DeviceBuffer::FromFloats(dtype, xin);
  DeviceBuffer dr = DeviceBuffer::FromFloats(dtype, rin);
  DeviceBuffer dw = DeviceBuffer::FromVector(w);
  DeviceBuffer dout(n * eb + off);
  dout.Poison();
  char* px = dx.as<char>() + off;
  char* pr = dr.as<char>() + off;
  char* po = dout.as<char>() + off;
  const AccessPath path = ChooseRmsNormPath(dtype, hidden, px, fused ? pr : nullptr, po);
  if (offset_elems % 8 != 0) {
    EXPECT_EQ(path, AccessPath::kScalar);
  }
  const int64_t accesses = path == AccessPath::kVector16 ? hidden / (16 / eb) : hidden;
  SCOPED_TRACE("path " + std::string(AccessPathName(path)) + ", register vecs per thread " +
               std::to_string(RmsNormRegisterVecs(accesses, RowThreads(accesses))) +
               " (0 = two passes)");

  std::vector<float> ref(n), ref_res = res0;
  if (fused) {
    ASSERT_TRUE(FusedAddRmsNormCpu(x.data(), ref_res.data(), w.data(), ref.data(), tokens, hidden,
                                   norm_cases::kEps)
                    .ok());
    const Status s = FusedAddRmsNorm(dtype, px, pr, dw.as<float>(), po, tokens, hidden,
                                     norm_cases::kEps, nullptr);
    ASSERT_TRUE(s.ok()) << s.ToString();
  } else {
    ASSERT_TRUE(RmsNormCpu(x.data(), w.data(), ref.data(), tokens, hidden, norm_cases::kEps).ok());
    const Status s =
        RmsNorm(dtype, px, dw.as<float>(), po, tokens, hidden, norm_cases::kEps, nullptr);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  HEARTH_CUDA_OK(cudaDeviceSynchronize());
  std::vector<float> out = dout.Floats(dtype);
  out.erase(out.begin(), out.begin() + offset_elems);
  EXPECT_TRUE(CloseRelL2(out, ref, Tol(dtype))) << "path " << AccessPathName(path);
  if (fused) {
    std::vector<float> res = dr.Floats(dtype);
    res.erase(res.begin(), res.begin() + offset_elems);
    EXPECT_TRUE(CloseRelL2(res, ref_res, Tol(dtype))) << "residual, path " << AccessPathName(path);
  }
}

TEST_P(NormGpuTest, RmsNormMatchesCpuTwin) {
  HEARTH_REQUIRE_GPU();
  for (int64_t tokens : norm_cases::kTokenCounts)
    for (int hidden : norm_cases::kHiddens) RunCase(GetParam(), tokens, hidden, false, 0);
}

TEST_P(NormGpuTest, FusedAddRmsNormMatchesCpuTwin) {
  HEARTH_REQUIRE_GPU();
  for (int64_t tokens : norm_cases::kTokenCounts)
    for (int hidden : norm_cases::kHiddens) RunCase(GetParam(), tokens, hidden, true, 0);
}

TEST_P(NormGpuTest, MisalignedPointersTakeScalarPath) {
  HEARTH_REQUIRE_GPU();
  RunCase(GetParam(), 7, 4096, false, 1);
  RunCase(GetParam(), 7, 4096, true, 1);
}

TEST_P(NormGpuTest, RejectsBadArguments) {
  HEARTH_REQUIRE_GPU();
  EXPECT_EQ(RmsNorm(GetParam(), nullptr, nullptr, nullptr, 1, 0, 1e-6f, nullptr).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(RmsNorm(DType::kQ4_K, reinterpret_cast<void*>(16), reinterpret_cast<float*>(16),
                    reinterpret_cast<void*>(16), 1, 256, 1e-6f, nullptr)
                .code(),
            StatusCode::kUnimplemented);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, NormGpuTest,
                         ::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

}  // namespace
}  // namespace hearth
