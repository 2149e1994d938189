// The case table of the sampler: vocabularies of real models, batch sizes, and a mix of
// sampling parameters cycled over the sequences of a batch.
#pragma once

#include <cstdint>

#include "kernels/sampling/sampling_params.h"

namespace hearth::sampling_cases {

struct SamplerCase {
  int vocab;
  int num_seqs;
};

// 50001: not a multiple of 4 (the split path's scalar loads and a partial last Philox group).
// 512: the tiny validation models' vocabulary.
inline constexpr SamplerCase kTestCases[] = {
    {1000, 7},    {32000, 64}, {49152, 256}, {50001, 12},
    {128256, 16}, {151936, 7}, {262144, 4},  {512, 9},
};

inline constexpr SamplerCase kBenchCases[] = {
    {128256, 1}, {128256, 32}, {128256, 256}, {151936, 64}, {262144, 256},
};

// The benchmark's parameter mixes (every row of a batch the same): the first two take the split
// path, the others the filtered one-block-per-row path.
struct BenchMix {
  const char* name;
  SamplingParams params;
};
inline constexpr BenchMix kBenchMixes[] = {
    {"greedy", {0.f, 0, 1.f, 0.f, 1.f, 0.f, 0.f, 0, 0}},
    {"temperature", {0.8f, 0, 1.f, 0.f, 1.f, 0.f, 0.f, 0, 1}},
    {"top_k50", {0.8f, 50, 1.f, 0.f, 1.f, 0.f, 0.f, 0, 2}},
    {"top_p0.9", {0.8f, 0, 0.9f, 0.f, 1.f, 0.f, 0.f, 0, 3}},
    {"all_logprobs5", {0.8f, 50, 0.9f, 0.05f, 1.1f, 0.1f, 0.1f, 5, 4}},
};

// Rows without top-n logprobs that are greedy or unfiltered take the split path
// (SamplerUsesSplitPath), the others the one-block-per-row path.
// temperature, top_k, top_p, min_p, repetition, presence, frequency, num_logprobs, seed
inline constexpr SamplingParams kParamMix[] = {
    {0.f, 0, 1.f, 0.f, 1.f, 0.f, 0.f, 0, 0},          // greedy
    {0.f, 0, 1.f, 0.f, 1.3f, 0.5f, 0.2f, 5, 0},       // greedy with penalties and logprobs
    {0.f, 0, 1.f, 0.f, 1.3f, 0.5f, 0.2f, 0, 0},       // greedy with penalties (split path)
    {0.9f, 0, 1.f, 0.f, 1.2f, -0.4f, 0.3f, 0, 7},     // temperature with penalties (split path)
    {1.f, 0, 1.f, 0.f, 1.f, 0.f, 0.f, 0, 1},          // pure sampling
    {0.7f, 50, 1.f, 0.f, 1.f, 0.f, 0.f, 20, 2},       // top-k
    {0.8f, 0, 0.9f, 0.f, 1.f, 0.f, 0.f, 1, 3},        // top-p
    {1.2f, 0, 1.f, 0.05f, 1.f, 0.f, 0.f, 0, 4},       // min-p
    {0.9f, 40, 0.8f, 0.02f, 1.1f, 0.3f, 0.1f, 3, 5},  // everything
    {1.f, 1, 1.f, 0.f, 1.f, 0.f, 0.f, 0, 6},          // top-k 1 = greedy by filtering
};

}  // namespace hearth::sampling_cases
