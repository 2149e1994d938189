// ModelRunner: executes one engine step (the forward pass of every scheduled token, KV-cache
// writes included) and samples the next token of every sequence that samples this step.
// Implementations: the CPU runner (engine/cpu_model_runner.*) and the CUDA runner
// (engine/cuda_model_runner.*, which also launches steps asynchronously).
// The engine thread is the only caller; a runner owns its KV cache and its weights' copies.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/step_plan.h"
#include "kernels/core/status.h"
#include "kernels/sampling/sampling_params.h"

namespace hearth::engine {

// Sampling inputs for the sequences that sample this step, in plan.logits_indices order.
struct SamplingBatch {
  std::vector<::hearth::SamplingParams> params;  // [num_sampling] (not engine::SamplingParams)
  std::vector<int64_t> steps;             // [num_sampling] RNG step counter (tokens generated)
  // Penalty lists in CSR form (kernels/sampling/sampler.h PenaltyLists); empty = no penalties.
  std::vector<int32_t> penalty_offsets;   // [num_sampling + 1]
  std::vector<int32_t> penalty_tokens;
  std::vector<int32_t> penalty_counts;
};

// The batch has one entry per sampled row and, if any, well-formed penalty lists. Errors start
// with `who`.
inline Status ValidateSamplingBatch(const SamplingBatch& b, int num_rows, const std::string& who) {
  if (static_cast<int>(b.params.size()) != num_rows ||
      static_cast<int>(b.steps.size()) != num_rows) {
    return InvalidArgumentError(who + ": sampling batch has " + std::to_string(b.params.size()) +
                                " params and " + std::to_string(b.steps.size()) + " steps for " +
                                std::to_string(num_rows) + " sampled rows");
  }
  if (!b.penalty_offsets.empty() &&
      (static_cast<int>(b.penalty_offsets.size()) != num_rows + 1 ||
       b.penalty_tokens.size() != b.penalty_counts.size() ||
       static_cast<size_t>(b.penalty_offsets.back()) != b.penalty_tokens.size())) {
    return InvalidArgumentError(who + ": malformed penalty lists");
  }
  return Status::Ok();
}

struct StepResult {
  std::vector<int32_t> token_ids;         // [num_sampling]
  std::vector<float> token_logprobs;      // [num_sampling]
  std::vector<int32_t> top_ids;           // [num_sampling, kMaxLogprobs], -1 past num_logprobs
  std::vector<float> top_logprobs;        // [num_sampling, kMaxLogprobs]
};

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;

  virtual int vocab_size() const = 0;
  // KV-cache capacity (the scheduler's block count) and the block size it was built for.
  virtual int64_t num_kv_blocks() const = 0;
  virtual int block_size() const = 0;

  // Runs the step and samples. `sampling` has one entry per plan.logits_indices entry.
  virtual Status Execute(const StepPlan& plan, const SamplingBatch& sampling,
                         StepResult* result) = 0;

  // Pipelined form of Execute, for runners whose work runs on a device asynchronously. Launch
  // enqueues the step and returns without waiting for it; Wait blocks until that step's result is
  // ready. The engine then overlaps its host work (streaming step N's tokens, taking new requests)
  // with the device's step N+1: Wait(N) -> Update -> Schedule -> Launch(N+1) -> emit step N.
  // Contract: at most one step is launched at a time (each Launch is followed by exactly one Wait
  // before the next Launch, Execute or ExecuteLogits); the plan and batch need not outlive Launch;
  // an error from Launch means nothing is in flight (Wait is not called). Runners whose
  // async_launch() is false (the CPU runner, whose Launch would do all the work) are called through
  // Execute only, so that their tokens are never held back by a step.
  virtual bool async_launch() const { return false; }
  virtual Status Launch(const StepPlan& plan, const SamplingBatch& sampling) {
    (void)plan;
    (void)sampling;
    return UnimplementedError("this model runner has no asynchronous Launch; call Execute");
  }
  virtual Status Wait(StepResult* result) {
    (void)result;
    return UnimplementedError("this model runner has no asynchronous Launch; call Execute");
  }

  // Runs the step and returns float32 logits [logits_indices.size(), vocab_size] instead of
  // sampling (golden-parity tests, logprob debugging).
  virtual Status ExecuteLogits(const StepPlan& plan, std::vector<float>* logits) = 0;
};

}  // namespace hearth::engine
