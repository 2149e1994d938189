// DecoderWeights for a backend that computes in host memory (the CPU backend): matrices are
// views straight into the model's mappings, in their stored type; vectors (norms, biases) are
// views too when stored as F32, else widened to float32 copies held by the HostWeights.
#pragma once

#include <memory>
#include <vector>

#include "engine/model/decoder_spec.h"

namespace hearth::engine::model {

class HostWeights {
 public:
  // `weights` must outlive the result (views into its mappings). Errors name the weight.
  static Result<std::unique_ptr<HostWeights>> Create(const Weights& weights,
                                                     const DecoderSpec& spec);
  const DecoderWeights& decoder() const { return decoder_; }

 private:
  HostWeights() = default;
  Result<const float*> Vector(const Weights& weights, const std::string& name, int64_t size);
  Result<LinearWeight> Matrix(const Weights& weights, const std::string& name, int64_t n,
                              int64_t k);

  DecoderWeights decoder_;
  std::vector<std::vector<float>> widened_;  // float32 copies of non-F32 vectors
};

}  // namespace hearth::engine::model
