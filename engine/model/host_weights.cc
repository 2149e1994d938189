#include "engine/model/host_weights.h"

#include <string>

#include "kernels/quant/dequant.h"
#include "model_loader/weights.h"

namespace hearth::engine::model {

Result<const float*> HostWeights::Vector(const Weights& weights, const std::string& name,
                                         int64_t size) {
  HEARTH_ASSIGN_OR_RETURN(const WeightView* w, GetVectorWeight(weights, name, size));
  if (w->dtype == DType::kF32) return reinterpret_cast<const float*>(w->data);
  // F16 / BF16 (safetensors) or a quantized vector: widen once.
  std::vector<float> wide(static_cast<size_t>(size));
  HEARTH_RETURN_IF_ERROR(DequantizeCpu(w->dtype, w->data, wide.data(), size));
  widened_.push_back(std::move(wide));
  return widened_.back().data();
}

Result<LinearWeight> HostWeights::Matrix(const Weights& weights, const std::string& name, int64_t n,
                                         int64_t k) {
  HEARTH_ASSIGN_OR_RETURN(const WeightView* w, GetMatrixWeight(weights, name, n, k));
  return LinearWeight{w->dtype, w->data, n, k};
}

Result<std::unique_ptr<HostWeights>> HostWeights::Create(const Weights& weights,
                                                         const DecoderSpec& s) {
  std::unique_ptr<HostWeights> h(new HostWeights());
  // Vectors are widened into widened_; reserve so that pointers into it stay valid.
  h->widened_.reserve(static_cast<size_t>(s.num_layers) * 7 + 1);
  DecoderWeights& d = h->decoder_;
  HEARTH_ASSIGN_OR_RETURN(d.embed, h->Matrix(weights, "embed", s.vocab, s.hidden));
  HEARTH_ASSIGN_OR_RETURN(d.final_norm, h->Vector(weights, "final_norm", s.hidden));
  if (s.tied_embeddings) {
    d.lm_head = d.embed;
  } else {
    HEARTH_ASSIGN_OR_RETURN(d.lm_head, h->Matrix(weights, "lm_head", s.vocab, s.hidden));
  }
  d.layers.resize(s.num_layers);
  for (int i = 0; i < s.num_layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    LayerWeights& l = d.layers[i];
    HEARTH_ASSIGN_OR_RETURN(l.attn_norm, h->Vector(weights, p + "attn_norm", s.hidden));
    HEARTH_ASSIGN_OR_RETURN(l.wq, h->Matrix(weights, p + "wq", s.q_width(), s.hidden));
    HEARTH_ASSIGN_OR_RETURN(l.wk, h->Matrix(weights, p + "wk", s.kv_width(), s.hidden));
    HEARTH_ASSIGN_OR_RETURN(l.wv, h->Matrix(weights, p + "wv", s.kv_width(), s.hidden));
    HEARTH_ASSIGN_OR_RETURN(l.wo, h->Matrix(weights, p + "wo", s.hidden, s.q_width()));
    if (s.qkv_bias) {
      HEARTH_ASSIGN_OR_RETURN(l.bq, h->Vector(weights, p + "bq", s.q_width()));
      HEARTH_ASSIGN_OR_RETURN(l.bk, h->Vector(weights, p + "bk", s.kv_width()));
      HEARTH_ASSIGN_OR_RETURN(l.bv, h->Vector(weights, p + "bv", s.kv_width()));
    }
    if (s.qk_norm) {
      HEARTH_ASSIGN_OR_RETURN(l.q_norm, h->Vector(weights, p + "q_norm", s.head_dim));
      HEARTH_ASSIGN_OR_RETURN(l.k_norm, h->Vector(weights, p + "k_norm", s.head_dim));
    }
    HEARTH_ASSIGN_OR_RETURN(l.ffn_norm, h->Vector(weights, p + "ffn_norm", s.hidden));
    HEARTH_ASSIGN_OR_RETURN(l.w_gate, h->Matrix(weights, p + "w_gate", s.ffn, s.hidden));
    HEARTH_ASSIGN_OR_RETURN(l.w_up, h->Matrix(weights, p + "w_up", s.ffn, s.hidden));
    HEARTH_ASSIGN_OR_RETURN(l.w_down, h->Matrix(weights, p + "w_down", s.hidden, s.ffn));
  }
  return h;
}

}  // namespace hearth::engine::model
