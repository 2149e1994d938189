#include "model_loader/model_config.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "kernels/core/json_depth.h"
#include "model_loader/gguf/gguf_file.h"
#include "model_loader/read_file.h"

namespace hearth {
namespace {

using nlohmann::json;

// A dimension larger than this is certainly a corrupt file (and keeps products in int64).
constexpr int64_t kMaxDim = int64_t{1} << 31;
constexpr int64_t kMaxLayers = 1024;

// A required positive integer from GGUF metadata.
Status GgufDim(const gguf::GgufFile& f, const std::string& key, int64_t* out) {
  HEARTH_ASSIGN_OR_RETURN(*out, f.GetInt(key));
  return Status::Ok();
}

// Optional GGUF integer: leaves *out unchanged when absent.
Status GgufOptionalInt(const gguf::GgufFile& f, const std::string& key, int64_t* out) {
  if (f.Find(key) == nullptr) return Status::Ok();
  HEARTH_ASSIGN_OR_RETURN(*out, f.GetInt(key));
  return Status::Ok();
}

Status GgufOptionalFloat(const gguf::GgufFile& f, const std::string& key, double* out) {
  if (f.Find(key) == nullptr) return Status::Ok();
  HEARTH_ASSIGN_OR_RETURN(*out, f.GetFloat(key));
  return Status::Ok();
}

}  // namespace

std::string_view ArchitectureName(Architecture a) {
  switch (a) {
    case Architecture::kLlama:
      return "llama";
    case Architecture::kQwen2:
      return "qwen2";
    case Architecture::kQwen3:
      return "qwen3";
  }
  return "unknown";
}

Status ValidateConfig(const ModelConfig& c, const std::string& source) {
  auto bad = [&](const std::string& what) {
    return InvalidArgumentError(source + ": invalid model config: " + what);
  };
  const std::pair<const char*, int64_t> dims[] = {
      {"hidden_size", c.hidden_size}, {"num_layers", c.num_layers},
      {"num_heads", c.num_heads},     {"num_kv_heads", c.num_kv_heads},
      {"head_dim", c.head_dim},       {"ffn_size", c.ffn_size},
      {"vocab_size", c.vocab_size},   {"context_length", c.context_length}};
  for (const auto& [name, v] : dims) {
    if (v <= 0 || v > kMaxDim) {
      return bad(std::string(name) + " = " + std::to_string(v) + " is not in [1, 2^31]");
    }
  }
  if (c.num_layers > kMaxLayers) {
    return bad("num_layers " + std::to_string(c.num_layers) + " exceeds " +
               std::to_string(kMaxLayers));
  }
  if (c.num_heads % c.num_kv_heads != 0) {
    return bad("num_heads " + std::to_string(c.num_heads) + " is not a multiple of num_kv_heads " +
               std::to_string(c.num_kv_heads));
  }
  if (c.head_dim % 2 != 0) return bad("head_dim " + std::to_string(c.head_dim) + " is odd");
  if (!(c.rope_theta > 0) || !std::isfinite(c.rope_theta)) return bad("rope_theta must be > 0");
  if (!(c.norm_eps > 0) || !std::isfinite(c.norm_eps)) return bad("norm eps must be > 0");
  if (c.rope_scaling.type != RopeScalingType::kNone &&
      (!(c.rope_scaling.factor > 0) || !std::isfinite(c.rope_scaling.factor))) {
    return bad("rope scaling factor must be > 0");
  }
  if (c.bos_id < -1 || c.bos_id >= c.vocab_size) {
    return bad("bos id " + std::to_string(c.bos_id) + " is not in the vocabulary");
  }
  for (int64_t e : c.eos_ids) {
    if (e < 0 || e >= c.vocab_size) return bad("eos id " + std::to_string(e) + " not in vocab");
  }
  return Status::Ok();
}

Result<ModelConfig> ConfigFromGguf(const gguf::GgufFile& f) {
  HEARTH_ASSIGN_OR_RETURN(const std::string arch_name, f.GetString("general.architecture"));
  ModelConfig c;
  if (arch_name == "llama")
    c.arch = Architecture::kLlama;
  else if (arch_name == "qwen2")
    c.arch = Architecture::kQwen2;
  else if (arch_name == "qwen3")
    c.arch = Architecture::kQwen3;
  else {
    return UnimplementedError(f.path() + ": unknown architecture '" + arch_name +
                              "' (supported: llama, qwen2, qwen3)");
  }
  const std::string p = arch_name + ".";
  c.rope_style = RopeStyle::kAdjacentPairs;
  c.attention_bias = c.arch == Architecture::kQwen2;
  c.qk_norm = c.arch == Architecture::kQwen3;
  HEARTH_RETURN_IF_ERROR(GgufDim(f, p + "embedding_length", &c.hidden_size));
  HEARTH_RETURN_IF_ERROR(GgufDim(f, p + "block_count", &c.num_layers));
  HEARTH_RETURN_IF_ERROR(GgufDim(f, p + "attention.head_count", &c.num_heads));
  HEARTH_RETURN_IF_ERROR(GgufDim(f, p + "feed_forward_length", &c.ffn_size));
  HEARTH_RETURN_IF_ERROR(GgufDim(f, p + "context_length", &c.context_length));
  c.num_kv_heads = c.num_heads;
  HEARTH_RETURN_IF_ERROR(GgufOptionalInt(f, p + "attention.head_count_kv", &c.num_kv_heads));
  if (c.num_heads > 0) c.head_dim = c.hidden_size / c.num_heads;
  HEARTH_RETURN_IF_ERROR(GgufOptionalInt(f, p + "attention.key_length", &c.head_dim));
  int64_t value_length = c.head_dim;
  HEARTH_RETURN_IF_ERROR(GgufOptionalInt(f, p + "attention.value_length", &value_length));
  if (value_length != c.head_dim) {
    return UnimplementedError(f.path() + ": attention.value_length " +
                              std::to_string(value_length) + " differs from key_length " +
                              std::to_string(c.head_dim));
  }
  int64_t rope_dims = c.head_dim;
  HEARTH_RETURN_IF_ERROR(GgufOptionalInt(f, p + "rope.dimension_count", &rope_dims));
  if (rope_dims != c.head_dim) {
    return UnimplementedError(f.path() + ": partial RoPE (rope.dimension_count " +
                              std::to_string(rope_dims) + " != head_dim " +
                              std::to_string(c.head_dim) + ") is not supported");
  }
  HEARTH_RETURN_IF_ERROR(GgufOptionalFloat(f, p + "rope.freq_base", &c.rope_theta));
  HEARTH_RETURN_IF_ERROR(GgufOptionalFloat(f, p + "attention.layer_norm_rms_epsilon", &c.norm_eps));
  // Vocabulary: {arch}.vocab_size, else the tokenizer's token list, else the embedding rows.
  if (f.Find(p + "vocab_size") != nullptr) {
    HEARTH_ASSIGN_OR_RETURN(c.vocab_size, f.GetInt(p + "vocab_size"));
  } else if (const gguf::Value* tokens = f.Find("tokenizer.ggml.tokens")) {
    const auto* arr = std::get_if<gguf::Array>(&tokens->v);
    if (arr == nullptr) {
      return InvalidArgumentError(f.path() + ": tokenizer.ggml.tokens is not an array");
    }
    c.vocab_size = static_cast<int64_t>(arr->items.size());
  } else if (const gguf::TensorInfo* emb = f.FindTensor("token_embd.weight");
             emb != nullptr && emb->shape.size() == 2) {
    c.vocab_size = emb->shape[1];
  }
  if (f.Find(p + "rope.scaling.type") != nullptr) {
    HEARTH_ASSIGN_OR_RETURN(const std::string type, f.GetString(p + "rope.scaling.type"));
    if (type == "linear") {
      c.rope_scaling.type = RopeScalingType::kLinear;
      HEARTH_RETURN_IF_ERROR(
          GgufOptionalFloat(f, p + "rope.scaling.factor", &c.rope_scaling.factor));
    } else if (type != "none") {
      return UnimplementedError(f.path() + ": rope.scaling.type '" + type + "' is not supported");
    }
  }
  // llama.cpp's converter turns Llama 3.1 scaling into a per-frequency factor tensor.
  if (f.FindTensor("rope_freqs.weight") != nullptr) {
    c.rope_scaling.type = RopeScalingType::kFreqFactors;
  }
  c.tied_embeddings = f.FindTensor("output.weight") == nullptr;
  HEARTH_RETURN_IF_ERROR(GgufOptionalInt(f, "tokenizer.ggml.bos_token_id", &c.bos_id));
  if (f.Find("tokenizer.ggml.eos_token_id") != nullptr) {
    HEARTH_ASSIGN_OR_RETURN(const int64_t eos, f.GetInt("tokenizer.ggml.eos_token_id"));
    c.eos_ids.push_back(eos);
  }
  HEARTH_RETURN_IF_ERROR(ValidateConfig(c, f.path()));
  return c;
}

namespace {

// Reads a JSON field into *out if present and not null. Type mismatches are errors.
Status JsonInt(const json& j, const char* key, int64_t* out, const std::string& src,
               bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return InvalidArgumentError(src + ": missing integer '" + key + "'");
    return Status::Ok();
  }
  if (!it->is_number_integer()) {
    return InvalidArgumentError(src + ": '" + key + "' is not an integer");
  }
  if (it->is_number_unsigned() &&
      it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return InvalidArgumentError(src + ": '" + key + "' is out of range");
  }
  *out = it->get<int64_t>();
  return Status::Ok();
}

Status JsonFloat(const json& j, const char* key, double* out, const std::string& src) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_number()) return InvalidArgumentError(src + ": '" + key + "' is not a number");
  *out = it->get<double>();
  return Status::Ok();
}

Status JsonBool(const json& j, const char* key, bool* out, const std::string& src) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean()) return InvalidArgumentError(src + ": '" + key + "' is not a bool");
  *out = it->get<bool>();
  return Status::Ok();
}

Status ParseRopeScaling(const json& j, const std::string& src, RopeScaling* out) {
  auto it = j.find("rope_scaling");
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_object()) return InvalidArgumentError(src + ": 'rope_scaling' is not an object");
  const json& rs = *it;
  std::string type;
  for (const char* key : {"rope_type", "type"}) {
    auto t = rs.find(key);
    if (t != rs.end() && t->is_string()) {
      type = t->get<std::string>();
      break;
    }
  }
  if (type.empty()) return InvalidArgumentError(src + ": rope_scaling has no 'rope_type'");
  if (type == "default") return Status::Ok();
  HEARTH_RETURN_IF_ERROR(JsonFloat(rs, "factor", &out->factor, src));
  if (type == "linear") {
    out->type = RopeScalingType::kLinear;
  } else if (type == "llama3") {
    out->type = RopeScalingType::kLlama3;
    HEARTH_RETURN_IF_ERROR(JsonFloat(rs, "low_freq_factor", &out->low_freq_factor, src));
    HEARTH_RETURN_IF_ERROR(JsonFloat(rs, "high_freq_factor", &out->high_freq_factor, src));
    HEARTH_RETURN_IF_ERROR(JsonInt(rs, "original_max_position_embeddings",
                                   &out->original_max_position, src, /*required=*/true));
    if (!(out->high_freq_factor > out->low_freq_factor) || out->original_max_position <= 0) {
      return InvalidArgumentError(src +
                                  ": llama3 rope_scaling needs high_freq_factor > "
                                  "low_freq_factor and original_max_position_embeddings > 0");
    }
  } else {
    return UnimplementedError(src + ": rope_scaling type '" + type + "' is not supported");
  }
  return Status::Ok();
}

}  // namespace

Result<ModelConfig> ConfigFromHfJson(std::string_view text, const std::string& src) {
  HEARTH_RETURN_IF_ERROR(CheckJsonDepth(text, src));
  const json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgumentError(src + ": not valid JSON");
  if (!j.is_object()) return InvalidArgumentError(src + ": not a JSON object");
  auto archs = j.find("architectures");
  if (archs == j.end() || !archs->is_array() || archs->empty() || !(*archs)[0].is_string()) {
    return InvalidArgumentError(src + ": missing 'architectures' (a list of class names)");
  }
  const std::string arch = (*archs)[0].get<std::string>();
  ModelConfig c;
  if (arch == "LlamaForCausalLM" || arch == "MistralForCausalLM")
    c.arch = Architecture::kLlama;
  else if (arch == "Qwen2ForCausalLM")
    c.arch = Architecture::kQwen2;
  else if (arch == "Qwen3ForCausalLM")
    c.arch = Architecture::kQwen3;
  else {
    return UnimplementedError(src + ": unknown architecture '" + arch +
                              "' (supported: LlamaForCausalLM, MistralForCausalLM, "
                              "Qwen2ForCausalLM, Qwen3ForCausalLM)");
  }
  c.rope_style = RopeStyle::kHalves;
  c.qk_norm = c.arch == Architecture::kQwen3;
  HEARTH_RETURN_IF_ERROR(JsonInt(j, "hidden_size", &c.hidden_size, src, true));
  HEARTH_RETURN_IF_ERROR(JsonInt(j, "num_hidden_layers", &c.num_layers, src, true));
  HEARTH_RETURN_IF_ERROR(JsonInt(j, "num_attention_heads", &c.num_heads, src, true));
  HEARTH_RETURN_IF_ERROR(JsonInt(j, "intermediate_size", &c.ffn_size, src, true));
  HEARTH_RETURN_IF_ERROR(JsonInt(j, "vocab_size", &c.vocab_size, src, true));
  HEARTH_RETURN_IF_ERROR(JsonInt(j, "max_position_embeddings", &c.context_length, src, true));
  c.num_kv_heads = c.num_heads;
  HEARTH_RETURN_IF_ERROR(JsonInt(j, "num_key_value_heads", &c.num_kv_heads, src, false));
  if (c.num_heads > 0) c.head_dim = c.hidden_size / c.num_heads;
  HEARTH_RETURN_IF_ERROR(JsonInt(j, "head_dim", &c.head_dim, src, false));
  HEARTH_RETURN_IF_ERROR(JsonFloat(j, "rope_theta", &c.rope_theta, src));
  HEARTH_RETURN_IF_ERROR(JsonFloat(j, "rms_norm_eps", &c.norm_eps, src));
  HEARTH_RETURN_IF_ERROR(JsonBool(j, "tie_word_embeddings", &c.tied_embeddings, src));
  HEARTH_RETURN_IF_ERROR(ParseRopeScaling(j, src, &c.rope_scaling));
  // Qwen2 always has q/k/v biases; Llama's attention_bias would also bias o_proj.
  if (c.arch == Architecture::kQwen2) {
    c.attention_bias = true;
  } else {
    bool bias = false;
    HEARTH_RETURN_IF_ERROR(JsonBool(j, "attention_bias", &bias, src));
    if (bias) {
      return UnimplementedError(
          src + ": attention_bias=true (biased o_proj) is not supported for " + arch);
    }
  }
  HEARTH_RETURN_IF_ERROR(JsonInt(j, "bos_token_id", &c.bos_id, src, false));
  auto eos = j.find("eos_token_id");
  if (eos != j.end() && !eos->is_null()) {
    if (eos->is_array()) {
      for (const json& e : *eos) {
        if (!e.is_number_integer())
          return InvalidArgumentError(src + ": eos_token_id entries must be integers");
        c.eos_ids.push_back(e.get<int64_t>());
      }
    } else {
      int64_t id = -1;
      HEARTH_RETURN_IF_ERROR(JsonInt(j, "eos_token_id", &id, src, false));
      c.eos_ids.push_back(id);
    }
  }
  HEARTH_RETURN_IF_ERROR(ValidateConfig(c, src));
  return c;
}

Result<ModelConfig> ConfigFromHfDir(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  HEARTH_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  return ConfigFromHfJson(text, path);
}

}  // namespace hearth
