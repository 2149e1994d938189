#include "engine/model/rope_table.h"

#include <string>

#include "kernels/rope/rope.h"

namespace hearth::engine::model {

Result<std::vector<float>> BuildRopeTable(const RopeTableParams& p) {
  RopeConfig config;
  config.head_dim = p.head_dim;
  config.theta = static_cast<float>(p.theta);
  switch (p.scaling) {
    case RopeTableParams::Scaling::kNone:
      config.scaling.kind = RopeScaling::Kind::kNone;
      break;
    case RopeTableParams::Scaling::kLinear:
      config.scaling.kind = RopeScaling::Kind::kLinear;
      break;
    case RopeTableParams::Scaling::kLlama3:
      config.scaling.kind = RopeScaling::Kind::kLlama3;
      break;
    default:
      return UnimplementedError("rope table: unsupported scaling kind");
  }
  config.scaling.factor = static_cast<float>(p.factor);
  config.scaling.low_freq_factor = static_cast<float>(p.low_freq_factor);
  config.scaling.high_freq_factor = static_cast<float>(p.high_freq_factor);
  config.scaling.original_max_position_embeddings = static_cast<int>(p.original_max_position);
  HEARTH_ASSIGN_OR_RETURN(std::vector<float> table, RopeInvFreq(config));
  if (p.freq_factors != nullptr) {
    for (size_t i = 0; i < table.size(); ++i) {
      const float f = p.freq_factors[i];
      if (!(f > 0.f)) {
        return InvalidArgumentError("rope_freqs[" + std::to_string(i) + "] must be positive, got " +
                                    std::to_string(f));
      }
      table[i] /= f;
    }
  }
  return table;
}

}  // namespace hearth::engine::model
