#include "model_loader/weights.h"

#include <charconv>
#include <set>

#include "model_loader/gguf/gguf_file.h"
#include "model_loader/safetensors/safetensors_file.h"

namespace hearth {
namespace {

struct NameRule {
  std::string_view file_suffix;  // the part after the layer prefix (or the whole name)
  std::string_view canonical;
};

constexpr NameRule kGgufGlobal[] = {
    {"token_embd.weight", "embed"},
    {"output_norm.weight", "final_norm"},
    {"output.weight", "lm_head"},
    {"rope_freqs.weight", "rope_freqs"},
};
constexpr NameRule kGgufLayer[] = {
    {"attn_norm.weight", "attn_norm"},
    {"attn_q.weight", "wq"},
    {"attn_k.weight", "wk"},
    {"attn_v.weight", "wv"},
    {"attn_output.weight", "wo"},
    {"attn_q.bias", "bq"},
    {"attn_k.bias", "bk"},
    {"attn_v.bias", "bv"},
    {"attn_q_norm.weight", "q_norm"},
    {"attn_k_norm.weight", "k_norm"},
    {"ffn_norm.weight", "ffn_norm"},
    {"ffn_gate.weight", "w_gate"},
    {"ffn_up.weight", "w_up"},
    {"ffn_down.weight", "w_down"},
};
constexpr NameRule kHfGlobal[] = {
    {"model.embed_tokens.weight", "embed"},
    {"model.norm.weight", "final_norm"},
    {"lm_head.weight", "lm_head"},
};
constexpr NameRule kHfLayer[] = {
    {"input_layernorm.weight", "attn_norm"},
    {"self_attn.q_proj.weight", "wq"},
    {"self_attn.k_proj.weight", "wk"},
    {"self_attn.v_proj.weight", "wv"},
    {"self_attn.o_proj.weight", "wo"},
    {"self_attn.q_proj.bias", "bq"},
    {"self_attn.k_proj.bias", "bk"},
    {"self_attn.v_proj.bias", "bv"},
    {"self_attn.q_norm.weight", "q_norm"},
    {"self_attn.k_norm.weight", "k_norm"},
    {"post_attention_layernorm.weight", "ffn_norm"},
    {"mlp.gate_proj.weight", "w_gate"},
    {"mlp.up_proj.weight", "w_up"},
    {"mlp.down_proj.weight", "w_down"},
};

template <size_t NG, size_t NL>
std::string Canonical(std::string_view name, std::string_view layer_prefix,
                      const NameRule (&global)[NG], const NameRule (&layer)[NL]) {
  for (const NameRule& r : global) {
    if (name == r.file_suffix) return std::string(r.canonical);
  }
  if (name.substr(0, layer_prefix.size()) != layer_prefix) return "";
  std::string_view rest = name.substr(layer_prefix.size());
  const size_t dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 9) return "";
  int64_t index = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + dot, index);
  if (ec != std::errc() || end != rest.data() + dot || index < 0) return "";
  // Reject "01" and the like so that each layer has one spelling.
  if (dot > 1 && rest[0] == '0') return "";
  const std::string_view suffix = rest.substr(dot + 1);
  for (const NameRule& r : layer) {
    if (suffix == r.file_suffix) {
      return "layers." + std::to_string(index) + "." + std::string(r.canonical);
    }
  }
  return "";
}

// Parses "layers.{i}.x" into i; -1 for global names.
int64_t LayerIndex(const std::string& canonical) {
  if (canonical.rfind("layers.", 0) != 0) return -1;
  return std::stoll(canonical.substr(7, canonical.find('.', 7) - 7));
}

}  // namespace

int64_t WeightView::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string CanonicalNameFromGguf(std::string_view name) {
  return Canonical(name, "blk.", kGgufGlobal, kGgufLayer);
}

std::string CanonicalNameFromHf(std::string_view name) {
  return Canonical(name, "model.layers.", kHfGlobal, kHfLayer);
}

Result<Weights> Weights::FromGguf(const gguf::GgufFile& file) {
  Weights w;
  for (const gguf::TensorInfo& t : file.tensors()) {
    std::string canonical = CanonicalNameFromGguf(t.name);
    if (canonical.empty()) {
      w.unmapped_.push_back(t.name);
      continue;
    }
    WeightView v;
    v.dtype = t.dtype;
    v.shape.assign(t.shape.rbegin(), t.shape.rend());  // GGUF is fastest-first
    v.data = t.data;
    v.nbytes = t.nbytes;
    v.source_file = file.path();
    v.source_name = t.name;
    w.weights_.emplace(std::move(canonical), std::move(v));
  }
  return w;
}

Result<Weights> Weights::FromSafetensors(const safetensors::SafetensorsSet& set) {
  Weights w;
  for (const auto& shard : set.shards()) {
    for (const safetensors::TensorInfo& t : shard->tensors()) {
      std::string canonical = CanonicalNameFromHf(t.name);
      if (canonical.empty()) {
        w.unmapped_.push_back(t.name);
        continue;
      }
      WeightView v;
      v.dtype = t.dtype;
      v.shape = t.shape;
      v.data = t.data;
      v.nbytes = t.nbytes;
      v.source_file = shard->path();
      v.source_name = t.name;
      if (!w.weights_.emplace(canonical, std::move(v)).second) {
        return InvalidArgumentError(shard->path() + ": tensor '" + t.name +
                                    "' appears in more than one shard");
      }
    }
  }
  return w;
}

const WeightView* Weights::Find(std::string_view name) const {
  auto it = weights_.find(std::string(name));
  return it == weights_.end() ? nullptr : &it->second;
}

Result<const WeightView*> Weights::Get(std::string_view name) const {
  const WeightView* v = Find(name);
  if (v == nullptr) return NotFoundError("weight '" + std::string(name) + "' not found");
  return v;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> ExpectedWeights(const ModelConfig& c) {
  const int64_t q_dim = c.num_heads * c.head_dim;
  const int64_t kv_dim = c.num_kv_heads * c.head_dim;
  std::vector<std::pair<std::string, std::vector<int64_t>>> w = {
      {"embed", {c.vocab_size, c.hidden_size}},
      {"final_norm", {c.hidden_size}},
  };
  if (!c.tied_embeddings) w.push_back({"lm_head", {c.vocab_size, c.hidden_size}});
  if (c.rope_scaling.type == RopeScalingType::kFreqFactors) {
    w.push_back({"rope_freqs", {c.head_dim / 2}});
  }
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    w.push_back({p + "attn_norm", {c.hidden_size}});
    w.push_back({p + "wq", {q_dim, c.hidden_size}});
    w.push_back({p + "wk", {kv_dim, c.hidden_size}});
    w.push_back({p + "wv", {kv_dim, c.hidden_size}});
    w.push_back({p + "wo", {c.hidden_size, q_dim}});
    if (c.attention_bias) {
      w.push_back({p + "bq", {q_dim}});
      w.push_back({p + "bk", {kv_dim}});
      w.push_back({p + "bv", {kv_dim}});
    }
    if (c.qk_norm) {
      w.push_back({p + "q_norm", {c.head_dim}});
      w.push_back({p + "k_norm", {c.head_dim}});
    }
    w.push_back({p + "ffn_norm", {c.hidden_size}});
    w.push_back({p + "w_gate", {c.ffn_size, c.hidden_size}});
    w.push_back({p + "w_up", {c.ffn_size, c.hidden_size}});
    w.push_back({p + "w_down", {c.hidden_size, c.ffn_size}});
  }
  return w;
}

Status Weights::CheckAgainst(const ModelConfig& c) const {
  const auto expected = ExpectedWeights(c);
  for (const auto& [name, shape] : expected) {
    const WeightView* v = Find(name);
    if (v == nullptr) {
      return NotFoundError("missing weight '" + name + "' (expected shape " + ShapeString(shape) +
                           ")");
    }
    if (v->shape != shape) {
      return InvalidArgumentError(v->source_file + ": weight '" + name + "' (" + v->source_name +
                                  ") has shape " + ShapeString(v->shape) + ", expected " +
                                  ShapeString(shape));
    }
  }
  std::set<std::string> wanted_names;
  for (const auto& e : expected) wanted_names.insert(e.first);
  for (const auto& [name, v] : weights_) {
    const int64_t layer = LayerIndex(name);
    if (layer >= c.num_layers) {
      return InvalidArgumentError(v.source_file + ": tensor '" + v.source_name + "' is for layer " +
                                  std::to_string(layer) + " but the model has " +
                                  std::to_string(c.num_layers) + " layers");
    }
    if (wanted_names.count(name) == 0 && name != "lm_head") {
      return InvalidArgumentError(v.source_file + ": tensor '" + v.source_name + "' (" + name +
                                  ") is not used by this " + std::string(ArchitectureName(c.arch)) +
                                  " configuration");
    }
  }
  return Status::Ok();
}

}  // namespace hearth
