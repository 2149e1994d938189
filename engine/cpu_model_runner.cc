#include "engine/cpu_model_runner.h"

#include <cstdio>
#include <map>
#include <string>

#include "engine/model/decoder.h"
#include "kernels/sampling/sampler.h"
#include "model_loader/loaded_model.h"

namespace hearth::engine {

Result<std::unique_ptr<CpuModelRunner>> CpuModelRunner::Create(const LoadedModel& model,
                                                               const CpuRunnerOptions& options) {
  if (options.block_size <= 0) {
    return InvalidArgumentError("CPU runner: block_size must be positive, got " +
                                std::to_string(options.block_size));
  }
  std::unique_ptr<CpuModelRunner> r(new CpuModelRunner());
  HEARTH_ASSIGN_OR_RETURN(r->spec_, model::DecoderSpecFromConfig(model.config(), model.weights()));
  HEARTH_ASSIGN_OR_RETURN(r->weights_, model::HostWeights::Create(model.weights(), r->spec_));
  int64_t num_blocks = options.num_kv_blocks;
  if (num_blocks <= 0) {
    const int64_t per_block = model::CpuBackend::KvBytesPerBlock(r->spec_, options.block_size);
    num_blocks = options.kv_cache_bytes / per_block;
    if (num_blocks <= 0) {
      return InvalidArgumentError(
          "CPU runner: kv_cache_bytes " + std::to_string(options.kv_cache_bytes) +
          " holds no KV block (one block takes " + std::to_string(per_block) + " bytes)");
    }
  }
  if (num_blocks > INT32_MAX) {
    return InvalidArgumentError("CPU runner: too many KV blocks: " + std::to_string(num_blocks));
  }
  r->backend_ =
      std::make_unique<model::CpuBackend>(r->spec_, num_blocks, options.block_size, options.matmul);
  if (options.matmul == CpuMatmulMode::kInt8) {
    // Said once: which 2-D weights take the 8-bit path and which stay on float32 (float types).
    std::map<DType, int> tensors;
    for (const auto& [name, w] : model.weights().all()) {
      if (w.shape.size() == 2) ++tensors[w.dtype];
    }
    std::string int8, f32;
    for (const auto& [type, count] : tensors) {
      (HasCpuInt8Matmul(type) ? int8 : f32) +=
          " " + std::string(DTypeName(type)) + " (" + std::to_string(count) + ")";
    }
    std::fprintf(stderr, "hearth: CPU matmul int8: 8-bit activations for%s; float32 for%s\n",
                 int8.empty() ? " none" : int8.c_str(), f32.empty() ? " none" : f32.c_str());
  }
  return r;
}

Result<const float*> CpuModelRunner::Forward(const StepPlan& plan) {
  HEARTH_ASSIGN_OR_RETURN(model::DecoderBuffers b,
                          model::RunDecoder(spec_, weights_->decoder(), plan, *backend_));
  return static_cast<const float*>(b.logits);
}

Status CpuModelRunner::ExecuteLogits(const StepPlan& plan, std::vector<float>* logits) {
  HEARTH_ASSIGN_OR_RETURN(const float* rows, Forward(plan));
  const size_t n = plan.logits_indices.size() * static_cast<size_t>(spec_.vocab);
  logits->assign(rows, rows + n);
  return Status::Ok();
}

Status CpuModelRunner::Execute(const StepPlan& plan, const SamplingBatch& sampling,
                               StepResult* result) {
  const int num_rows = static_cast<int>(plan.logits_indices.size());
  HEARTH_RETURN_IF_ERROR(ValidateSamplingBatch(sampling, num_rows, "CPU runner"));
  PenaltyLists penalties;
  if (!sampling.penalty_offsets.empty()) {
    penalties.offsets = sampling.penalty_offsets.data();
    penalties.tokens = sampling.penalty_tokens.data();
    penalties.output_counts = sampling.penalty_counts.data();
  }
  HEARTH_ASSIGN_OR_RETURN(const float* logits, Forward(plan));
  result->token_ids.assign(num_rows, -1);
  result->token_logprobs.assign(num_rows, 0.f);
  result->top_ids.assign(static_cast<size_t>(num_rows) * kMaxLogprobs, -1);
  result->top_logprobs.assign(static_cast<size_t>(num_rows) * kMaxLogprobs, 0.f);
  if (num_rows == 0) return Status::Ok();
  SamplerOutputs out;
  out.token_ids = result->token_ids.data();
  out.token_logprobs = result->token_logprobs.data();
  out.top_ids = result->top_ids.data();
  out.top_logprobs = result->top_logprobs.data();
  return SampleCpu(logits, num_rows, spec_.vocab, sampling.params.data(), sampling.steps.data(),
                   penalties, out);
}

}  // namespace hearth::engine
