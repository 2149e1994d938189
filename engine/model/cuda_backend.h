// BackendOps on CUDA (CUDA builds only): activations in the chosen dtype (bf16 / fp16, fp32 for
// validation) in one fixed arena sized at start for the largest step, a paged KV cache in the
// same dtype, every op a kernel launcher of kernels/ on one stream. Nothing here synchronizes or
// allocates after Create, so that a step can be captured into a CUDA graph; the step's metadata
// (token ids, positions, slots, block tables, ...) is in device memory the runner fills
// (SetStepArrays) before RunDecoder.
#pragma once

#include <cstdint>
#include <memory>

#include "engine/cuda_runner_plan.h"
#include "engine/model/backend_ops.h"
#include "kernels/attention/attention.h"
#include "kernels/core/stream.h"
#include "kernels/kv_cache/paged_kv.h"

namespace hearth {
class GpuMatmul;
}

namespace hearth::engine::model {

// Device pointers of the current step's metadata (StepPlan's arrays, same conventions).
struct DeviceStepArrays {
  const int32_t* token_ids = nullptr;
  const int32_t* positions = nullptr;
  const int64_t* slot_mapping = nullptr;
  const int32_t* query_start_loc = nullptr;
  const int32_t* seq_lens = nullptr;
  const int32_t* block_tables = nullptr;
  const int32_t* logits_indices = nullptr;
};

struct CudaBackendConfig {
  DType act = DType::kBF16;
  int max_tokens = 0;  // per step, padding included
  int max_rows = 0;    // sampled rows per step, padding included
  int max_seqs = 0;    // sequences per step, padding included
  int64_t num_kv_blocks = 0;
  int block_size = kv::kDefaultBlockSize;
  bool fused_qkv = false;
  bool fused_gate_up = false;
  int sm_count = 1;
  int compute_capability = 90;
  int64_t attention_workspace_bytes = 0;
  int64_t max_dequant_elems = 0;  // GpuMatmul's dequantize scratch (0: no quantized matrix)
};

class CudaBackend final : public BackendOps {
 public:
  // Allocates the KV cache, the activation arena and the matmul scratch on the current device.
  // `spec` must outlive the backend.
  static Result<std::unique_ptr<CudaBackend>> Create(const DecoderSpec& spec,
                                                     const CudaBackendConfig& config,
                                                     cudaStream_t stream);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  static int64_t KvBytesPerBlock(const DecoderSpec& spec, int block_size, DType act);
  // Device bytes Create allocates besides the KV cache (activations, attention and matmul
  // scratch) for `config`.
  static int64_t WorkspaceBytes(const DecoderSpec& spec, const CudaBackendConfig& config);

  const kv::PagedKvLayout& layout() const { return layout_; }
  void SetStepArrays(const DeviceStepArrays& arrays) { arrays_ = arrays; }

  // BeginStep does host work only (sizes, the attention plan), so the ops that follow can be
  // captured into a graph.
  Result<DecoderBuffers> BeginStep(const StepPlan& plan) override;
  Status Embed(const LinearWeight& table, void* out) override;
  Status RmsNorm(const void* x, const float* weight, void* out, int64_t rows, int width,
                 float eps) override;
  Status FusedAddRmsNorm(const void* x, void* residual, const float* weight, void* out,
                         int64_t rows, int width, float eps) override;
  Status Linear(const LinearWeight& w, const void* bias, const void* x, void* y,
                int64_t rows) override;
  Status Rope(void* q, void* k, const float* q_norm, const float* k_norm) override;
  Status WriteKv(int layer, const void* k, const void* v) override;
  Status Attention(int layer, const void* q, void* out) override;
  Status SiluMul(const void* gate, const void* up, void* out, int64_t rows, int ffn) override;
  Status GatherRows(const void* x, void* out, int width) override;
  Status SplitQkv(const void* qkv, void* q, void* k, void* v, int64_t rows) override;
  Status SiluMulConcat(const void* gate_up, void* out, int64_t rows, int ffn) override;

  // After RunDecoder: the float32 logits [rows, vocab] the sampler reads (converted from the
  // activation dtype on the stream; the LM head writes them directly in float32 mode).
  Status LogitsToF32(int64_t rows);
  float* logits_f32() const;

 private:
  CudaBackend(const DecoderSpec& spec, const CudaBackendConfig& config, cudaStream_t stream);

  const DecoderSpec& spec_;
  CudaBackendConfig config_;
  cudaStream_t stream_;
  std::unique_ptr<GpuMatmul> matmul_;
  kv::PagedKvLayout layout_;
  ActivationLayout act_layout_;
  void* kv_arena_ = nullptr;   // K of every layer, then V of every layer
  void* act_arena_ = nullptr;  // ActivationLayout
  void* attn_workspace_ = nullptr;
  float* inv_freq_ = nullptr;  // [head_dim / 2]
  DeviceStepArrays arrays_;
  const StepPlan* plan_ = nullptr;
  attention::PagedAttentionArgs attn_args_;
  attention::AttentionLaunchPlan attn_plan_;
};

}  // namespace hearth::engine::model
