// BackendOps on the CPU: float32 activations and KV cache in host memory, weights read in their
// stored type (kernels' *_cpu twins). Every op is row-wise or uses the batch-invariant CPU
// matmul and attention, so a sequence's results do not depend on what else is in the step.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/model/backend_ops.h"
#include "kernels/kv_cache/paged_kv.h"
#include "kernels/matmul/matmul.h"

namespace hearth::engine::model {

class CpuBackend final : public BackendOps {
 public:
  // Allocates (zeroed) K and V caches of `num_kv_blocks` blocks for every layer. `spec` must
  // outlive the backend.
  CpuBackend(const DecoderSpec& spec, int64_t num_kv_blocks, int block_size,
             CpuMatmulMode matmul = CpuMatmulMode::kF32);

  const kv::PagedKvLayout& layout() const { return layout_; }
  static int64_t KvBytesPerBlock(const DecoderSpec& spec, int block_size);

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

 private:
  Status CheckStep(const StepPlan& plan) const;

  const DecoderSpec& spec_;
  CpuMatmulMode matmul_;
  kv::PagedKvLayout layout_;
  std::vector<std::vector<float>> k_cache_;  // [num_layers][num_blocks, kv heads, block, dim]
  std::vector<std::vector<float>> v_cache_;
  const StepPlan* plan_ = nullptr;
  // Activations, grown as steps need; never shrunk.
  std::vector<float> residual_, normed_, delta_, q_, k_, v_, attn_, gate_, up_, act_;
  std::vector<float> row_delta_, row_residual_, row_normed_, logits_;
  std::vector<float> embed_row_;  // one dequantized row of a quantized embedding table
};

}  // namespace hearth::engine::model
