// The sampler over the sampler case table, per parameter mix (sampling_cases::kBenchMixes):
// greedy and pure temperature (split path: one read of each row), top-k, top-p, everything
// (filtered path: several more reads), the filtered mixes once per selection (window, radix).
// Bytes = one read of the logits, against the copy ceiling.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "benchmarks/kernels/ceiling.h"
#include "kernels/sampling/sampler.h"
#include "kernels/sampling/sampling_cases.h"

namespace {
void Die(const std::string& what) {
  std::fprintf(stderr, "bench_sampling: %s\n", what.c_str());
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
  for (const auto& c : sampling_cases::kBenchCases) {
    std::vector<float> logits(int64_t{c.vocab} * c.num_seqs);
    uint32_t x = 12345;
    for (float& l : logits) {
      x = x * 1664525u + 1013904223u;
      l = static_cast<float>(x >> 8) / 16777216.f * 10.f - 5.f;
    }
    float* dlogits = Upload(logits);
    std::vector<int64_t> steps(c.num_seqs, 7);
    int64_t* dsteps = Upload(steps);
    int32_t *ids, *top_ids;
    float *lp, *top_lp;
    if (cudaMalloc(&ids, c.num_seqs * 4) || cudaMalloc(&lp, c.num_seqs * 4) ||
        cudaMalloc(&top_ids, c.num_seqs * kMaxLogprobs * 4) ||
        cudaMalloc(&top_lp, c.num_seqs * kMaxLogprobs * 4))
      Die("cudaMalloc failed");
    for (const auto& m : sampling_cases::kBenchMixes) {
      SamplingParams* dparams = Upload(std::vector<SamplingParams>(c.num_seqs, m.params));
      // Filtered mixes run both selections of SampleKernel: the window histogram (the default)
      // and the radix select it falls back to (HEARTH_SAMPLER=radix), in the same run.
      const bool filtered = !SamplerUsesSplitPath(m.params, c.vocab);
      for (SamplerFilterPath path : {SamplerFilterPath::kWindow, SamplerFilterPath::kRadix}) {
        if (path == SamplerFilterPath::kRadix && !filtered) continue;
        const double us = bench::TimeUs([&](cudaStream_t s) {
          const Status st = Sample(dlogits, c.num_seqs, c.vocab, dparams, dsteps, {},
                                   {ids, lp, top_ids, top_lp}, s, path);
          if (!st.ok()) Die(st.ToString());
        });
        const std::string suffix =
            filtered ? std::string("_") + SamplerFilterPathName(path) : std::string();
        bench::PrintResult("sample_" + std::string(m.name) + suffix,
                           std::to_string(c.num_seqs) + "x" + std::to_string(c.vocab), "F32", us,
                           4.0 * logits.size() / (us * 1e3), 0, ceil);
      }
      cudaFree(dparams);
    }
    cudaFree(dlogits), cudaFree(dsteps), cudaFree(ids), cudaFree(lp), cudaFree(top_ids),
        cudaFree(top_lp);
  }
  return 0;
}
