// The shared decoder recipe's data: one description of a llama / qwen2 / qwen3 decoder (sizes and
// the per-architecture differences as flags) and the weights it reads, as views in a backend's
// memory. The recipe (decoder.h) reads only these, so the architectures differ only in data.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/core/dtype.h"
#include "kernels/core/status.h"

namespace hearth {
struct ModelConfig;
class Weights;
}  // namespace hearth

namespace hearth::engine::model {

// A matrix [n, k] (row-major, PyTorch Linear order) in its stored type, in backend memory.
struct LinearWeight {
  DType type = DType::kF32;
  const void* data = nullptr;
  int64_t n = 0;
  int64_t k = 0;
};

// Vectors (norm weights, biases) are float32 in backend memory; null = absent.
struct LayerWeights {
  const float* attn_norm = nullptr;  // [hidden]
  LinearWeight wq, wk, wv, wo;
  const float* bq = nullptr;        // [num_heads * head_dim]      (qwen2)
  const float* bk = nullptr;        // [num_kv_heads * head_dim]   (qwen2)
  const float* bv = nullptr;        // [num_kv_heads * head_dim]   (qwen2)
  const float* q_norm = nullptr;    // [head_dim]                  (qwen3)
  const float* k_norm = nullptr;    // [head_dim]                  (qwen3)
  const float* ffn_norm = nullptr;  // [hidden]
  LinearWeight w_gate, w_up, w_down;
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

// The spec of a loaded model. `weights` supplies GGUF's rope_freqs table when the config uses
// frequency factors. Errors: unsupported RoPE scaling, sizes out of int range.
Result<DecoderSpec> DecoderSpecFromConfig(const ModelConfig& config, const Weights& weights);

}  // namespace hearth::engine::model
