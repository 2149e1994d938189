// KV-cache write (bytes: K and V read + written) and block copy (bytes: blocks read + written)
// over the kv_cache case table, against the copy ceiling.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "benchmarks/kernels/ceiling.h"
#include "kernels/kv_cache/block_copy.h"
#include "kernels/kv_cache/cache_write.h"
#include "kernels/kv_cache/kv_cache_cases.h"

namespace {
void Die(const std::string& what) {
  std::fprintf(stderr, "bench_kv_cache: %s\n", what.c_str());
  std::exit(1);
}
template <class T>
T* Upload(const std::vector<T>& v) {
  T* p;
  if (cudaMalloc(&p, v.size() * sizeof(T)) != cudaSuccess) Die("cudaMalloc failed");
  cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice);
  return p;
}
}  // namespace

int main() {
  using namespace hearth;
  const bench::Ceilings ceil = bench::MeasureCeilings(/*with_matmul=*/false);
  const DType dtype = DType::kBF16;
  for (const auto& c : kv_cache_cases::kBenchCases) {
    const kv::PagedKvLayout layout{.num_blocks = c.num_tokens / c.block_size * 2 + 16,
                                   .num_kv_heads = c.num_kv_heads,
                                   .block_size = c.block_size,
                                   .head_dim = c.head_dim};
    const int64_t row = int64_t{c.num_kv_heads} * c.head_dim;
    std::vector<int64_t> slots(c.num_tokens);
    // Every other block, as after a few preemptions: scattered but block-contiguous writes.
    for (int64_t t = 0; t < c.num_tokens; ++t)
      slots[t] = (t / c.block_size) * 2 * c.block_size + t % c.block_size;
    int64_t* dslots = Upload(slots);
    void *k, *v, *kc, *vc;
    if (cudaMalloc(&k, c.num_tokens * row * 2) || cudaMalloc(&v, c.num_tokens * row * 2) ||
        cudaMalloc(&kc, layout.elems_per_layer() * 2) ||
        cudaMalloc(&vc, layout.elems_per_layer() * 2))
      Die("cudaMalloc failed");
    const std::string name = std::to_string(c.num_kv_heads) + "x" + std::to_string(c.head_dim) +
                             "_bs" + std::to_string(c.block_size) + "_tokens" +
                             std::to_string(c.num_tokens);
    const double us = bench::TimeUs([&](cudaStream_t s) {
      const Status st =
          WriteKvCache(dtype, k, row, v, row, dslots, c.num_tokens, layout, kc, vc, s);
      if (!st.ok()) Die(st.ToString());
    });
    bench::PrintResult("write_kv_cache", name, "BF16", us,
                       4.0 * c.num_tokens * row * 2 / (us * 1e3), 0, ceil);
    // Block copy: one layer's K and V, num_tokens / block_size pairs.
    const int num_pairs = static_cast<int>(c.num_tokens / c.block_size) > 0
                              ? static_cast<int>(c.num_tokens / c.block_size)
                              : 1;
    std::vector<int32_t> pairs;
    for (int p = 0; p < num_pairs; ++p) pairs.push_back(2 * p), pairs.push_back(2 * p + 1);
    int32_t* dpairs = Upload(pairs);
    void** dptrs = Upload(std::vector<void*>{kc, vc});
    const double us_c = bench::TimeUs([&](cudaStream_t s) {
      const Status st = CopyKvBlocks(dtype, dptrs, 1, dpairs, num_pairs, layout, s);
      if (!st.ok()) Die(st.ToString());
    });
    bench::PrintResult("copy_kv_blocks", name, "BF16", us_c,
                       2.0 * 2 * num_pairs * layout.block_stride() * 2 / (us_c * 1e3), 0, ceil);
    cudaFree(dslots), cudaFree(k), cudaFree(v), cudaFree(kc), cudaFree(vc), cudaFree(dpairs),
        cudaFree(dptrs);
  }
  return 0;
}
