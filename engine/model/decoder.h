// The one decoder recipe shared by llama, qwen2 and qwen3 (the differences are DecoderSpec
// flags and which DecoderWeights are present), written against BackendOps so that every backend
// runs the same sequence of ops:
//   embed -> per layer [rmsnorm -> q,k,v (+bias) -> (q/k norm +) RoPE -> KV write -> paged
//   attention -> o -> residual add + rmsnorm -> gate, up -> silu*up -> down] -> gather the
//   sampled rows -> residual add + final norm -> lm_head.
#pragma once

#include <string>

#include "engine/model/backend_ops.h"
#include "engine/model/decoder_spec.h"
#include "engine/step_plan.h"

namespace hearth::engine::model {

// The plan is one a backend can run: per-token and per-sequence arrays of consistent sizes,
// logits indices among the step's tokens, token ids in [0, vocab). Errors start with `who`.
Status ValidateStepPlan(const StepPlan& plan, int vocab, const std::string& who);

// Runs the forward pass of `plan` and leaves the logits [logits_indices.size(), vocab] in the
// returned buffers' `logits`, in the backend's activation dtype (float32 on the CPU). Fused
// projections (LayerWeights::wqkv / w_gate_up) are used where present.
Result<DecoderBuffers> RunDecoder(const DecoderSpec& spec, const DecoderWeights& weights,
                                  const StepPlan& plan, BackendOps& ops);

}  // namespace hearth::engine::model
