// One description of a decoder-only transformer, from GGUF metadata or a Hugging Face
// config.json. Supported architectures: llama (also Mistral's HF class), qwen2, qwen3.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/core/status.h"

namespace hearth {
namespace gguf {
class GgufFile;
}

enum class Architecture : uint8_t { kLlama, kQwen2, kQwen3 };
std::string_view ArchitectureName(Architecture a);

// Which elements of a head RoPE rotates together. GGUF files (llama.cpp's converter permutes
// Q/K rows) rotate adjacent pairs (2i, 2i+1); Hugging Face checkpoints rotate halves
// (i, i + head_dim/2). The weights are never permuted at load; kernels follow this flag.
enum class RopeStyle : uint8_t { kAdjacentPairs, kHalves };

enum class RopeScalingType : uint8_t {
  kNone,
  kLinear,       // positions divided by factor
  kLlama3,       // Llama 3.1 frequency-dependent scaling (factor, low/high freq factor)
  kFreqFactors,  // GGUF: per-frequency divisors precomputed in the rope_freqs weight
};

struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 1.0;
  int64_t original_max_position = 0;

  bool operator==(const RopeScaling&) const = default;
};

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
