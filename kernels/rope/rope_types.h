// The RoPE vocabulary, defined once: the model loader describes a model's rotation with these
// (ModelConfig) and the kernels consume them (RopeConfig), so no layer translates between twins.
#pragma once

#include <cstdint>

namespace hearth {

// Which elements of a head rotate together. GGUF files (llama.cpp's converter permutes Q/K rows)
// rotate adjacent pairs (2i, 2i+1); Hugging Face checkpoints rotate halves (i, i + head_dim/2).
// Weights are never permuted at load; the op takes the style.
enum class RopeStyle : uint8_t { kAdjacentPairs, kHalves };

enum class RopeScalingType : uint8_t {
  kNone,
  kLinear,       // every frequency divided by factor (positions interpolated)
  kLlama3,       // Llama 3.1 frequency-dependent scaling (factor, low/high freq factor)
  kFreqFactors,  // GGUF: per-frequency divisors precomputed in the rope_freqs weight
};

struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  double factor = 1.0;             // kLinear, kLlama3
  double low_freq_factor = 1.0;    // kLlama3
  double high_freq_factor = 4.0;   // kLlama3
  int64_t original_max_position = 8192;  // kLlama3: original_max_position_embeddings

  bool operator==(const RopeScaling&) const = default;
};

}  // namespace hearth
