// One description of a decoder-only transformer, from GGUF metadata or a Hugging Face
// config.json. Supported architectures: llama (also Mistral's HF class), qwen2, qwen3.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/core/status.h"
#include "kernels/rope/rope_types.h"

namespace hearth {
namespace gguf {
class GgufFile;
}

enum class Architecture : uint8_t { kLlama, kQwen2, kQwen3 };
std::string_view ArchitectureName(Architecture a);

struct ModelConfig {
  Architecture arch = Architecture::kLlama;
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t ffn_size = 0;
  int64_t vocab_size = 0;
  int64_t context_length = 0;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  RopeStyle rope_style = RopeStyle::kAdjacentPairs;
  double norm_eps = 1e-5;
  bool tied_embeddings = false;
  bool attention_bias = false;   // q/k/v projections carry biases (qwen2)
  bool qk_norm = false;          // per-head RMSNorm on q and k before RoPE (qwen3)
  int64_t bos_id = -1;           // -1: none
  std::vector<int64_t> eos_ids;  // the first is the canonical EOS; may be empty

  bool operator==(const ModelConfig&) const = default;
};

// Reads {arch}.* and tokenizer.ggml.* keys. Tied embeddings: the file has no output.weight.
Result<ModelConfig> ConfigFromGguf(const gguf::GgufFile& file);
// Parses a config.json text; `source` names the file in errors.
Result<ModelConfig> ConfigFromHfJson(std::string_view json_text, const std::string& source);
// Reads and parses <dir>/config.json.
Result<ModelConfig> ConfigFromHfDir(const std::string& dir);

// Positive sizes, heads dividing evenly, even head_dim; `source` names the file in errors.
Status ValidateConfig(const ModelConfig& c, const std::string& source);

}  // namespace hearth
