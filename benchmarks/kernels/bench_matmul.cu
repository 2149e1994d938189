// Matmul benchmark: every weight type through the kernel SelectMatmulKernel picks, for the Llama-3
// 8B-like shapes (n x k) 4096x4096, 14336x4096 (gate/up), 4096x14336 (down) at 1, 2, 4, 8, 512
// and 4096 tokens, bf16 activations. Per type and shape, op=read is a kernel that only reads the
// weight bytes, timed the same way: the GEMVs' bound at that size (launch and ramp included).
// gbps = weight bytes / time (the bound for few tokens),
// tflops = 2 * num_tokens * n * k / time. Where the integer GEMV (quant_gemv_q8) is selected, the
// float GEMV (quant_gemv) is timed on the same case too, and for Q4_K / Q8_0 the other integer GEMV
// (quant_gemv_q8 staged vs quant_gemv_q8_direct), for comparison in one run (HEARTH_GEMV=float or
// =direct changes what GpuMatmul itself runs). Where dequantize + cuBLASLt is selected for a block
// type, the fused dequantize + tensor-core GEMM (quant_mma) is timed beside it (HEARTH_QUANT_GEMM=
// fused makes GpuMatmul run it up to kMaxQuantMmaTokens tokens), and from 2 tokens beside the
// GEMVs.
//   bench_matmul [--quick] [--once] [TYPE...]     e.g. bench_matmul Q4_K Q6_K Q8_0
// --once runs every launch once, untimed, for a profiler (scripts/gpu_check.sh's ncu step: every
// kernel of every case exactly once, so a kernel-name filter picks them without launch counts).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "benchmarks/kernels/ceiling.h"
#include "kernels/matmul/gemv_direct.h"
#include "kernels/matmul/matmul.h"
#include "kernels/matmul/quant_mma.h"
#include "tests/kernels/quant/random_blocks.h"

namespace {

using hearth::DType;

#define BENCH_CHECK_CUDA(stmt)                                                \
  do {                                                                        \
    const cudaError_t e_ = (stmt);                                            \
    if (e_ != cudaSuccess) {                                                  \
      std::fprintf(stderr, "%s failed: %s\n", #stmt, cudaGetErrorString(e_)); \
      std::exit(1);                                                           \
    }                                                                         \
  } while (0)

struct Shape {
  int n, k;
};
constexpr Shape kShapes[] = {{4096, 4096}, {14336, 4096}, {4096, 14336}};
// 16..128: continuous batching's decode batches, where the fused dequantize + MMA competes with
// dequantize + cuBLASLt.
constexpr int kTokens[] = {1, 2, 4, 8, 16, 32, 64, 128, 512, 4096};
// quant_mma is timed up to here (past its selection range, to see the crossover).
constexpr int kMaxMmaBenchTokens = 512;

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, once = false;
  std::vector<DType> types;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--once") == 0) {
      once = true;
    } else if (auto t = hearth::DTypeFromName(argv[i])) {
      types.push_back(*t);
    } else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (types.empty()) {
    types = {DType::kQ4_K, DType::kQ6_K, DType::kQ8_0, DType::kBF16, DType::kQ4_0, DType::kQ4_1,
             DType::kQ5_0, DType::kQ5_1, DType::kQ2_K, DType::kQ3_K, DType::kQ5_K, DType::kF16};
  }
  const hearth::bench::Ceilings ceilings = hearth::bench::MeasureCeilings(true);
  auto mm = hearth::GpuMatmul::Create();
  if (!mm.ok()) {
    std::fprintf(stderr, "%s\n", mm.status().ToString().c_str());
    return 1;
  }
  const int64_t max_elems = int64_t{4096} * 14336;
  const int max_tokens = quick ? 512 : 4096;
  void *dw, *dx, *dy;
  BENCH_CHECK_CUDA(cudaMalloc(&dx, int64_t{max_tokens} * 14336 * 2));
  BENCH_CHECK_CUDA(cudaMalloc(&dy, int64_t{max_tokens} * 14336 * 2));
  // Random, never constant (a constant fill flatters tensor-core timings).
  hearth::bench::FillRandomBf16(dx, static_cast<size_t>(max_tokens) * 14336, 7);
  if (!(*mm)->Reserve(max_elems).ok()) return 1;
  // The integer GEMVs' int8 activations when launched directly (comparisons below).
  const int64_t q8_bytes = hearth::QuantGemvQ8ScratchBytes(8, 14336);
  void* dq8;
  BENCH_CHECK_CUDA(cudaMalloc(&dq8, q8_bytes));
  // The fused dequantize + MMA's split-k sums, for every shape up to kMaxMmaBenchTokens.
  int64_t split_bytes = 0;
  for (const Shape& s : kShapes) {
    split_bytes = std::max(
        split_bytes, hearth::gemv_internal::QuantMmaScratchBytes(kMaxMmaBenchTokens, s.n, s.k));
  }
  void* dsplit;
  BENCH_CHECK_CUDA(cudaMalloc(&dsplit, std::max<int64_t>(split_bytes, 16)));
  const auto gemv = hearth::ParseGemvOverride(std::getenv("HEARTH_GEMV"));
  const auto quant_gemm = hearth::ParseQuantGemm(std::getenv("HEARTH_QUANT_GEMM"));
  if (!gemv.ok() || !quant_gemm.ok()) {
    std::fprintf(stderr, "%s\n",
                 (gemv.ok() ? quant_gemm.status() : gemv.status()).ToString().c_str());
    return 2;
  }

  const auto time_us = [once](const std::function<void(cudaStream_t)>& fn) {
    return once ? hearth::bench::TimeUs(fn, 0, 1, false) : hearth::bench::TimeUs(fn);
  };
  for (DType type : types) {
    const std::string tname(hearth::DTypeName(type));
    const std::vector<uint8_t> w = hearth::testing::RandomWeights(type, max_elems, 42);
    BENCH_CHECK_CUDA(cudaMalloc(&dw, w.size()));
    BENCH_CHECK_CUDA(cudaMemcpy(dw, w.data(), w.size(), cudaMemcpyHostToDevice));
    const DType act = type == DType::kF16 ? DType::kF16 : DType::kBF16;
    for (const Shape& s : kShapes) {
      const int64_t w_bytes = *hearth::DTypeBytes(type, int64_t{s.n} * s.k);
      // What a kernel that only reads these bytes reaches (the decode GEMVs' bound at this size).
      if (!once) {
        const double read_gbps = hearth::bench::MeasureReadGBps(dw, w_bytes / 16 * 16);
        hearth::bench::PrintResult("read", "n" + std::to_string(s.n) + "_k" + std::to_string(s.k),
                                   tname, w_bytes / (read_gbps * 1e3), read_gbps, 0, ceilings);
      }
      for (int num_tokens : kTokens) {
        if (num_tokens > max_tokens) continue;
        const hearth::MatmulKernel kernel =
            hearth::SelectMatmulKernelForRun(type, act, num_tokens, s.n, s.k, *gemv, *quant_gemm);
        hearth::Status status;
        const double us = time_us([&](cudaStream_t stream) {
          const hearth::Status st =
              (*mm)->Run(type, dw, act, dx, nullptr, dy, num_tokens, s.n, s.k, stream);
          if (!st.ok()) status = st;
        });
        if (!status.ok()) {
          std::fprintf(stderr, "%s n=%d k=%d t=%d: %s\n", tname.c_str(), s.n, s.k, num_tokens,
                       status.ToString().c_str());
          continue;
        }
        const double gbps = w_bytes / (us * 1e3);
        const double tflops = 2.0 * num_tokens * s.n * double(s.k) / (us * 1e6);
        const std::string case_name = "n" + std::to_string(s.n) + "_k" + std::to_string(s.k) +
                                      "_t" + std::to_string(num_tokens) + "_" +
                                      std::string(hearth::MatmulKernelName(kernel));
        // Up to ~128 tokens the weight read bounds the time; for many, the tensor cores.
        hearth::bench::PrintResult(
            "matmul", case_name, tname, us,
            num_tokens <= hearth::gemv_internal::kMaxQuantMmaTokens ? gbps : 0, tflops, ceilings);
        // The other GEMVs on the same case, for comparison in the same run.
        auto time_alt = [&](const char* name, auto&& launch) {
          const double us_alt = time_us([&](cudaStream_t stream) {
            const hearth::Status st = launch(stream);
            if (!st.ok()) status = st;
          });
          if (!status.ok()) {
            std::fprintf(stderr, "%s n=%d k=%d t=%d (%s): %s\n", tname.c_str(), s.n, s.k,
                         num_tokens, name, status.ToString().c_str());
            static_cast<void>(status = hearth::Status());  // (operator= returns a Status&)
            return;
          }
          const std::string alt_case = "n" + std::to_string(s.n) + "_k" + std::to_string(s.k) +
                                       "_t" + std::to_string(num_tokens) + "_" + name;
          hearth::bench::PrintResult("matmul", alt_case, tname, us_alt, w_bytes / (us_alt * 1e3),
                                     2.0 * num_tokens * s.n * double(s.k) / (us_alt * 1e6),
                                     ceilings);
        };
        const bool int8_gemv = kernel == hearth::MatmulKernel::kQuantGemvQ8 ||
                               kernel == hearth::MatmulKernel::kQuantGemvQ8Direct;
        if (int8_gemv) {
          time_alt("quant_gemv", [&](cudaStream_t stream) {
            return hearth::LaunchQuantGemv(type, dw, act, dx, nullptr, dy, num_tokens, s.n, s.k,
                                           stream);
          });
        }
        if (int8_gemv && hearth::gemv_internal::HasDirectGemv(type, s.k)) {
          const bool direct = kernel == hearth::MatmulKernel::kQuantGemvQ8Direct;
          time_alt(direct ? "quant_gemv_q8" : "quant_gemv_q8_direct", [&](cudaStream_t stream) {
            const auto launch =
                direct ? hearth::LaunchQuantGemvQ8 : hearth::LaunchQuantGemvQ8Direct;
            return launch(type, dw, act, dx, nullptr, dy, num_tokens, s.n, s.k, dq8, q8_bytes,
                          stream);
          });
        }
        // The fused dequantize + MMA also from 2 tokens: its cost per weight does not depend on
        // the token count (16-token tiles), where the GEMVs' x traffic grows with it.
        const bool gemv_kernel = int8_gemv || kernel == hearth::MatmulKernel::kQuantGemv;
        if ((kernel == hearth::MatmulKernel::kDequantCublasLt ||
             (gemv_kernel && num_tokens >= 2)) &&
            hearth::gemv_internal::HasQuantMma(type) && num_tokens <= kMaxMmaBenchTokens) {
          time_alt("quant_mma", [&](cudaStream_t stream) {
            return hearth::LaunchQuantMma(type, dw, act, dx, nullptr, dy, num_tokens, s.n, s.k,
                                          dsplit, split_bytes, stream);
          });
        }
      }
    }
    BENCH_CHECK_CUDA(cudaFree(dw));
  }
  BENCH_CHECK_CUDA(cudaFree(dx));
  BENCH_CHECK_CUDA(cudaFree(dy));
  BENCH_CHECK_CUDA(cudaFree(dq8));
  BENCH_CHECK_CUDA(cudaFree(dsplit));
  return 0;
}
