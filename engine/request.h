// What a client hands the engine (EngineRequest) and what comes back on its output stream
// (OutputChunk). Plain data: the server maps the gRPC messages to and from these.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/sequence.h"
#include "kernels/core/status.h"
#include "kernels/sampling/sampling_params.h"

namespace hearth::engine {

using Clock = std::chrono::steady_clock;

struct EngineRequest {
  std::string request_id;  // unique among in-flight requests
  std::string tenant;      // accounting key ("" = default)
  std::vector<int32_t> prompt_token_ids;
  SamplingParams limits;              // max_tokens, ignore_eos, stop token ids
  ::hearth::SamplingParams sampling;  // temperature, top-k/p, min-p, penalties, seed, logprobs
  std::vector<std::string> stop_strings;
  int priority = 0;  // engine convention: LOWER = more urgent
  std::optional<Clock::time_point> deadline;
  bool skip_special_tokens = true;  // in the streamed text
  bool logprobs = false;            // per-token logprobs (+ sampling.num_logprobs alternatives)
};

struct TokenLogprobs {
  int32_t token_id = 0;
  float logprob = 0.f;
  std::vector<std::pair<int32_t, float>> top;  // most likely first
};

struct OutputChunk {
  std::string text;                     // new text: whole UTF-8 characters only
  std::vector<int32_t> token_ids;       // new tokens
  std::vector<TokenLogprobs> logprobs;  // one per token when logprobs were requested

  // The last chunk of a stream has final = true. A non-OK status means the request failed
  // (kInvalidArgument: rejected by the scheduler; kDeadlineExceeded; kInternal: the step failed;
  // kUnavailable: shutdown) and the rest of the fields may be partial.
  bool final = false;
  Status status;
  FinishReason finish_reason = FinishReason::kNone;
  std::string stop_reason;  // the stop string, or the stop / EOS token id as decimal text
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;
  double queue_ms = 0;        // arrival -> first scheduled
  double first_token_ms = 0;  // arrival -> first token
  double total_ms = 0;        // arrival -> final chunk
};

// Appends `next` to `into` (a consumer that fell behind takes several chunks as one).
void MergeChunk(OutputChunk& into, OutputChunk&& next);

}  // namespace hearth::engine
