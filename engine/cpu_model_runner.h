// The CPU model runner: the shared decoder recipe (engine/model/decoder.h) on the CPU backend,
// then the CPU sampler. Float32 compute, weights read from the model's mappings in their stored
// type, a float32 paged KV cache in host memory. Batch-invariant: a sequence's logits are
// bit-identical whatever else runs in the step.
#pragma once

#include <cstdint>
#include <memory>

#include "engine/model/cpu_backend.h"
#include "engine/model/decoder_spec.h"
#include "engine/model/host_weights.h"
#include "engine/model_runner.h"

namespace hearth {
class LoadedModel;
}

namespace hearth::engine {

struct CpuRunnerOptions {
  // KV-cache capacity: num_kv_blocks if > 0, else as many blocks as fit in kv_cache_bytes.
  int64_t num_kv_blocks = 0;
  int64_t kv_cache_bytes = int64_t{256} << 20;
  int block_size = kv::kDefaultBlockSize;
  // The linear layers: float32 activations (the reference) or 8-bit ones (MatmulCpuInt8).
  CpuMatmulMode matmul = CpuMatmulMode::kF32;
  // Threads: the kernels use OpenMP; set OMP_NUM_THREADS (process-wide) to limit them.
};

class CpuModelRunner final : public ModelRunner {
 public:
  // `model` must outlive the runner (weights are views into its mappings).
  static Result<std::unique_ptr<CpuModelRunner>> Create(const LoadedModel& model,
                                                        const CpuRunnerOptions& options = {});

  int vocab_size() const override { return spec_.vocab; }
  int64_t num_kv_blocks() const override { return backend_->layout().num_blocks; }
  int block_size() const override { return backend_->layout().block_size; }

  Status Execute(const StepPlan& plan, const SamplingBatch& sampling, StepResult* result) override;
  Status ExecuteLogits(const StepPlan& plan, std::vector<float>* logits) override;

  const model::DecoderSpec& spec() const { return spec_; }

 private:
  CpuModelRunner() = default;
  Result<const float*> Forward(const StepPlan& plan);  // logits [num_rows, vocab]

  model::DecoderSpec spec_;
  std::unique_ptr<model::HostWeights> weights_;
  std::unique_ptr<model::CpuBackend> backend_;
};

}  // namespace hearth::engine
