// The RoPE inverse-frequency table of a model, computed by kernels/rope's RopeInvFreq. A shim with
// its own parameter struct so that callers holding a ModelConfig need not include
// kernels/rope/rope.h (the two headers define the same hearth::RopeStyle / RopeScaling names).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/core/status.h"

namespace hearth::engine::model {

struct RopeTableParams {
  enum class Scaling : uint8_t { kNone, kLinear, kLlama3 };
  int head_dim = 0;
  double theta = 10000.0;
  Scaling scaling = Scaling::kNone;
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position = 8192;
  // GGUF rope_freqs: inv_freq[i] is divided by freq_factors[i] ([head_dim / 2]); null = none.
  const float* freq_factors = nullptr;
};

Result<std::vector<float>> BuildRopeTable(const RopeTableParams& params);

}  // namespace hearth::engine::model
