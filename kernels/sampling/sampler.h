// The sampler: from one row of logits per sequence to the next token id, its logprob and the
// top-n logprobs, so that only ids and logprobs cross to the host.
//
// Logprobs are those of the RAW model distribution (log-softmax of the logits as given, before
// penalties and temperature), as vLLM returns by default; the sampled token's logprob too.
//
// Selection. After penalties and temperature (s = logit / T), with m = max s:
//   min-p keeps s >= m + log(min_p)            (p >= min_p * p_max)
//   top-k keeps s >= the k-th largest s
//   top-p keeps the smallest top set whose probability (renormalized over what min-p and top-k
//         kept) reaches top_p: the tokens whose strictly-larger mass is < top_p.
// Each filter is a threshold on s, so tokens tied at a threshold are all kept (top-k may keep
// more than k on exact ties). Greedy picks the largest penalized logit, lowest id on ties.
// The draw is an exponential race (Gumbel-max): token = argmax over kept of s_i - log(-log u_i)
// with u_i from Philox4x32-10 keyed by (seed, step, i) (philox.h). It samples exactly from the
// renormalized kept distribution and, unlike an inverse-CDF walk, does not depend on summation
// order, so the CPU and GPU samplers pick the same token up to float rounding.
//
// Penalty lists (CSR): sequence i's tokens are tokens[offsets[i] .. offsets[i+1]), each listed
// once, with output_counts = times generated so far (0 = seen only in the prompt). The
// repetition penalty applies to every listed token, presence/frequency to counts > 0.
#pragma once

#include <cstdint>

#include "kernels/core/status.h"
#include "kernels/core/stream.h"
#include "kernels/sampling/sampling_params.h"

namespace hearth {

struct PenaltyLists {
  const int32_t* offsets = nullptr;        // [num_seqs + 1]; null = no penalties for anyone
  const int32_t* tokens = nullptr;         // [offsets[num_seqs]]
  const int32_t* output_counts = nullptr;  // [offsets[num_seqs]]
};

struct SamplerOutputs {
  int32_t* token_ids = nullptr;     // [num_seqs]
  float* token_logprobs = nullptr;  // [num_seqs]
  int32_t* top_ids = nullptr;       // [num_seqs, kMaxLogprobs]; -1 past num_logprobs
  float* top_logprobs = nullptr;    // [num_seqs, kMaxLogprobs]; -inf past num_logprobs
};

// ---- CPU twin (host pointers) ----------------------------------------------------------------
Status SampleCpu(const float* logits,  // [num_seqs, vocab]
                 int num_seqs, int vocab,
                 const SamplingParams* params,  // [num_seqs]
                 const int64_t* steps,          // [num_seqs] the RNG step counter of each seq
                 const PenaltyLists& penalties, const SamplerOutputs& out);

// ---- CUDA (device pointers) ------------------------------------------------------------------
// `logits` is the sampler's scratch: on return it holds the penalized (unscaled) logits.
// Params are read on the device; validate them on the host first (ValidateSamplingParams).
// Every penalty token must be in [0, vocab) (the engine's ids are); others are ignored.
inline constexpr int kMaxSamplerVocab = 1 << 20;
Status Sample(float* logits,  // [num_seqs, vocab]
              int num_seqs, int vocab, const SamplingParams* params, const int64_t* steps,
              const PenaltyLists& penalties, const SamplerOutputs& out, cudaStream_t stream);

}  // namespace hearth
