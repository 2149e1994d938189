// The shared decoder recipe's data: one description of a llama / qwen2 / qwen3 decoder (sizes and
// the per-architecture differences as flags) and the weights it reads, as views in a backend's
// memory. The recipe (decoder.h) reads only these, so the architectures differ only in data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/core/dtype.h"
#include "kernels/core/status.h"

namespace hearth {
struct ModelConfig;
class Weights;
struct WeightView;
}  // namespace hearth

namespace hearth::engine::model {

// A matrix [n, k] (row-major, PyTorch Linear order) in its stored type, in backend memory.
struct LinearWeight {
  DType type = DType::kF32;
  const void* data = nullptr;
  int64_t n = 0;
  int64_t k = 0;
  // The matrix dequantized to the activation dtype, where the backend keeps such a copy of a
  // quantized matrix (CUDA: --gpu-dequant-weights); null otherwise.
  const void* dense = nullptr;
};

// Norm vectors are float32 in backend memory; biases are in the backend's activation dtype
// (float32 on the CPU; what GpuMatmul's bias epilogue reads on CUDA); null = absent.
//
// Fused projections (optional, CUDA backend): when a backend concatenates wq|wk|wv into one
// [q_width + 2 * kv_width, hidden] matrix (and bq|bk|bv likewise), or w_gate|w_up into one
// [2 * ffn, hidden] matrix, it fills wqkv / w_gate_up and leaves the parts empty (data null);
// the recipe then runs one GEMM instead of three (two). The CPU backend leaves them empty.
struct LayerWeights {
  const float* attn_norm = nullptr;  // [hidden]
  LinearWeight wq, wk, wv, wo;
  const void* bq = nullptr;         // [num_heads * head_dim]      (qwen2)
  const void* bk = nullptr;         // [num_kv_heads * head_dim]   (qwen2)
  const void* bv = nullptr;         // [num_kv_heads * head_dim]   (qwen2)
  const float* q_norm = nullptr;    // [head_dim]                  (qwen3)
  const float* k_norm = nullptr;    // [head_dim]                  (qwen3)
  const float* ffn_norm = nullptr;  // [hidden]
  LinearWeight w_gate, w_up, w_down;
  LinearWeight wqkv;              // [q_width + 2 * kv_width, hidden] or empty
  const void* bqkv = nullptr;     // [q_width + 2 * kv_width]     (qwen2, with wqkv)
  LinearWeight w_gate_up;         // [2 * ffn, hidden]: gate rows, then up rows; or empty
};

struct DecoderWeights {
  LinearWeight embed;  // [vocab, hidden]
  std::vector<LayerWeights> layers;
  const float* final_norm = nullptr;  // [hidden]
  LinearWeight lm_head;               // [vocab, hidden]; the embedding table when tied
};

struct DecoderSpec {
  int hidden = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int ffn = 0;
  int vocab = 0;
  float norm_eps = 1e-5f;
  bool rope_halves = false;  // HF checkpoints rotate halves; GGUF files adjacent pairs
  bool qkv_bias = false;     // qwen2
  bool qk_norm = false;      // qwen3: per-head RMSNorm of q and k before RoPE
  bool tied_embeddings = false;
  // RoPE inverse frequencies [head_dim / 2], scaling (linear, llama3, GGUF rope_freqs factors)
  // folded in.
  std::vector<float> inv_freq;

  int q_width() const { return num_heads * head_dim; }
  int kv_width() const { return num_kv_heads * head_dim; }
};

// The weight `name` checked as a matrix [n, k] whose rows are whole blocks of its type, or as a
// vector of `size` elements; errors name the weight and the shapes. (HostWeights and the device
// weight plan read weights through these.)
Result<const WeightView*> GetMatrixWeight(const Weights& weights, const std::string& name,
                                          int64_t n, int64_t k);
Result<const WeightView*> GetVectorWeight(const Weights& weights, const std::string& name,
                                          int64_t size);

// The spec of a loaded model. `weights` supplies GGUF's rope_freqs table when the config uses
// frequency factors. Errors: unsupported RoPE scaling, sizes out of int range.
Result<DecoderSpec> DecoderSpecFromConfig(const ModelConfig& config, const Weights& weights);

}  // namespace hearth::engine::model
