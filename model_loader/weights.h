// Canonical weight names shared by both file formats, and typed views into the mappings.
//   embed, final_norm, lm_head (absent when tied), rope_freqs (GGUF Llama 3.1 only)
//   layers.{i}.attn_norm, .wq, .wk, .wv, .wo, .bq, .bk, .bv (qwen2), .q_norm, .k_norm (qwen3),
//   layers.{i}.ffn_norm, .w_gate, .w_up, .w_down
// Shapes are row-major [out, in] (PyTorch order) for both formats: GGUF's fastest-first dims
// are reversed. Data is never copied or permuted (see RopeStyle for Q/K row order).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/core/dtype.h"
#include "kernels/core/status.h"
#include "model_loader/model_config.h"

namespace hearth {
namespace gguf {
class GgufFile;
}
namespace safetensors {
class SafetensorsSet;
}

struct WeightView {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // row-major, [out, in] for matrices
  const uint8_t* data = nullptr;
  uint64_t nbytes = 0;
  std::string source_file;
  std::string source_name;  // the tensor's name in its file
  int64_t num_elements() const;
};

// The canonical name of a tensor name in a file, or "" if Hearth does not use it.
std::string CanonicalNameFromGguf(std::string_view name);
std::string CanonicalNameFromHf(std::string_view name);

class Weights {
 public:
  // Maps every recognised tensor; unrecognised names are kept in unmapped().
  static Result<Weights> FromGguf(const gguf::GgufFile& file);
  static Result<Weights> FromSafetensors(const safetensors::SafetensorsSet& set);

  const WeightView* Find(std::string_view name) const;
  Result<const WeightView*> Get(std::string_view name) const;  // NotFound names the weight
  const std::map<std::string, WeightView>& all() const { return weights_; }
  const std::vector<std::string>& unmapped() const { return unmapped_; }

  // Every weight `config` needs is present with its expected shape; no unexpected layer index.
  // Errors name the weight and the expected vs actual shape.
  Status CheckAgainst(const ModelConfig& config) const;

 private:
  std::map<std::string, WeightView> weights_;
  std::vector<std::string> unmapped_;
};

// The weights `config` requires, with their shapes: (canonical name, shape) pairs.
std::vector<std::pair<std::string, std::vector<int64_t>>> ExpectedWeights(const ModelConfig& c);

std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace hearth
