// The sampler over the sampler case table, per parameter mix (sampling_cases::kBenchMixes):
// greedy and pure temperature (split path: one read of each row), top-k, top-p, everything
// (filtered path: several more reads), the filtered mixes once per selection (window, radix).
// Two kinds of rows: uniform in [-5, 5] (every token within the window's reach of the max), and
// LM-like ("peaked": normal with sigma 2.5, 16 tokens raised by 8-16, as a model's few likely
// next tokens over a long tail). Bytes = one read of the logits, against the copy ceiling.
#include <cuda_runtime.h>

#include <cmath>
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
// Fills rows of `vocab` logits: uniform in [-5, 5), or peaked (see the top). Deterministic.
void FillRows(std::vector<float>& logits, int vocab, bool peaked) {
  uint32_t x = 12345;
  auto uniform = [&x] {  // [0, 1)
    x = x * 1664525u + 1013904223u;
    return static_cast<float>(x >> 8) / 16777216.f;
  };
  for (float& l : logits) {
    if (!peaked) {
      l = uniform() * 10.f - 5.f;
      continue;
    }
    const float u1 = uniform() + 1e-7f, u2 = uniform();  // Box-Muller
    l = 2.5f * std::sqrt(-2.f * std::log(u1)) * std::cos(6.2831853f * u2);
  }
  if (!peaked) return;
  for (size_t row = 0; row < logits.size() / vocab; ++row) {
    for (int j = 0; j < 16; ++j) {
      const size_t tok = static_cast<size_t>(uniform() * static_cast<float>(vocab)) % vocab;
      logits[row * vocab + tok] += 8.f + 8.f * uniform();
    }
  }
}
}  // namespace

int main() {
  using namespace hearth;
  const bench::Ceilings ceil = bench::MeasureCeilings(/*with_matmul=*/false);
  for (const auto& c : sampling_cases::kBenchCases)
    for (const bool peaked : {false, true}) {
      std::vector<float> logits(int64_t{c.vocab} * c.num_seqs);
      FillRows(logits, c.vocab, peaked);
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
        // Filtered mixes run every selection of SampleKernel in the same run: the one-read top-k
        // (the default; other filters as the window), the window histogram and the radix select
        // (HEARTH_SAMPLER=window, radix).
        const bool filtered = !SamplerUsesSplitPath(m.params, c.vocab);
        for (SamplerFilterPath path :
             {SamplerFilterPath::kOneRead, SamplerFilterPath::kWindow, SamplerFilterPath::kRadix}) {
          if (path != SamplerFilterPath::kOneRead && !filtered) continue;
          const double us = bench::TimeUs([&](cudaStream_t s) {
            const Status st = Sample(dlogits, c.num_seqs, c.vocab, dparams, dsteps, {},
                                     {ids, lp, top_ids, top_lp}, s, path);
            if (!st.ok()) Die(st.ToString());
          });
          const std::string suffix =
              filtered ? std::string("_") + SamplerFilterPathName(path) : std::string();
          bench::PrintResult("sample_" + std::string(m.name) + suffix,
                             std::to_string(c.num_seqs) + "x" + std::to_string(c.vocab) +
                                 (peaked ? "_peaked" : "_uniform"),
                             "F32", us, 4.0 * logits.size() / (us * 1e3), 0, ceil);
        }
        cudaFree(dparams);
      }
      cudaFree(dlogits), cudaFree(dsteps), cudaFree(ids), cudaFree(lp), cudaFree(top_ids),
          cudaFree(top_lp);
    }
  return 0;
}
