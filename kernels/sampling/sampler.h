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
// Unfiltered sampled rows (no min-p, top-k or top-p) race in two levels (sampler_race.h): the
// row's parts (each penalty-listed token alone, and the other tokens in groups of 16) race with
// score log(part mass) - log(-log u_part), ties to the part holding the lowest id (for a group
// with +inf values, the one holding the lowest +inf token); then the winning group's tokens race as
// above, a NaN score counting as -inf. The same distribution, at one exp per token instead of a
// Philox draw and two logs; the group masses are float sums in a fixed order, so here too the CPU
// and GPU agree up to float rounding (near-ties of two group scores within ~1e-6).
//
// NaN logits (a broken model) are never drawn nor ranked among the top-n logprobs (the logprobs
// of such a row are NaN, its log-sum-exp being NaN); a row of NaN alone draws token 0.
//
// Penalty lists (CSR): sequence i's tokens are tokens[offsets[i] .. offsets[i+1]), each listed
// once, with output_counts = times generated so far (0 = seen only in the prompt). The
// repetition penalty applies to every listed token, presence/frequency to counts > 0.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

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

// The threshold SampleCpu keeps tokens at (s >= it) for a sampled row, given its scaled
// penalized logits s = logit / T: min-p, top-k and top-p as defined above. For the tests of the
// GPU's selection.
float SamplerThresholdCpu(const float* s, int vocab, const SamplingParams& p);

// ---- CUDA (device pointers) ------------------------------------------------------------------
// Three launches. A split pass cuts every row into up to kSamplerMaxChunks chunks, one block
// each, that read their chunk once: the raw online log-sum-exp, and either the two-level race
// (unfiltered sampled rows: the token) or the argmax of the scaled penalized logits (all others;
// for greedy rows this is the token). Penalties come from the row's list (a bitmap marks the listed
// tokens). Its per-chunk partials are parked in the row's top_ids/top_logprobs slots.
// - split rows (SamplerUsesSplitPath: greedy, or temperature without min-p/top-k/top-p filters,
//   no top-n logprobs) are finished by a one-warp combine, which then fills the slots -1/-inf.
// - other rows: one block per row combines the partials (lse, max), then selects the top-n,
//   top-k and top-p thresholds and races over the kept tokens (unfiltered rows with top-n
//   logprobs take the split pass's token).
//   Top-k rows (k <= kSamplerOneReadMaxK, with or without min-p and top-p) are selected in one
//   read (kOneRead, the default since 2026-11-24; H100 2026-11-25: 2.0-2.3x the window): a bound
//   from the row's first values that at least k values reach, every value reaching it collected
//   into shared memory, the thresholds and the race there. Top-p alone the same where the collected
//   top of the row holds top_p of its mass (peaked rows). Such a row without penalties or top-n
//   logprobs skips the split pass too (SamplerSkipsSplitPass: its log-sum-exp and max come from
//   that read), so it is read once in all. Where more than sampler_window::kCap values reach the
//   bound (ties, rows sorted ascending), or top-p's mass is not collected, the window path takes
//   the row.
//   The window path (kWindow; the default from its H100 run of 2026-11-23, 2.1-3.5x the radix
//   select's speed, to 2026-11-24) builds one histogram of the values in a window below the row
//   max and refines the threshold inside one collected bin, racing the bins above it in the same
//   read: reads of the row 1 for min-p alone, 2 for top-k or top-p, 2 for both where the
//   histogram tells top-p's bin before top-k's is read (else 3), 1 more for the top-n (2-6 where
//   more than sampler_window::kCap values reach its one-read bound: sampler_window.h,
//   README.md). When a threshold lies below the window or its bin holds more than
//   sampler_window::kCap tokens, that row falls back to the radix select (kRadix,
//   HEARTH_SAMPLER=radix for all rows: 4 reads per threshold, exact, slower).
// `logits` is the sampler's scratch: on return the rows of the second path hold their penalized
// (unscaled) logits; split rows are left as given.
// Params are read on the device; validate them on the host first (ValidateSamplingParams).
// Every penalty token must be in [0, vocab) (the engine's ids are); others are ignored.
inline constexpr int kMaxSamplerVocab = 1 << 20;
inline constexpr int kMaxSamplerSeqs = 65535;               // the split path's grid.y
inline constexpr int kSamplerMaxChunks = kMaxLogprobs / 2;  // 4 partial words per chunk

// The largest top-k the one-read selection serves (its bound is the k-th largest of the filtered
// kernel's 1024 thread maxima; a larger k takes the window path).
inline constexpr int kSamplerOneReadMaxK = 256;

// No min-p, top-k or top-p: every token is kept.
HEARTH_HD bool SamplerUnfiltered(const SamplingParams& p, int vocab) {
  return !(p.min_p > 0.f) && !(p.top_k > 0 && p.top_k < vocab) && !(p.top_p < 1.f);
}
// The rows whose token the split pass draws (the two-level race), with or without top-n logprobs.
HEARTH_HD bool SamplerRacesInSplitPass(const SamplingParams& p, int vocab) {
  return !IsGreedy(p) && SamplerUnfiltered(p, vocab);
}
HEARTH_HD bool SamplerUsesSplitPath(const SamplingParams& p, int vocab) {
  if (p.num_logprobs > 0) return false;
  return IsGreedy(p) || SamplerUnfiltered(p, vocab);  // greedy ignores the filters (as SampleCpu)
}

// Sampled top-k rows the filtered kernel selects in one read of the row (kOneRead): min-p and
// top-p may come with top-k, whose kept tokens are among the collected ones.
HEARTH_HD bool SamplerTopKInOneRead(const SamplingParams& p, int vocab) {
  return !IsGreedy(p) && p.top_k > 0 && p.top_k < vocab && p.top_k <= kSamplerOneReadMaxK;
}
// Sampled rows with top-p alone (no top-k, no min-p): the one read collects the top of the row
// and serves the row where that holds top_p of its mass (else the window path).
HEARTH_HD bool SamplerTopPInOneRead(const SamplingParams& p, int vocab) {
  return !IsGreedy(p) && p.top_p < 1.f && !(p.min_p > 0.f) && !(p.top_k > 0 && p.top_k < vocab);
}
HEARTH_HD bool SamplerInOneRead(const SamplingParams& p, int vocab) {
  return SamplerTopKInOneRead(p, vocab) || SamplerTopPInOneRead(p, vocab);
}
// Of those, the rows the split pass leaves alone (kOneRead): without penalties (whose raw
// log-sum-exp the read could not take from the penalized row) nor top-n logprobs (which rank
// the raw row first), the filtered kernel's one read also gives the raw log-sum-exp and max.
HEARTH_HD bool SamplerSkipsSplitPass(const SamplingParams& p, int vocab, bool has_penalties) {
  return SamplerInOneRead(p, vocab) && p.num_logprobs <= 0 && !has_penalties;
}

// How the split path cuts a row: chunks of a multiple of kSamplerChunkAlign tokens (whole
// batches of sampler_race.h, one per warp of the split pass's 8 in turn), at most
// kSamplerMaxChunks of them. Pure.
inline constexpr int kSamplerChunkAlign = 4096;
struct SamplerSplitPlan {
  int num_chunks;
  int chunk_tokens;
};
constexpr SamplerSplitPlan PlanSamplerSplit(int vocab) {
  int chunk = (vocab + kSamplerMaxChunks - 1) / kSamplerMaxChunks;
  chunk = (chunk + kSamplerChunkAlign - 1) / kSamplerChunkAlign * kSamplerChunkAlign;
  return {(vocab + chunk - 1) / chunk, chunk};
}

// How the filtered rows find their thresholds (see above): kOneRead (the default: top-k rows in
// one read, the others by the window histogram), kWindow (the window histogram for every row:
// H100, 2026-11-23, top-k 50 / top-p 0.9 over 256 x 128256 f32 logits in 210 / 358 us against
// the radix select's 611 / 756), kRadix (the radix select for every row). HEARTH_SAMPLER=
// oneread|window|radix; read once, logged when not the default; any other value makes Sample
// fail.
enum class SamplerFilterPath : uint8_t { kOneRead, kWindow, kRadix };
Result<SamplerFilterPath> ParseSamplerFilterPath(std::string_view name);  // "", oneread, ...
const char* SamplerFilterPathName(SamplerFilterPath path);
const Result<SamplerFilterPath>& SamplerFilterPathFromEnv();

// path: nullopt = SamplerFilterPathFromEnv() (an error if HEARTH_SAMPLER is not understood).
Status Sample(float* logits,  // [num_seqs, vocab]
              int num_seqs, int vocab, const SamplingParams* params, const int64_t* steps,
              const PenaltyLists& penalties, const SamplerOutputs& out, cudaStream_t stream,
              std::optional<SamplerFilterPath> path = std::nullopt);

}  // namespace hearth
