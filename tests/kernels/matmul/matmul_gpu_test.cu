// GpuMatmul (every kernel SelectMatmulKernel can pick) against MatmulCpu on the same weights and
// the same activations (rounded to the activation type first), relative L2 error per case.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/core/half.h"
#include "kernels/matmul/matmul.h"
#include "kernels/matmul/quant_mma.h"
#include "kernels/quant/dequant.h"
#include "tests/kernels/matmul/matmul_cases.h"
#include "tests/kernels/quant/random_blocks.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

#define ASSERT_CUDA(stmt) \
  ASSERT_EQ((stmt), cudaSuccess) << #stmt << ": " << cudaGetErrorString(cudaGetLastError())

// Device buffer freed at scope exit.
struct DeviceBuffer {
  void* p = nullptr;
  explicit DeviceBuffer(size_t bytes) {
    if (cudaMalloc(&p, bytes) != cudaSuccess) p = nullptr;
  }
  ~DeviceBuffer() {
    if (p) cudaFree(p);
  }
};

int ActBytes(DType act) { return act == DType::kF32 ? 4 : 2; }

// Rounds to the activation type; returns the rounded floats and the device-format bytes.
std::vector<float> RoundTo(DType act, const std::vector<float>& v, std::vector<uint8_t>* bytes) {
  std::vector<float> out(v.size());
  bytes->resize(v.size() * ActBytes(act));
  for (size_t i = 0; i < v.size(); ++i) {
    if (act == DType::kF32) {
      out[i] = v[i];
      std::memcpy(bytes->data() + 4 * i, &v[i], 4);
    } else {
      const uint16_t h = act == DType::kBF16 ? FloatToBf16(v[i]) : FloatToFp16(v[i]);
      out[i] = act == DType::kBF16 ? Bf16ToFloat(h) : Fp16ToFloat(h);
      std::memcpy(bytes->data() + 2 * i, &h, 2);
    }
  }
  return out;
}

float ToFloat(DType act, const uint8_t* p) {
  if (act == DType::kF32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return act == DType::kBF16 ? Bf16ToFloat(h) : Fp16ToFloat(h);
}

// Tolerance on the relative L2 error: bf16/fp16 output rounding (2^-9 / 2^-12 relative), plus
// for the dequantize + cuBLASLt path the rounding of each weight to bf16/fp16; f32 activations
// only see float32 accumulation-order differences.
double Tolerance(DType act) {
  switch (act) {
    case DType::kF32:
      return 2e-5;
    case DType::kF16:
      return 3e-3;
    default:
      return 1.2e-2;
  }
}

// As GpuMatmul::Create reads it (ctest runs this file again with HEARTH_GEMV=direct).
GemvOverride GemvFromEnv() {
  const Result<GemvOverride> g = ParseGemvOverride(std::getenv("HEARTH_GEMV"));
  return g.ok() ? *g : GemvOverride::kNone;
}
// Likewise HEARTH_QUANT_GEMM (ctest runs this file again with HEARTH_QUANT_GEMM=fused).
QuantGemm QuantGemmFromEnv() {
  const Result<QuantGemm> g = ParseQuantGemm(std::getenv("HEARTH_QUANT_GEMM"));
  return g.ok() ? *g : QuantGemm::kAuto;
}

// One case through GpuMatmul::Run (what it selects), or through RunKernel with `forced`.
void RunCase(GpuMatmul& mm, DType w_type, DType act, int num_tokens, int n, int k, bool with_bias,
             std::optional<MatmulKernel> forced = std::nullopt) {
  const MatmulKernel kernel = forced ? *forced
                                     : SelectMatmulKernelForRun(w_type, act, num_tokens, n, k,
                                                                GemvFromEnv(), QuantGemmFromEnv());
  std::ostringstream name;
  name << DTypeName(w_type) << " act=" << DTypeName(act) << " num_tokens=" << num_tokens
       << " n=" << n << " k=" << k << " bias=" << with_bias
       << " kernel=" << MatmulKernelName(kernel);
  SCOPED_TRACE(name.str());
  const auto w = testing::RandomWeights(w_type, int64_t{n} * k, 100 + n + k);
  std::vector<uint8_t> x_bytes, b_bytes;
  auto x = RoundTo(act, testing::RandomVector(size_t(num_tokens) * k, 7 + num_tokens), &x_bytes);
  const auto bias = RoundTo(act, testing::RandomVector(n, 9, -0.5f, 0.5f), &b_bytes);
  // The integer GEMV's reference sees the activations it sees: int8 blocks of 32 (its CPU twin).
  if (kernel == MatmulKernel::kQuantGemvQ8 || kernel == MatmulKernel::kQuantGemvQ8Direct) {
    QuantizeActivationsQ8Cpu(x.data(), num_tokens, k);
  }

  std::vector<float> ref(size_t(num_tokens) * n);
  const Status cs = MatmulCpu(w_type, w.data(), x.data(), with_bias ? bias.data() : nullptr,
                              ref.data(), num_tokens, n, k);
  ASSERT_TRUE(cs.ok()) << cs.ToString();

  DeviceBuffer dw(w.size()), dx(x_bytes.size()), db(b_bytes.size()), dy(ref.size() * ActBytes(act));
  ASSERT_TRUE(dw.p && dx.p && db.p && dy.p) << "cudaMalloc failed";
  ASSERT_CUDA(cudaMemcpy(dw.p, w.data(), w.size(), cudaMemcpyHostToDevice));
  ASSERT_CUDA(cudaMemcpy(dx.p, x_bytes.data(), x_bytes.size(), cudaMemcpyHostToDevice));
  ASSERT_CUDA(cudaMemcpy(db.p, b_bytes.data(), b_bytes.size(), cudaMemcpyHostToDevice));
  ASSERT_CUDA(cudaMemset(dy.p, testing::kPoisonByte, ref.size() * ActBytes(act)));
  const void* b = with_bias ? db.p : nullptr;
  const Status s =
      forced ? mm.RunKernel(kernel, w_type, dw.p, act, dx.p, b, dy.p, num_tokens, n, k, nullptr)
             : mm.Run(w_type, dw.p, act, dx.p, b, dy.p, num_tokens, n, k, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_CUDA(cudaDeviceSynchronize());
  std::vector<uint8_t> got_bytes(ref.size() * ActBytes(act));
  ASSERT_CUDA(cudaMemcpy(got_bytes.data(), dy.p, got_bytes.size(), cudaMemcpyDeviceToHost));
  std::vector<float> got(ref.size());
  size_t worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    got[i] = ToFloat(act, got_bytes.data() + i * ActBytes(act));
    if (!(std::fabs(got[i] - ref[i]) <= std::fabs(got[worst] - ref[worst]))) worst = i;
  }
  const double err = testing::RelL2(got, ref);
  EXPECT_LT(err, Tolerance(act)) << "worst element " << worst << " (token " << worst / n << ", row "
                                 << worst % n << "): gpu " << got[worst] << " cpu " << ref[worst];
}

// The activation types a case runs with: cuBLASLt the weights' own, the GEMVs' token range all
// three (F32 activations take the float GEMV there: SelectMatmulKernelForRun), more tokens
// bf16/fp16.
std::vector<DType> ActivationsFor(MatmulKernel kernel, DType w_type, int num_tokens) {
  if (kernel == MatmulKernel::kQuantMma && num_tokens <= kMaxGemvTokens) {
    return {DType::kBF16, DType::kF16, DType::kF32};
  }
  switch (kernel) {
    case MatmulKernel::kCublasLt:
      return {w_type};
    case MatmulKernel::kQuantGemv:
    case MatmulKernel::kQuantGemvQ8:
    case MatmulKernel::kQuantGemvQ8Direct:
    case MatmulKernel::kScalarGemv:
      return {DType::kBF16, DType::kF16, DType::kF32};
    default:
      return {DType::kBF16, DType::kF16};
  }
}

void RunShapes(DType w_type, const testing::MatmulShape* shapes, size_t num_shapes) {
  auto mm = GpuMatmul::Create();
  ASSERT_TRUE(mm.ok()) << mm.status().ToString();
  for (size_t i = 0; i < num_shapes; ++i) {
    const testing::MatmulShape shape = shapes[i];
    // 16, 33, 100: the fused dequantize + MMA's three token tiles (100: two tiles of 64); by
    // default 4 and 5 are the first MMA steps of the float-GEMV types and Q6_K / Q8_0, 100
    // dequantize + cuBLASLt's (HEARTH_QUANT_GEMM=fused: the MMA's).
    for (int num_tokens : {1, 2, 3, 4, 5, 8, 16, 33, 100}) {
      const MatmulKernel kernel = SelectMatmulKernel(w_type, num_tokens, shape.n, shape.k);
      for (DType act : ActivationsFor(kernel, w_type, num_tokens)) {
        for (bool bias : {false, true}) {
          RunCase(**mm, w_type, act, num_tokens, shape.n, shape.k, bias);
        }
      }
    }
  }
}

class MatmulGpuTest : public ::testing::TestWithParam<DType> {};

TEST_P(MatmulGpuTest, MatchesCpu) {
  HEARTH_REQUIRE_GPU();
  RunShapes(GetParam(), testing::kMatmulTestShapes, std::size(testing::kMatmulTestShapes));
}

// The float weight types at the tiny validation models' sizes (the scalar GEMV, cuBLASLt with
// odd leading dimensions).
TEST(MatmulGpuSmallModels, FloatWeightsMatchCpu) {
  HEARTH_REQUIRE_GPU();
  for (DType w_type : testing::kMatmulFloatWeightTypes) {
    SCOPED_TRACE(std::string(DTypeName(w_type)));
    RunShapes(w_type, testing::kMatmulSmallModelShapes,
              std::size(testing::kMatmulSmallModelShapes));
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulGpuTest, ::testing::ValuesIn(testing::kMatmulWeightTypes),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

// RunWithDense: where Run would dequantize W for cuBLASLt (200 tokens: beyond the MMA's range
// under every HEARTH_QUANT_GEMM), cuBLASLt reads the copy given. A copy that is W's own
// dequantization gives Run's bits; a different matrix gives cuBLASLt on that matrix (so the copy
// is what is read); at 1 token the copy is ignored (Run's GEMV on the blocks).
TEST(MatmulGpuDense, CopyReadWhereRunWouldDequantize) {
  HEARTH_REQUIRE_GPU();
  auto mm = GpuMatmul::Create();
  ASSERT_TRUE(mm.ok()) << mm.status().ToString();
  const int n = 96, k = 512, big = 200;
  const DType act = DType::kBF16;
  for (DType w_type : {DType::kQ4_K, DType::kQ8_0}) {
    SCOPED_TRACE(std::string(DTypeName(w_type)));
    const auto w = testing::RandomWeights(w_type, int64_t{n} * k, 91);
    std::vector<uint8_t> x_bytes, other_bytes;
    RoundTo(act, testing::RandomVector(size_t(big) * k, 92), &x_bytes);
    RoundTo(act, testing::RandomVector(size_t(n) * k, 93), &other_bytes);
    DeviceBuffer dw(w.size()), dx(x_bytes.size()), copy(size_t(n) * k * 2),
        other(other_bytes.size()), dy(size_t(big) * n * 2), dref(size_t(big) * n * 2);
    ASSERT_TRUE(dw.p && dx.p && copy.p && other.p && dy.p && dref.p) << "cudaMalloc failed";
    ASSERT_CUDA(cudaMemcpy(dw.p, w.data(), w.size(), cudaMemcpyHostToDevice));
    ASSERT_CUDA(cudaMemcpy(dx.p, x_bytes.data(), x_bytes.size(), cudaMemcpyHostToDevice));
    ASSERT_CUDA(
        cudaMemcpy(other.p, other_bytes.data(), other_bytes.size(), cudaMemcpyHostToDevice));
    ASSERT_TRUE(DequantizeGpu(w_type, dw.p, act, copy.p, int64_t{n} * k, nullptr).ok());
    const auto same = [&](int tokens, const void* dense, DType ref_type, const void* ref_w) {
      const size_t bytes = size_t(tokens) * n * 2;
      ASSERT_CUDA(cudaMemset(dy.p, testing::kPoisonByte, bytes));
      ASSERT_CUDA(cudaMemset(dref.p, testing::kPoisonByte, bytes));
      ASSERT_TRUE(
          (*mm)
              ->RunWithDense(w_type, dw.p, dense, act, dx.p, nullptr, dy.p, tokens, n, k, nullptr)
              .ok());
      ASSERT_TRUE(
          (*mm)->Run(ref_type, ref_w, act, dx.p, nullptr, dref.p, tokens, n, k, nullptr).ok());
      std::vector<uint8_t> got(bytes), want(bytes);
      ASSERT_CUDA(cudaMemcpy(got.data(), dy.p, bytes, cudaMemcpyDeviceToHost));
      ASSERT_CUDA(cudaMemcpy(want.data(), dref.p, bytes, cudaMemcpyDeviceToHost));
      EXPECT_EQ(std::memcmp(got.data(), want.data(), bytes), 0) << tokens << " tokens";
    };
    same(big, copy.p, w_type, dw.p);   // W's own dequantization: Run's result
    same(big, other.p, act, other.p);  // another matrix: cuBLASLt on it
    same(1, other.p, w_type, dw.p);    // a GEMV step: the copy is not read
  }
}

// The fused GEMV computes each token's outputs with the same operation sequence whatever the
// number of tokens: a row of x gives bit-identical outputs alone or in a batch of up to 8.
TEST(MatmulGpuGemv, BatchInvariant) {
  HEARTH_REQUIRE_GPU();
  const int n = 769, k = 512, num_tokens = 8;
  for (DType w_type : {DType::kQ4_K, DType::kQ6_K, DType::kQ8_0, DType::kQ4_1}) {
    const auto w = testing::RandomWeights(w_type, int64_t{n} * k, 77);
    std::vector<uint8_t> x_bytes;
    RoundTo(DType::kBF16, testing::RandomVector(size_t(num_tokens) * k, 78), &x_bytes);
    DeviceBuffer dw(w.size()), dx(x_bytes.size()), dy(size_t(num_tokens) * n * 2), dy1(n * 2);
    ASSERT_TRUE(dw.p && dx.p && dy.p && dy1.p) << "cudaMalloc failed";
    ASSERT_CUDA(cudaMemcpy(dw.p, w.data(), w.size(), cudaMemcpyHostToDevice));
    ASSERT_CUDA(cudaMemcpy(dx.p, x_bytes.data(), x_bytes.size(), cudaMemcpyHostToDevice));
    ASSERT_TRUE(
        LaunchQuantGemv(w_type, dw.p, DType::kBF16, dx.p, nullptr, dy.p, num_tokens, n, k, nullptr)
            .ok());
    std::vector<uint16_t> batch(size_t(num_tokens) * n), single(n);
    ASSERT_CUDA(cudaMemcpy(batch.data(), dy.p, batch.size() * 2, cudaMemcpyDeviceToHost));
    for (int t = 0; t < num_tokens; ++t) {
      ASSERT_CUDA(cudaMemset(dy1.p, testing::kPoisonByte, n * 2));
      ASSERT_TRUE(LaunchQuantGemv(w_type, dw.p, DType::kBF16,
                                  static_cast<uint8_t*>(dx.p) + size_t(t) * k * 2, nullptr, dy1.p,
                                  1, n, k, nullptr)
                      .ok());
      ASSERT_CUDA(cudaMemcpy(single.data(), dy1.p, n * 2, cudaMemcpyDeviceToHost));
      EXPECT_EQ(std::memcmp(single.data(), batch.data() + size_t(t) * n, n * 2), 0)
          << DTypeName(w_type) << " token " << t;
    }
  }
}

// Both integer GEMVs (whatever the selection) on shapes with several chunks per row and a partial
// last chunk (the shared shapes above have at most one chunk), 1..8 tokens, against MatmulCpu on
// the int8 round trip of x; and against the unquantized x with a bound that admits the int8
// rounding of x.
TEST(MatmulGpuGemvQ8, MatchesCpuOnLongRows) {
  HEARTH_REQUIRE_GPU();
  auto mm = GpuMatmul::Create();
  ASSERT_TRUE(mm.ok()) << mm.status().ToString();
  for (DType w_type : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,
                       DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    for (const testing::MatmulShape shape : {testing::MatmulShape{67, 14336}, {33, 4352}}) {
      for (int num_tokens : {1, 3, 8}) {
        for (MatmulKernel kernel : {MatmulKernel::kQuantGemvQ8, MatmulKernel::kQuantGemvQ8Direct}) {
          if (!MatmulKernelRuns(kernel, w_type, DType::kBF16, num_tokens, shape.n, shape.k)) {
            continue;  // the direct GEMV's Q8_0 needs k % 128 == 0; Q4_0..Q5_1, Q5_K: no staged one
          }
          for (DType act : {DType::kBF16, DType::kF16}) {
            RunCase(**mm, w_type, act, num_tokens, shape.n, shape.k, num_tokens == 3, kernel);
          }
        }
      }
    }
  }
}

TEST(MatmulGpuGemvQ8, CloseToUnquantizedActivations) {
  HEARTH_REQUIRE_GPU();
  const int n = 301, k = 4096, num_tokens = 4;
  const int64_t scratch_bytes = QuantGemvQ8ScratchBytes(num_tokens, k);
  DeviceBuffer scratch(scratch_bytes);
  for (DType w_type : {DType::kQ8_0, DType::kQ4_K, DType::kQ6_K}) {
    SCOPED_TRACE(std::string(DTypeName(w_type)));
    const auto w = testing::RandomWeights(w_type, int64_t{n} * k, 55);
    std::vector<uint8_t> x_bytes;
    const auto x =
        RoundTo(DType::kBF16, testing::RandomVector(size_t(num_tokens) * k, 56), &x_bytes);
    std::vector<float> ref(size_t(num_tokens) * n);
    ASSERT_TRUE(MatmulCpu(w_type, w.data(), x.data(), nullptr, ref.data(), num_tokens, n, k).ok());
    DeviceBuffer dw(w.size()), dx(x_bytes.size()), dy(ref.size() * 2);
    ASSERT_TRUE(dw.p && dx.p && dy.p && scratch.p) << "cudaMalloc failed";
    ASSERT_CUDA(cudaMemcpy(dw.p, w.data(), w.size(), cudaMemcpyHostToDevice));
    ASSERT_CUDA(cudaMemcpy(dx.p, x_bytes.data(), x_bytes.size(), cudaMemcpyHostToDevice));
    const Status s = LaunchQuantGemvQ8(w_type, dw.p, DType::kBF16, dx.p, nullptr, dy.p, num_tokens,
                                       n, k, scratch.p, scratch_bytes, nullptr);
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::vector<uint8_t> got_bytes(ref.size() * 2);
    ASSERT_CUDA(cudaMemcpy(got_bytes.data(), dy.p, got_bytes.size(), cudaMemcpyDeviceToHost));
    std::vector<float> got(ref.size());
    for (size_t i = 0; i < got.size(); ++i) got[i] = ToFloat(DType::kBF16, &got_bytes[2 * i]);
    // int8 x: ~4e-3 relative for uniform x; bf16 output rounding ~2e-3.
    EXPECT_LT(testing::RelL2(got, ref), 1.5e-2);
  }
}

// Each token's outputs do not depend on the other tokens in the call: the tokens `checked` are
// bit-identical alone or in a batch of num_tokens (the GEMVs: x quantized per block, per-token
// sums in a fixed order; the fused dequantize + MMA: per-output sums whose order, split of k
// included, depends on (n, k) only).
using ScratchLauncher = Status (*)(DType, const void*, DType, const void*, const void*, void*, int,
                                   int, int, void*, int64_t, cudaStream_t);
void ExpectBatchInvariant(ScratchLauncher launch, std::initializer_list<DType> types,
                          int num_tokens, int64_t scratch_bytes,
                          std::initializer_list<int> checked) {
  const int n = 769, k = 4352;
  DeviceBuffer scratch(scratch_bytes);
  for (DType w_type : types) {
    const auto w = testing::RandomWeights(w_type, int64_t{n} * k, 77);
    std::vector<uint8_t> x_bytes;
    RoundTo(DType::kBF16, testing::RandomVector(size_t(num_tokens) * k, 78), &x_bytes);
    DeviceBuffer dw(w.size()), dx(x_bytes.size()), dy(size_t(num_tokens) * n * 2), dy1(n * 2);
    ASSERT_TRUE(dw.p && dx.p && dy.p && dy1.p && scratch.p) << "cudaMalloc failed";
    ASSERT_CUDA(cudaMemcpy(dw.p, w.data(), w.size(), cudaMemcpyHostToDevice));
    ASSERT_CUDA(cudaMemcpy(dx.p, x_bytes.data(), x_bytes.size(), cudaMemcpyHostToDevice));
    const Status s = launch(w_type, dw.p, DType::kBF16, dx.p, nullptr, dy.p, num_tokens, n, k,
                            scratch.p, scratch_bytes, nullptr);
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::vector<uint16_t> batch(size_t(num_tokens) * n), single(n);
    ASSERT_CUDA(cudaMemcpy(batch.data(), dy.p, batch.size() * 2, cudaMemcpyDeviceToHost));
    for (int t : checked) {
      ASSERT_CUDA(cudaMemset(dy1.p, testing::kPoisonByte, n * 2));
      ASSERT_TRUE(launch(w_type, dw.p, DType::kBF16,
                         static_cast<uint8_t*>(dx.p) + size_t(t) * k * 2, nullptr, dy1.p, 1, n, k,
                         scratch.p, scratch_bytes, nullptr)
                      .ok());
      ASSERT_CUDA(cudaMemcpy(single.data(), dy1.p, n * 2, cudaMemcpyDeviceToHost));
      EXPECT_EQ(std::memcmp(single.data(), batch.data() + size_t(t) * n, n * 2), 0)
          << DTypeName(w_type) << " token " << t;
    }
  }
}
void ExpectGemvBatchInvariant(ScratchLauncher launch, std::initializer_list<DType> types) {
  ExpectBatchInvariant(launch, types, 8, QuantGemvQ8ScratchBytes(8, 4352),
                       {0, 1, 2, 3, 4, 5, 6, 7});
}

TEST(MatmulGpuGemvQ8, BatchInvariant) {
  HEARTH_REQUIRE_GPU();
  ExpectGemvBatchInvariant(LaunchQuantGemvQ8, {DType::kQ8_0, DType::kQ4_K, DType::kQ6_K});
}

TEST(MatmulGpuGemvQ8Direct, BatchInvariant) {
  HEARTH_REQUIRE_GPU();
  ExpectGemvBatchInvariant(LaunchQuantGemvQ8Direct,
                           {DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ4_K,
                            DType::kQ5_K, DType::kQ6_K, DType::kQ8_0});
}

TEST(MatmulGpuErrors, ReportsUnsupportedCases) {
  HEARTH_REQUIRE_GPU();
  auto mm = GpuMatmul::Create();
  ASSERT_TRUE(mm.ok()) << mm.status().ToString();
  DeviceBuffer buf(1 << 20);
  ASSERT_TRUE(buf.p);
  EXPECT_EQ((*mm)
                ->Run(DType::kQ4_K, buf.p, DType::kBF16, buf.p, nullptr, buf.p, 1, 16, 100, nullptr)
                .code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ((*mm)
                ->Run(DType::kBF16, buf.p, DType::kF16, buf.p, nullptr, buf.p, 1, 16, 256, nullptr)
                .code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ((*mm)
                ->Run(DType::kQ8_0, buf.p, DType::kF32, buf.p, nullptr, buf.p, 64, 16, 256, nullptr)
                .code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(LaunchQuantGemv(DType::kQ8_0, static_cast<char*>(buf.p) + 2, DType::kBF16, buf.p,
                            nullptr, buf.p, 1, 16, 256, nullptr)
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      LaunchQuantGemv(DType::kQ8_0, buf.p, DType::kBF16, buf.p, nullptr, buf.p, 9, 16, 256, nullptr)
          .code(),
      StatusCode::kInvalidArgument);
  const float* wf = static_cast<const float*>(buf.p);
  EXPECT_EQ(LaunchScalarGemv(wf, DType::kF32, buf.p, nullptr, buf.p, 9, 16, 172, nullptr).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(LaunchScalarGemv(wf, DType::kF32, buf.p, nullptr, buf.p, 1, 16, 0, nullptr).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(LaunchScalarGemv(wf, DType::kI32, buf.p, nullptr, buf.p, 1, 16, 172, nullptr).code(),
            StatusCode::kUnimplemented);
  // The integer GEMV: the 7 other block types use the float GEMV; bad scratch is an error.
  for (DType t : {DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ2_K,
                  DType::kQ3_K, DType::kQ5_K, DType::kF32}) {
    EXPECT_EQ(LaunchQuantGemvQ8(t, buf.p, DType::kBF16, buf.p, nullptr, buf.p, 1, 16, 256, buf.p,
                                1 << 20, nullptr)
                  .code(),
              StatusCode::kUnimplemented)
        << DTypeName(t);
  }
  EXPECT_EQ(LaunchQuantGemvQ8(DType::kQ4_K, buf.p, DType::kF32, buf.p, nullptr, buf.p, 1, 16, 256,
                              buf.p, 1 << 20, nullptr)
                .code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(LaunchQuantGemvQ8(DType::kQ4_K, buf.p, DType::kBF16, buf.p, nullptr, buf.p, 1, 16, 256,
                              buf.p, 16, nullptr)
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(LaunchQuantGemvQ8(DType::kQ6_K, buf.p, DType::kBF16, buf.p, nullptr, buf.p, 9, 16, 256,
                              buf.p, 1 << 20, nullptr)
                .code(),
            StatusCode::kInvalidArgument);
  // The direct integer GEMV: the K-quants, and Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 with k % 128 == 0;
  // the same checks.
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1}) {
    EXPECT_EQ(LaunchQuantGemvQ8Direct(t, buf.p, DType::kBF16, buf.p, nullptr, buf.p, 1, 16, 576,
                                      buf.p, 1 << 20, nullptr)
                  .code(),
              StatusCode::kUnimplemented)
        << DTypeName(t);
  }
  EXPECT_EQ(LaunchQuantGemvQ8Direct(DType::kQ4_K, buf.p, DType::kBF16, buf.p, nullptr, buf.p, 9, 16,
                                    256, buf.p, 1 << 20, nullptr)
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(LaunchQuantGemvQ8Direct(DType::kQ4_K, static_cast<char*>(buf.p) + 8, DType::kBF16,
                                    buf.p, nullptr, buf.p, 1, 16, 256, buf.p, 1 << 20, nullptr)
                .code(),
            StatusCode::kInvalidArgument);
}

// The fused dequantize + MMA at 100 tokens (tiles of 64; one token alone: a tile of 16), k split
// 4 ways.
TEST(MatmulGpuQuantMma, BatchInvariant) {
  HEARTH_REQUIRE_GPU();
  ASSERT_EQ(gemv_internal::PlanQuantMma(100, 769, 4352).k_splits, 4);
  ExpectBatchInvariant(LaunchQuantMma, {DType::kQ4_K, DType::kQ6_K, DType::kQ8_0, DType::kQ4_1},
                       100, gemv_internal::kQuantMmaMaxScratchBytes, {0, 1, 63, 64, 99});
}

TEST(MatmulGpuQuantMma, RejectsBadArguments) {
  HEARTH_REQUIRE_GPU();
  DeviceBuffer buf(1 << 16);
  ASSERT_TRUE(buf.p);
  auto* p = static_cast<uint8_t*>(buf.p);
  const auto launch = [&](DType w_type, DType act, const uint8_t* x, int n, int k, void* scratch) {
    return LaunchQuantMma(w_type, p, act, x, nullptr, p, 16, n, k, scratch, 1 << 16, nullptr)
        .code();
  };
  EXPECT_EQ(launch(DType::kBF16, DType::kBF16, p, 8, 256, p), StatusCode::kUnimplemented);
  EXPECT_EQ(launch(DType::kQ4_K, DType::kF32, p, 8, 256, p), StatusCode::kUnimplemented);
  // k not a multiple of 256; x not 16-byte aligned.
  EXPECT_EQ(launch(DType::kQ4_K, DType::kBF16, p, 8, 288, p), StatusCode::kInvalidArgument);
  EXPECT_EQ(launch(DType::kQ8_0, DType::kBF16, p + 8, 8, 256, p), StatusCode::kInvalidArgument);
  // 8 rows of k = 2048 split k in 2: the scratch is required.
  ASSERT_EQ(gemv_internal::PlanQuantMma(16, 8, 2048).k_splits, 2);
  EXPECT_EQ(launch(DType::kQ8_0, DType::kBF16, p, 8, 2048, nullptr), StatusCode::kInvalidArgument);
  ASSERT_CUDA(cudaDeviceSynchronize());
}

}  // namespace
}  // namespace hearth
