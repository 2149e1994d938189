// RoPE and fused q/k RMSNorm + RoPE over the RoPE case table, in place on contiguous q and k,
// against the copy ceiling (bytes: q and k read once and written once).
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "benchmarks/kernels/ceiling.h"
#include "kernels/rope/rope.h"
#include "kernels/rope/rope_cases.h"

namespace {
void Die(const std::string& what) {
  std::fprintf(stderr, "bench_rope: %s\n", what.c_str());
  std::exit(1);
}
}  // namespace

int main() {
  using namespace hearth;
  const bench::Ceilings ceil = bench::MeasureCeilings(/*with_matmul=*/false);
  for (const auto& c : rope_cases::kModels) {
    auto inv = RopeInvFreq(
        {.head_dim = c.head_dim, .theta = c.theta, .style = c.style, .scaling = c.scaling});
    if (!inv.ok()) Die(inv.status().ToString());
    for (int64_t tokens : rope_cases::kBenchTokenCounts) {
      std::vector<int32_t> pos(tokens);
      for (int64_t t = 0; t < tokens; ++t) pos[t] = static_cast<int32_t>(t % 8192);
      const int64_t q_elems = tokens * c.num_heads * c.head_dim;
      const int64_t k_elems = tokens * c.num_kv_heads * c.head_dim;
      void *q, *k;
      float *freq, *w;
      int32_t* dpos;
      if (cudaMalloc(&q, q_elems * 2) || cudaMalloc(&k, k_elems * 2) ||
          cudaMalloc(&freq, inv->size() * 4) || cudaMalloc(&w, c.head_dim * 4) ||
          cudaMalloc(&dpos, tokens * 4))
        Die("cudaMalloc failed");
      cudaMemset(q, 0, q_elems * 2), cudaMemset(k, 0, k_elems * 2),
          cudaMemset(w, 0, c.head_dim * 4);
      cudaMemcpy(freq, inv->data(), inv->size() * 4, cudaMemcpyHostToDevice);
      cudaMemcpy(dpos, pos.data(), tokens * 4, cudaMemcpyHostToDevice);
      const std::string name = std::string(c.model) + "_tokens" + std::to_string(tokens);
      const double bytes = 2.0 * (q_elems + k_elems) * 2;
      for (bool fused : {false, true}) {
        const double us = bench::TimeUs([&](cudaStream_t s) {
          const Status st =
              fused ? QkNormRope(DType::kBF16, c.style, c.head_dim, freq, dpos, tokens, q,
                                 c.num_heads * c.head_dim, c.num_heads, k,
                                 c.num_kv_heads * c.head_dim, c.num_kv_heads, w, w, 1e-6f, s)
                    : Rope(DType::kBF16, c.style, c.head_dim, freq, dpos, tokens, q,
                           c.num_heads * c.head_dim, c.num_heads, k, c.num_kv_heads * c.head_dim,
                           c.num_kv_heads, s);
          if (!st.ok()) Die(st.ToString());
        });
        bench::PrintResult(fused ? "qk_norm_rope" : "rope", name, "BF16", us, bytes / (us * 1e3), 0,
                           ceil);
      }
      cudaFree(q), cudaFree(k), cudaFree(freq), cudaFree(w), cudaFree(dpos);
    }
  }
  return 0;
}
