#include "engine/model/decoder_spec.h"

#include <climits>
#include <string>

#include "kernels/rope/rope.h"
#include "model_loader/model_config.h"
#include "model_loader/weights.h"

namespace hearth::engine::model {
namespace {

Result<int> ToInt(int64_t v, const char* what) {
  if (v <= 0 || v > INT_MAX) {
    return InvalidArgumentError(std::string("decoder spec: ") + what + " = " + std::to_string(v) +
                                " is out of range (1 .. INT_MAX)");
  }
  return static_cast<int>(v);
}

}  // namespace

Result<const WeightView*> GetMatrixWeight(const Weights& weights, const std::string& name,
                                          int64_t n, int64_t k) {
  HEARTH_ASSIGN_OR_RETURN(const WeightView* w, weights.Get(name));
  if (w->shape.size() != 2 || w->shape[0] != n || w->shape[1] != k) {
    return InvalidArgumentError("weight " + name + " (" + w->source_name + "): expected [" +
                                std::to_string(n) + ", " + std::to_string(k) + "], got " +
                                ShapeString(w->shape));
  }
  if (k % GetDTypeInfo(w->dtype).block_elems != 0) {
    return InvalidArgumentError("weight " + name + ": row of " + std::to_string(k) +
                                " is not whole " + std::string(DTypeName(w->dtype)) + " blocks");
  }
  return w;
}

Result<const WeightView*> GetVectorWeight(const Weights& weights, const std::string& name,
                                          int64_t size) {
  HEARTH_ASSIGN_OR_RETURN(const WeightView* w, weights.Get(name));
  if (w->num_elements() != size) {
    return InvalidArgumentError("weight " + name + " (" + w->source_name + "): expected " +
                                std::to_string(size) + " elements, got " + ShapeString(w->shape));
  }
  return w;
}

Result<DecoderSpec> DecoderSpecFromConfig(const ModelConfig& c, const Weights& weights) {
  DecoderSpec s;
  HEARTH_ASSIGN_OR_RETURN(s.hidden, ToInt(c.hidden_size, "hidden_size"));
  HEARTH_ASSIGN_OR_RETURN(s.num_layers, ToInt(c.num_layers, "num_layers"));
  HEARTH_ASSIGN_OR_RETURN(s.num_heads, ToInt(c.num_heads, "num_heads"));
  HEARTH_ASSIGN_OR_RETURN(s.num_kv_heads, ToInt(c.num_kv_heads, "num_kv_heads"));
  HEARTH_ASSIGN_OR_RETURN(s.head_dim, ToInt(c.head_dim, "head_dim"));
  HEARTH_ASSIGN_OR_RETURN(s.ffn, ToInt(c.ffn_size, "ffn_size"));
  HEARTH_ASSIGN_OR_RETURN(s.vocab, ToInt(c.vocab_size, "vocab_size"));
  s.norm_eps = static_cast<float>(c.norm_eps);
  s.rope_halves = c.rope_style == RopeStyle::kHalves;
  s.qkv_bias = c.attention_bias;
  s.qk_norm = c.qk_norm;
  s.tied_embeddings = c.tied_embeddings;

  // The architectures differ only in these flags; check them against what the recipe expects.
  switch (c.arch) {
    case Architecture::kLlama:
    case Architecture::kQwen2:
    case Architecture::kQwen3:
      break;
    default:
      return UnimplementedError("decoder spec: unsupported architecture");
  }

  RopeConfig rope;
  rope.head_dim = s.head_dim;
  rope.theta = static_cast<float>(c.rope_theta);
  rope.scaling = c.rope_scaling;
  if (c.rope_scaling.type == RopeScalingType::kFreqFactors) {
    HEARTH_ASSIGN_OR_RETURN(const WeightView* f, weights.Get("rope_freqs"));
    if (f->dtype != DType::kF32 || f->num_elements() != s.head_dim / 2) {
      return InvalidArgumentError("decoder spec: rope_freqs (" + f->source_name + " in " +
                                  f->source_file + ") must be F32 [" +
                                  std::to_string(s.head_dim / 2) + "], got " +
                                  std::string(DTypeName(f->dtype)) + " " + ShapeString(f->shape));
    }
    rope.freq_factors = reinterpret_cast<const float*>(f->data);
  }
  HEARTH_ASSIGN_OR_RETURN(s.inv_freq, RopeInvFreq(rope));
  return s;
}

}  // namespace hearth::engine::model
