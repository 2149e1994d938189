// Tokenizer::FromHfDir: a Hugging Face tokenizer.json (+ tokenizer_config.json) holding a
// byte-level BPE model. Every component is checked against what Hearth implements; anything
// else is an Unimplemented error naming the component, never silently ignored.
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model_loader/tokenizer/pre_tokenizer.h"
#include "model_loader/tokenizer/tokenizer.h"

namespace hearth::tokenizer {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

Result<Json> ReadJson(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path.string() + ": cannot open");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  Json j = Json::parse(buffer.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgumentError(path.string() + ": not valid JSON");
  return j;
}

Status Unsupported(const std::string& src, const std::string& what, const Json& j) {
  std::string dump = j.dump();
  if (dump.size() > 200) dump = dump.substr(0, 200) + "...";
  return UnimplementedError(src + ": " + what + " is not supported: " + dump);
}

// Appends the regex steps of one pre-tokenizer; sets *byte_level when it is ByteLevel.
Status AddPreTokenizer(const Json& p, const std::string& src, PreTokenizerConfig* config,
                       bool* byte_level) {
  std::vector<std::string>* out = &config->patterns;
  if (!p.is_object() || !p.contains("type") || !p["type"].is_string()) {
    return Unsupported(src, "pre_tokenizer", p);
  }
  const std::string type = p["type"];
  if (type == "Sequence") {
    if (!p.contains("pretokenizers") || !p["pretokenizers"].is_array()) {
      return Unsupported(src, "pre_tokenizer Sequence", p);
    }
    for (const Json& step : p["pretokenizers"]) {
      HEARTH_RETURN_IF_ERROR(AddPreTokenizer(step, src, config, byte_level));
    }
    return Status::Ok();
  }
  if (type == "ByteLevel") {
    if (p.value("add_prefix_space", false)) {
      return Unsupported(src, "ByteLevel pre_tokenizer with add_prefix_space", p);
    }
    if (*byte_level) return Unsupported(src, "a second ByteLevel pre_tokenizer", p);
    if (p.value("use_regex", true)) out->push_back(kGpt2Pattern);
    *byte_level = true;
    config->byte_mapped_from = out->size();  // later steps see byte-mapped text
    return Status::Ok();
  }
  if (type == "Split") {
    if (p.value("behavior", "") != "Isolated" || p.value("invert", false) ||
        !p.contains("pattern") || !p["pattern"].is_object()) {
      return Unsupported(src, "Split pre_tokenizer (only Isolated, not inverted)", p);
    }
    const Json& pattern = p["pattern"];
    if (pattern.contains("Regex") && pattern["Regex"].is_string()) {
      out->push_back(pattern["Regex"].get<std::string>());
    } else if (pattern.contains("String") && pattern["String"].is_string()) {
      out->push_back("\\Q" + pattern["String"].get<std::string>() + "\\E");
    } else {
      return Unsupported(src, "Split pattern", p);
    }
    return Status::Ok();
  }
  if (type == "Digits") {
    out->push_back(p.value("individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)");
    return Status::Ok();
  }
  if (type == "Punctuation") {
    const std::string behavior = p.value("behavior", "Isolated");
    if (behavior != "Isolated" && behavior != "Contiguous") {
      return Unsupported(src, "Punctuation behavior", p);
    }
    // HF counts ASCII symbols ($+<=>^`|~) as punctuation too.
    out->push_back(std::string(R"([\p{P}\$\+<=>\^~\|`])") + (behavior == "Contiguous" ? "+" : ""));
    return Status::Ok();
  }
  return Unsupported(src, "pre_tokenizer type '" + type + "'", p);
}

// The content of a tokenizer_config.json special-token entry (a string or {"content": ...}).
std::string TokenContent(const Json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"];
  return {};
}

Result<std::unique_ptr<Tokenizer>> LoadHfDir(const std::string& path);

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromHfDir(const std::string& path) {
  // nlohmann's typed accessors (value(), get()) throw on a field of an unexpected type; a
  // malformed file must be an error, not a crash.
  try {
    return LoadHfDir(path);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgumentError(path +
                                ": malformed tokenizer.json/tokenizer_config.json: " + e.what());
  }
}

namespace {

Result<std::unique_ptr<Tokenizer>> LoadHfDir(const std::string& path) {
  fs::path json_path = path;
  std::error_code ec;
  if (fs::is_directory(json_path, ec)) json_path /= "tokenizer.json";
  const std::string src = json_path.string();
  HEARTH_ASSIGN_OR_RETURN(const Json j, ReadJson(json_path));
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object()) {
    return InvalidArgumentError(src + ": no \"model\" object");
  }
  const Json& model = j["model"];
  if (model.value("type", "") != "BPE") {
    return Unsupported(src, "model type (only BPE)", model.value("type", Json()));
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    return InvalidArgumentError(src + ": model.vocab is missing or not an object");
  }
  if (!model.contains("merges") || !model["merges"].is_array()) {
    return InvalidArgumentError(src + ": model.merges is missing or not an array");
  }

  Tokenizer::Parts parts;
  parts.kind = TokenizerKind::kByteLevelBpe;
  parts.ignore_merges = model.value("ignore_merges", false);
  std::map<int64_t, std::pair<std::string, TokenType>> by_id;
  for (const auto& [text, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0) {
      return InvalidArgumentError(src + ": vocab entry '" + text + "' has no valid id");
    }
    by_id[id.get<int64_t>()] = {text, TokenType::kNormal};
  }
  if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
    for (const Json& t : j["added_tokens"]) {
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() ||
          !t.contains("content") || !t["content"].is_string()) {
        return InvalidArgumentError(src + ": malformed added_tokens entry " + t.dump());
      }
      by_id[t["id"].get<int64_t>()] = {
          t["content"], t.value("special", false) ? TokenType::kControl : TokenType::kUserDefined};
    }
  }
  if (by_id.empty()) return InvalidArgumentError(src + ": the vocabulary is empty");
  const int64_t size = by_id.rbegin()->first + 1;
  if (size != static_cast<int64_t>(by_id.size())) {
    return InvalidArgumentError(src + ": token ids are not contiguous (" +
                                std::to_string(by_id.size()) + " tokens, largest id " +
                                std::to_string(size - 1) + ")");
  }
  Vocab& v = parts.vocab;
  for (auto& [id, entry] : by_id) {
    v.tokens.push_back(std::move(entry.first));
    v.types.push_back(entry.second);
  }
  for (const Json& m : model["merges"]) {
    if (m.is_string()) {
      parts.merges.push_back(m);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      parts.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    } else {
      return InvalidArgumentError(src + ": malformed merge " + m.dump());
    }
  }

  // Normalizer: none, or NFC (alone or as a one-element Sequence).
  if (j.contains("normalizer") && !j["normalizer"].is_null()) {
    const Json& n = j["normalizer"];
    const Json* single = &n;
    if (n.value("type", "") == "Sequence" && n.contains("normalizers") &&
        n["normalizers"].is_array() && n["normalizers"].size() == 1) {
      single = &n["normalizers"][0];
    }
    if (single->value("type", "") != "NFC") return Unsupported(src, "normalizer", n);
    parts.nfc = true;
  }
  bool byte_level = false;
  if (!j.contains("pre_tokenizer") || j["pre_tokenizer"].is_null()) {
    return Unsupported(src, "a tokenizer without pre_tokenizer (not byte-level)", Json());
  }
  HEARTH_RETURN_IF_ERROR(AddPreTokenizer(j["pre_tokenizer"], src, &parts.pre, &byte_level));
  if (!byte_level) return Unsupported(src, "a pre_tokenizer without ByteLevel", j["pre_tokenizer"]);

  const auto find_id = [&](const std::string& text) -> int32_t {
    for (int32_t id = 0; id < v.size(); ++id) {
      if (v.tokens[id] == text) return id;
    }
    return -1;
  };
  // BOS from the post-processor template: a special token before the sequence.
  const std::function<void(const Json&)> scan_post = [&](const Json& p) {
    if (!p.is_object()) return;
    if (p.value("type", "") == "Sequence" && p.contains("processors")) {
      for (const Json& q : p["processors"]) scan_post(q);
    }
    if (p.value("type", "") == "TemplateProcessing" && p.contains("single") &&
        p["single"].is_array() && !p["single"].empty()) {
      const Json& single = p["single"];
      if (single.front().contains("SpecialToken")) {
        v.bos_id = find_id(single.front()["SpecialToken"].value("id", ""));
        v.add_bos = v.bos_id >= 0;
      }
      if (single.back().contains("SpecialToken")) {
        v.eos_id = find_id(single.back()["SpecialToken"].value("id", ""));
        v.add_eos = v.eos_id >= 0;
      }
    }
  };
  if (j.contains("post_processor")) scan_post(j["post_processor"]);

  const fs::path config_path = json_path.parent_path() / "tokenizer_config.json";
  if (fs::exists(config_path, ec)) {
    HEARTH_ASSIGN_OR_RETURN(const Json c, ReadJson(config_path));
    const auto special = [&](const char* key, int32_t* id) -> Status {
      if (!c.contains(key) || c[key].is_null()) return Status::Ok();
      const std::string text = TokenContent(c[key]);
      *id = find_id(text);
      if (*id < 0) {
        return InvalidArgumentError(config_path.string() + ": " + key + " '" + text +
                                    "' is not in the vocabulary");
      }
      return Status::Ok();
    };
    HEARTH_RETURN_IF_ERROR(special("bos_token", &v.bos_id));
    HEARTH_RETURN_IF_ERROR(special("eos_token", &v.eos_id));
    HEARTH_RETURN_IF_ERROR(special("unk_token", &v.unk_id));
    if (c.contains("add_bos_token") && c["add_bos_token"].is_boolean()) {
      v.add_bos = c["add_bos_token"];
    }
    if (c.contains("add_eos_token") && c["add_eos_token"].is_boolean()) {
      v.add_eos = c["add_eos_token"];
    }
  }
  return Tokenizer::FromParts(std::move(parts), src);
}

}  // namespace
}  // namespace hearth::tokenizer
