// SiLU-and-multiply over the activation case table, against the copy ceiling.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "benchmarks/kernels/ceiling.h"
#include "kernels/activation/activation_cases.h"
#include "kernels/activation/silu_mul.h"

int main() {
  using namespace hearth;
  const bench::Ceilings ceil = bench::MeasureCeilings(/*with_matmul=*/false);
  for (DType dtype : {DType::kBF16, DType::kF16, DType::kF32}) {
    const size_t eb = GetDTypeInfo(dtype).block_bytes;
    for (const auto& c : activation_cases::kBenchCases) {
      const size_t n = c.num_tokens * c.ffn;
      void *x, *out;
      if (cudaMalloc(&x, 2 * n * eb) != cudaSuccess || cudaMalloc(&out, n * eb) != cudaSuccess) {
        std::fprintf(stderr, "bench_activation: cudaMalloc failed\n");
        return 1;
      }
      cudaMemset(x, 0x3c, 2 * n * eb);
      const double us = bench::TimeUs([&](cudaStream_t s) {
        const Status st = SiluMulConcat(dtype, x, out, c.num_tokens, c.ffn, s);
        if (!st.ok()) {
          std::fprintf(stderr, "bench_activation: %s\n", st.ToString().c_str());
          std::exit(1);
        }
      });
      bench::PrintResult("silu_mul", std::to_string(c.num_tokens) + "x" + std::to_string(c.ffn),
                         std::string(DTypeName(dtype)), us, 3.0 * n * eb / (us * 1e3), 0, ceil);
      cudaFree(x), cudaFree(out);
    }
  }
  return 0;
}
