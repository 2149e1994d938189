// The CUDA model runner (CUDA builds only): the shared decoder recipe on model::CudaBackend, then
// the GPU sampler, so that only token ids and logprobs come back to the host.
//
// Per step (Execute, or Launch then Wait): the plan's arrays (and the sampling inputs) are packed into a pinned host
// buffer and sent in one async copy to fixed device addresses; the forward pass, the float32
// logits and the sampler are enqueued on the runner's stream; the only synchronization is on the
// small result copy (ids, logprobs, top-n) at the end. Pure decode steps are padded to a batch
// bucket (cuda_runner_plan.h) and replayed as a CUDA graph captured the first time the bucket is
// seen (HEARTH_CUDA_GRAPHS=0 or CudaRunnerOptions::cuda_graphs = false runs them eagerly, padded
// the same way, so the two give bit-identical results).
//
// Memory, decided once at Create and printed: weights (model/device_weight_plan.h), a fixed
// workspace for max_num_batched_tokens tokens and max_num_seqs sequences, and the KV cache from
// what --gpu-memory-fraction of the device leaves (or --kv-cache-bytes). A model that does not fit
// is a ResourceExhausted error naming bytes needed and available.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/cuda_runner_plan.h"
#include "engine/model/decoder_spec.h"
#include "engine/model_runner.h"
#include "kernels/core/stream.h"

namespace hearth {
class LoadedModel;
}

namespace hearth::engine {

namespace model {
class CudaBackend;
class CudaWeights;
}  // namespace model

struct CudaRunnerOptions {
  int device = 0;
  DType dtype = DType::kBF16;        // activations and KV cache: kBF16, kF16, kF32 (validation)
  double gpu_memory_fraction = 0.9;  // of total device memory, for everything the runner holds
  int64_t kv_cache_bytes = 0;        // > 0: the KV cache size instead of the fraction's rest
  int64_t num_kv_blocks = 0;         // > 0: exactly this many blocks (tests)
  int block_size = 16;
  int max_num_seqs = 256;
  int max_num_batched_tokens = 2048;
  int max_model_len = 0;     // 0: the model's context length
  bool cuda_graphs = true;   // also HEARTH_CUDA_GRAPHS=0
  bool fuse_weights = true;  // QKV and gate/up as one GEMM each where types allow
  // Quantized matrices also kept dequantized to the activation dtype, for steps beyond the fused
  // MMA's 64 tokens (PlanDeviceWeights' dequant_copies).
  bool dequant_weights = false;
  bool print_memory = true;  // the memory plan on stderr at Create
};

class CudaModelRunner final : public ModelRunner {
 public:
  // `model` must outlive Create only (weights are copied to the device).
  static Result<std::unique_ptr<CudaModelRunner>> Create(const LoadedModel& model,
                                                         const CudaRunnerOptions& options);
  ~CudaModelRunner() override;

  int vocab_size() const override { return spec_.vocab; }
  int64_t num_kv_blocks() const override { return num_kv_blocks_; }
  int block_size() const override { return options_.block_size; }

  Status Execute(const StepPlan& plan, const SamplingBatch& sampling, StepResult* result) override;
  Status ExecuteLogits(const StepPlan& plan, std::vector<float>* logits) override;
  // Launch enqueues the whole step (staging copy, forward pass or graph, sampler, result copy)
  // and returns; Wait synchronizes on the stream and unpacks the pinned result. The engine
  // streams the previous step's tokens in between. One step at a time: the pinned staging and
  // result buffers are reused by the next Launch, which the contract orders after this Wait.
  bool async_launch() const override { return true; }
  Status Launch(const StepPlan& plan, const SamplingBatch& sampling) override;
  Status Wait(StepResult* result) override;

  const model::DecoderSpec& spec() const { return spec_; }
  int num_graphs() const;  // captured so far
  bool graphs_enabled() const { return graphs_enabled_; }
  const std::string& memory_report() const { return memory_report_; }

 private:
  CudaModelRunner() = default;
  Status CheckPlan(const StepPlan& plan) const;
  // Stages and runs the forward pass; the first plan.logits_indices.size() rows of the backend's
  // float32 logits are the step's. `sampling` may be null (ExecuteLogits).
  Status Forward(const StepPlan& plan, const SamplingBatch* sampling);
  // Packs the plan's arrays (and the sampling inputs) into the pinned buffer and sends them;
  // the block table comes from `table_source` (the unpadded plan of a padded decode step).
  Status Stage(const StepPlan& plan, const SamplingBatch* sampling, const StepPlan& table_source);
  // Launch's work; on error the caller drains the stream (pinned staging may still be read).
  Status Enqueue(const StepPlan& plan, const SamplingBatch& sampling);
  Status RunEager(const StepPlan& plan);
  Status CaptureGraph(const StepPlan& plan, int bucket);
  Status EnsurePenaltyCapacity(int64_t entries);
  Status AllocateMetadata(int64_t penalty_capacity);
  void DropGraphs();

  CudaRunnerOptions options_;
  model::DecoderSpec spec_;
  int64_t num_kv_blocks_ = 0;
  int table_width_ = 0;  // block-table capacity per sequence (max_model_len / block_size)
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<model::CudaWeights> weights_;
  std::unique_ptr<model::CudaBackend> backend_;
  // Step metadata: pinned staging and its device twin, same layout.
  MetadataLayout meta_;
  uint8_t* meta_host_ = nullptr;
  uint8_t* meta_dev_ = nullptr;
  // Sampler outputs (device) and their pinned copy.
  uint8_t* out_dev_ = nullptr;
  uint8_t* out_host_ = nullptr;
  int launched_rows_ = -1;  // sampled rows of the launched step awaiting Wait; -1: none
  // CUDA graphs of pure decode steps, by bucket index (cudaGraphExec_t as void*).
  bool graphs_enabled_ = false;
  std::vector<int> buckets_;
  std::vector<void*> graphs_;
  std::string memory_report_;
};

}  // namespace hearth::engine
