// RMSNorm and fused add+RMSNorm over the norm case table, against the copy ceiling.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "benchmarks/kernels/ceiling.h"
#include "kernels/norm/norm_cases.h"
#include "kernels/norm/rms_norm.h"

namespace {

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "bench_norm: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

void CheckStatus(const hearth::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "bench_norm: %s\n", s.ToString().c_str());
    std::exit(1);
  }
}

}  // namespace

int main() {
  using namespace hearth;
  const bench::Ceilings ceil = bench::MeasureCeilings(/*with_matmul=*/false);
  for (DType dtype : {DType::kBF16, DType::kF16, DType::kF32}) {
    const size_t eb = GetDTypeInfo(dtype).block_bytes;
    for (const auto& c : norm_cases::kBenchCases) {
      const size_t n = c.num_tokens * c.hidden;
      void *x, *r, *out;
      float* w;
      Check(cudaMalloc(&x, n * eb), "malloc");
      Check(cudaMalloc(&r, n * eb), "malloc");
      Check(cudaMalloc(&out, n * eb), "malloc");
      Check(cudaMalloc(&w, c.hidden * 4), "malloc");
      Check(cudaMemset(x, 0x3c, n * eb), "memset");  // finite values in every dtype
      Check(cudaMemset(r, 0x3c, n * eb), "memset");
      Check(cudaMemset(w, 0, c.hidden * 4), "memset");
      const std::string name = std::to_string(c.num_tokens) + "x" + std::to_string(c.hidden);
      const double us = bench::TimeUs([&](cudaStream_t s) {
        CheckStatus(RmsNorm(dtype, x, w, out, c.num_tokens, c.hidden, norm_cases::kEps, s));
      });
      bench::PrintResult("rms_norm", name, std::string(DTypeName(dtype)), us,
                         2.0 * n * eb / (us * 1e3), 0, ceil);
      // Fused: reads x and residual, writes residual and out.
      const double us_f = bench::TimeUs([&](cudaStream_t s) {
        CheckStatus(
            FusedAddRmsNorm(dtype, x, r, w, out, c.num_tokens, c.hidden, norm_cases::kEps, s));
      });
      bench::PrintResult("fused_add_rms_norm", name, std::string(DTypeName(dtype)), us_f,
                         4.0 * n * eb / (us_f * 1e3), 0, ceil);
      cudaFree(x), cudaFree(r), cudaFree(out), cudaFree(w);
    }
  }
  return 0;
}
