// The small op interface the decoder recipe is written against. A backend (CPU now, CUDA later)
// owns its activation buffers, KV cache and the current step's metadata, and implements each op
// with its kernels. Activation pointers (void*) are the backend's memory in its activation dtype
// (float32 host memory for the CPU backend); weights are views in the backend's memory
// (decoder_spec.h). Ops run in call order; a backend may queue them (a CUDA stream).
#pragma once

#include <cstdint>

#include "engine/model/decoder_spec.h"
#include "engine/step_plan.h"
#include "kernels/core/status.h"

namespace hearth::engine::model {

// One step's activation buffers, sized by the backend for num_tokens tokens and num_rows
// sampled rows (rows are the plan's logits_indices).
struct DecoderBuffers {
  void* residual = nullptr;      // [num_tokens, hidden] the residual stream
  void* normed = nullptr;        // [num_tokens, hidden] normalized input of a sublayer
  void* delta = nullptr;         // [num_tokens, hidden] a sublayer's output (o / down projection)
  void* q = nullptr;             // [num_tokens, num_heads * head_dim]
  void* k = nullptr;             // [num_tokens, num_kv_heads * head_dim]
  void* v = nullptr;             // [num_tokens, num_kv_heads * head_dim]
  void* attn = nullptr;          // [num_tokens, num_heads * head_dim]
  void* gate = nullptr;          // [num_tokens, ffn]
  void* up = nullptr;            // [num_tokens, ffn]
  void* act = nullptr;           // [num_tokens, ffn]
  void* row_delta = nullptr;     // [num_rows, hidden]
  void* row_residual = nullptr;  // [num_rows, hidden]
  void* row_normed = nullptr;    // [num_rows, hidden]
  void* logits = nullptr;        // [num_rows, vocab] in the activation dtype
  // With fused weights (decoder_spec.h): the outputs of the fused projections.
  void* qkv = nullptr;      // [num_tokens, q_width + 2 * kv_width]
  void* gate_up = nullptr;  // [num_tokens, 2 * ffn]
};

class BackendOps {
 public:
  virtual ~BackendOps() = default;

  // Takes the step's metadata (token ids, positions, slot mapping, block tables, logits
  // indices) for the ops below and sizes the buffers. The plan must outlive the step.
  virtual Result<DecoderBuffers> BeginStep(const StepPlan& plan) = 0;

  // out = rows of `table` for this step's token ids.
  virtual Status Embed(const LinearWeight& table, void* out) = 0;
  virtual Status RmsNorm(const void* x, const float* weight, void* out, int64_t rows, int width,
                         float eps) = 0;
  // residual += x; out = rmsnorm(residual) * weight.
  virtual Status FusedAddRmsNorm(const void* x, void* residual, const float* weight, void* out,
                                 int64_t rows, int width, float eps) = 0;
  // y[rows, w.n] = x[rows, w.k] . W^T (+ bias, in the activation dtype).
  virtual Status Linear(const LinearWeight& w, const void* bias, const void* x, void* y,
                        int64_t rows) = 0;
  // RoPE at this step's positions, in place on q [tokens, q_width] and k [tokens, kv_width];
  // with q_norm / k_norm (qwen3) each head is RMS-normalized first.
  virtual Status Rope(void* q, void* k, const float* q_norm, const float* k_norm) = 0;
  // Writes this step's k, v of `layer` to the KV cache through the slot mapping.
  virtual Status WriteKv(int layer, const void* k, const void* v) = 0;
  // Causal paged attention of this step's queries over `layer`'s cache.
  virtual Status Attention(int layer, const void* q, void* out) = 0;
  virtual Status SiluMul(const void* gate, const void* up, void* out, int64_t rows, int ffn) = 0;
  // out[num_rows, width] = the rows of x at this step's logits indices.
  virtual Status GatherRows(const void* x, void* out, int width) = 0;

  // Only for backends that fill the fused weights (the CPU backend never does):
  // q, k, v [rows, width] = the column ranges of qkv [rows, q_width + 2 * kv_width].
  virtual Status SplitQkv(const void* qkv, void* q, void* k, void* v, int64_t rows);
  // out [rows, ffn] = silu(gate) * up from gate_up [rows, 2 * ffn] (gate columns first).
  virtual Status SiluMulConcat(const void* gate_up, void* out, int64_t rows, int ffn);
};

}  // namespace hearth::engine::model
