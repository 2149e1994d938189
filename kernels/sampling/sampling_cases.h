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
    // The usual chat filters: on peaked rows top-p's bin lies above top-k's (collected together).
    {"top_k50_p0.9", {0.8f, 50, 0.9f, 0.f, 1.f, 0.f, 0.f, 0, 5}},
    // Without the sampled token's logprob (a request without logprobs): the split path skips
    // its log-sum-exp.
    {"greedy_nolp", {0.f, 0, 1.f, 0.f, 1.f, 0.f, 0.f, 0, 0, 0}},
    {"temperature_nolp", {0.8f, 0, 1.f, 0.f, 1.f, 0.f, 0.f, 0, 1, 0}},
    // Greedy with the top 5 logprobs: the split pass, then the one-read top n.
    {"greedy_logprobs5", {0.f, 0, 1.f, 0.f, 1.f, 0.f, 0.f, 5, 0}},
    // The usual chat request without logprobs: the one read without its log-sum-exp.
    {"top_k50_p0.9_nolp", {0.8f, 50, 0.9f, 0.f, 1.f, 0.f, 0.f, 0, 5, 0}},
};

// Rows without top-n logprobs that are greedy or unfiltered take the split path
// (SamplerUsesSplitPath), the others the one-block-per-row path.
// temperature, top_k, top_p, min_p, repetition, presence, frequency, num_logprobs, seed
// (, token_logprob: 1 unless given)
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
    // Without the sampled token's logprob (token_logprobs 0): split rows skip the log-sum-exp.
    {0.f, 0, 1.f, 0.f, 1.f, 0.f, 0.f, 0, 0, 0},       // greedy
    {0.9f, 0, 1.f, 0.f, 1.2f, -0.4f, 0.3f, 0, 8, 0},  // temperature with penalties
    {0.8f, 0, 0.9f, 0.f, 1.f, 0.f, 0.f, 0, 9, 0},     // top-p (filtered path)
};

// Rows whose kept set sits on the window histogram's bin edges (sampler_window.h: bins of 1/128
// below the max m), with near-uniform kept tokens so that the race's winner exposes a kept token
// lost or a dropped one kept: 30 tokens at m = 5 (group A, bin 0), 30 just below (group B), a
// background in [-5, -1). kind % 4:
//   0: B at m - 0.01 (bin 1), top-k 50: threshold B, tied, in bin 1; A is raced above it.
//   1: the same groups, top-p 0.7: threshold B again, found by mass.
//   2: B at m - 0.001 (bin 0), top-k 40 then top-p 0.3: both thresholds in bin 0 (keeps A).
//   3: B at m - 0.01, min-p 0.5 then top-k 45 and the top-20 logprobs (30 ties at the max).
// Needs vocab >= 800. Returns the row's parameters (temperature 1).
inline SamplingParams FillBoundaryRow(float* row, int vocab, int kind, uint64_t seed) {
  for (int i = 0; i < vocab; ++i)
    row[i] = -5.f + static_cast<float>((static_cast<uint32_t>(i) * 2654435761u) % 1000u) / 250.f;
  const float b_value = kind % 4 == 2 ? 4.999f : 4.99f;
  for (int j = 0; j < 60; ++j) row[7 + 13 * j] = j < 30 ? 5.f : b_value;
  SamplingParams p;
  p.seed = seed;
  switch (kind % 4) {
    case 0:
      p.top_k = 50;
      break;
    case 1:
      p.top_p = 0.7f;
      break;
    case 2:
      p.top_k = 40, p.top_p = 0.3f;
      break;
    default:
      p.min_p = 0.5f, p.top_k = 45, p.num_logprobs = 20;
  }
  return p;
}

// A row where top-p's threshold bin lies above top-k's and the window path collects both in one
// read (sampler_window.h, CoCollectedBin): 20 tokens tied at the max 5 (bin 0, all that top-p
// 0.1 keeps), 200 at 4.5 (bin 64) and the background of FillBoundaryRow, top-k 300 (its bin in
// the background's top). The 200 and the background tokens above top-k's bin would win most
// races if raced; the 20 win none unless the second bin's slots are raced. Needs vocab >= 3000.
inline SamplingParams FillTopPInsideTopKRow(float* row, int vocab, uint64_t seed) {
  for (int i = 0; i < vocab; ++i)
    row[i] = -5.f + static_cast<float>((static_cast<uint32_t>(i) * 2654435761u) % 1000u) / 250.f;
  for (int j = 0; j < 220; ++j) row[5 + 13 * j] = j < 20 ? 5.f : 4.5f;
  SamplingParams p;
  p.top_k = 300, p.top_p = 0.1f, p.seed = seed;
  return p;
}

}  // namespace hearth::sampling_cases
