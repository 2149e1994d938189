// Per-sequence sampling parameters, as the sampler kernels read them (a plain struct, copied to
// the device as an array [num_seqs]). Semantics follow vLLM / the OpenAI API:
//   repetition_penalty  tokens seen in the prompt or the output: logit > 0 ? logit / r : logit * r
//   frequency_penalty   output tokens: logit -= f * (times generated)
//   presence_penalty    output tokens: logit -= p * (generated at least once)
// then temperature (logits / T; T below kGreedyTemperature means greedy argmax), then min-p,
// top-k, top-p filters, then a draw from the kept tokens.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/core/status.h"

#ifndef HEARTH_HD  // host + device inline (philox.h defines the same)
#if defined(__CUDACC__)
#define HEARTH_HD __host__ __device__ __forceinline__
#else
#define HEARTH_HD inline
#endif
#endif

namespace hearth {

// Top-n logprobs per sequence are capped here (OpenAI caps top_logprobs at 20).
inline constexpr int kMaxLogprobs = 20;
inline constexpr float kGreedyTemperature = 1e-5f;

struct SamplingParams {
  float temperature = 1.f;         // < kGreedyTemperature: greedy
  int32_t top_k = 0;               // <= 0 or >= vocab: off
  float top_p = 1.f;               // in (0, 1]; 1: off
  float min_p = 0.f;               // in [0, 1]; 0: off
  float repetition_penalty = 1.f;  // > 0; 1: off
  float presence_penalty = 0.f;    // in [-2, 2]
  float frequency_penalty = 0.f;   // in [-2, 2]
  int32_t num_logprobs = 0;        // top-n logprobs to return, 0..kMaxLogprobs
  uint64_t seed = 0;               // with the step counter, keys the random draw
  // 1: token_logprobs gets the sampled token's raw logprob; 0: it gets 0, and greedy and
  // unfiltered rows (the split path) skip the log-sum-exp, one exp per token (the engine asks
  // for it only when the request wants logprobs).
  int32_t token_logprob = 1;
};

HEARTH_HD bool IsGreedy(const SamplingParams& p) { return !(p.temperature >= kGreedyTemperature); }

// OK, or InvalidArgument naming the field and its allowed range (for request validation).
inline Status ValidateSamplingParams(const SamplingParams& p) {
  auto bad = [](const std::string& what) { return InvalidArgumentError("sampling: " + what); };
  if (!(p.temperature >= 0.f) || p.temperature > 100.f)
    return bad("temperature must be in [0, 100]");
  if (!(p.top_p > 0.f && p.top_p <= 1.f)) return bad("top_p must be in (0, 1]");
  if (!(p.min_p >= 0.f && p.min_p <= 1.f)) return bad("min_p must be in [0, 1]");
  if (!(p.repetition_penalty > 0.f) || p.repetition_penalty > 100.f)
    return bad("repetition_penalty must be in (0, 100]");
  if (!(p.presence_penalty >= -2.f && p.presence_penalty <= 2.f))
    return bad("presence_penalty must be in [-2, 2]");
  if (!(p.frequency_penalty >= -2.f && p.frequency_penalty <= 2.f))
    return bad("frequency_penalty must be in [-2, 2]");
  if (p.num_logprobs < 0 || p.num_logprobs > kMaxLogprobs)
    return bad("num_logprobs must be in [0, " + std::to_string(kMaxLogprobs) + "]");
  if (p.token_logprob != 0 && p.token_logprob != 1) return bad("token_logprob must be 0 or 1");
  return Status::Ok();
}

}  // namespace hearth
