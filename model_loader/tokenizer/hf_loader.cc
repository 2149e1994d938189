// Tokenizer::FromHfDir: a Hugging Face tokenizer.json (+ tokenizer_config.json) holding a BPE
// model, either byte-level (ByteLevel pre-tokenizer) or SentencePiece-style (byte_fallback, spaces
// escaped to U+2581 by a Metaspace pre-tokenizer or Replace/Prepend normalizers). Every component
// is checked against what Hearth implements; anything else is an Unimplemented error naming the
// component, never silently ignored.
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "kernels/core/json_depth.h"
#include "model_loader/read_file.h"
#include "model_loader/tokenizer/pre_tokenizer.h"
#include "model_loader/tokenizer/tokenizer.h"

namespace hearth::tokenizer {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

Result<Json> ParseJson(std::string_view text, const std::string& src) {
  HEARTH_RETURN_IF_ERROR(CheckJsonDepth(text, src));  // Unsupported's dump() recurses
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgumentError(src + ": not valid JSON");
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

Result<std::unique_ptr<Tokenizer>> LoadHf(std::string_view tokenizer_json,
                                          std::string_view config_json, const std::string& src);

// ---- SentencePiece-style tokenizer.json (Llama 2, Mistral, Gemma) ----------------------------

const std::string kMeta = "\xE2\x96\x81";  // U+2581, SentencePiece's escaped space

bool IsBytePiece(const std::string& t) {
  const auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  return t.size() == 6 && t.compare(0, 3, "<0x") == 0 && hex(t[3]) && hex(t[4]) && t[5] == '>';
}

// The elements of a normalizer/decoder that may be a Sequence.
std::vector<Json> Flatten(const Json& j, const char* list_key) {
  if (j.is_null()) return {};
  if (j.is_object() && j.value("type", "") == "Sequence" && j.contains(list_key) &&
      j[list_key].is_array()) {
    return j[list_key].get<std::vector<Json>>();
  }
  return {j};
}

// A Replace step of `from` by `to` with a plain-string pattern.
bool IsReplace(const Json& step, const std::string& from, const std::string& to) {
  return step.is_object() && step.value("type", "") == "Replace" && step.contains("pattern") &&
         step["pattern"].is_object() && step["pattern"].value("String", "") == from &&
         step.value("content", "") == to;
}

// A Split on the plain string " ": a no-op after a normalizer that replaced every space
// (Gemma's files carry one).
bool IsSpaceSplit(const Json& pre) {
  return pre.is_object() && pre.value("type", "") == "Split" && pre.contains("pattern") &&
         pre["pattern"].is_object() && pre["pattern"].value("String", "") == " ";
}

// SentencePiece-style: no ByteLevel anywhere, and spaces escaped by Metaspace or Replace.
bool IsSentencePieceStyle(const Json& j) {
  const Json pre = j.value("pre_tokenizer", Json());
  if (pre.is_object() && pre.value("type", "") == "Metaspace") return true;
  if (!pre.is_null() && !IsSpaceSplit(pre)) return false;
  for (const Json& step : Flatten(j.value("normalizer", Json()), "normalizers")) {
    if (IsReplace(step, " ", kMeta)) return true;
  }
  return false;
}

// Normalizer (Prepend "▁", Replace " " -> "▁"), pre-tokenizer (none or Metaspace), the model's
// flags and the decoder, mapped onto SentencePiece Parts; anything else is Unimplemented.
Status ConfigureSentencePiece(const Json& j, const std::string& src, Tokenizer::Parts* parts) {
  parts->kind = TokenizerKind::kSentencePiece;
  parts->add_dummy_prefix = false;
  parts->prefix_rule = DummyPrefix::kEveryFragment;
  const Json& model = j["model"];
  parts->byte_fallback = model.value("byte_fallback", false);
  parts->fuse_unk = model.value("fuse_unk", false);
  if (parts->ignore_merges)
    return Unsupported(src, "ignore_merges with SentencePiece-style BPE", model);
  if (!model.value("dropout", Json()).is_null() ||
      !model.value("continuing_subword_prefix", Json()).is_null() ||
      !model.value("end_of_word_suffix", Json()).is_null()) {
    return Unsupported(
        src, "BPE dropout/continuing_subword_prefix/end_of_word_suffix",
        Json{{"dropout", model.value("dropout", Json())},
             {"continuing_subword_prefix", model.value("continuing_subword_prefix", Json())},
             {"end_of_word_suffix", model.value("end_of_word_suffix", Json())}});
  }
  bool escapes_spaces = false;
  for (const Json& step : Flatten(j.value("normalizer", Json()), "normalizers")) {
    if (IsReplace(step, " ", kMeta)) {
      escapes_spaces = true;
    } else if (step.is_object() && step.value("type", "") == "Prepend" &&
               step.value("prepend", "") == kMeta && !parts->add_dummy_prefix) {
      parts->add_dummy_prefix = true;  // on every fragment, like SentencePiece in llama.cpp
    } else {
      return Unsupported(src, "normalizer step", step);
    }
  }
  const Json pre = j.value("pre_tokenizer", Json());
  if (IsSpaceSplit(pre)) {
    if (!escapes_spaces) return Unsupported(src, "a Split on spaces the normalizer left", pre);
  } else if (pre.is_object()) {  // Metaspace (IsSentencePieceStyle checked the type)
    if (pre.value("replacement", "") != kMeta)
      return Unsupported(src, "Metaspace replacement", pre);
    escapes_spaces = true;
    // Older files say add_prefix_space (true = "always"); split defaults to true.
    std::string scheme = pre.value("prepend_scheme", "");
    if (scheme.empty()) scheme = pre.value("add_prefix_space", true) ? "always" : "never";
    parts->split_words = pre.value("split", true);
    if (scheme != "never") {
      if (parts->add_dummy_prefix)
        return Unsupported(src, "Prepend normalizer and Metaspace prefix", pre);
      parts->add_dummy_prefix = true;
      if (scheme == "first") {
        parts->prefix_rule = DummyPrefix::kFirstUnlessSpace;
      } else if (scheme == "always") {
        parts->prefix_rule = DummyPrefix::kEveryUnlessSpace;
      } else {
        return Unsupported(src, "Metaspace prepend_scheme", pre);
      }
    }
  }
  if (!escapes_spaces)
    return Unsupported(src, "SentencePiece-style BPE without space escaping", pre);

  // Decoding must be SentencePiece's: U+2581 back to a space, byte pieces to bytes, and the
  // first space dropped exactly when a dummy prefix was added (Strip or Metaspace decoder).
  bool unescapes = false, strips_first = false;
  for (const Json& step : Flatten(j.value("decoder", Json()), "decoders")) {
    const std::string type = step.is_object() ? step.value("type", "") : "";
    if (IsReplace(step, kMeta, " ") ||
        (type == "Metaspace" && step.value("replacement", "") == kMeta)) {
      unescapes = true;
      if (type == "Metaspace") {
        const std::string scheme =
            step.value("prepend_scheme", step.value("add_prefix_space", true) ? "always" : "never");
        strips_first = scheme != "never";
      }
    } else if (type == "Strip" && step.value("content", "") == " " && step.value("start", 0) == 1 &&
               step.value("stop", 0) == 0) {
      strips_first = true;
    } else if (type != "ByteFallback" && type != "Fuse") {
      return Unsupported(src, "decoder step", step);
    }
  }
  if (!unescapes || strips_first != parts->add_dummy_prefix) {
    return Unsupported(src,
                       "a decoder that does not undo the normalization (U+2581 to space, "
                       "first space stripped iff a dummy prefix is added)",
                       j.value("decoder", Json()));
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromHfDir(const std::string& path) {
  fs::path json_path = path;
  std::error_code ec;
  if (fs::is_directory(json_path, ec)) json_path /= "tokenizer.json";
  HEARTH_ASSIGN_OR_RETURN(const std::string text, ReadFile(json_path.string()));
  const fs::path config_path = json_path.parent_path() / "tokenizer_config.json";
  std::string config;
  if (fs::exists(config_path, ec)) {
    HEARTH_ASSIGN_OR_RETURN(config, ReadFile(config_path.string()));
    if (config.empty()) return InvalidArgumentError(config_path.string() + ": empty file");
  }
  return FromHfJson(text, config, json_path.string());
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromHfJson(std::string_view tokenizer_json,
                                                         std::string_view config_json,
                                                         const std::string& source) {
  // nlohmann's typed accessors (value(), get()) throw on a field of an unexpected type; a
  // malformed file must be an error, not a crash.
  try {
    return LoadHf(tokenizer_json, config_json, source);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgumentError(source +
                                ": malformed tokenizer.json/tokenizer_config.json: " + e.what());
  }
}

namespace {

Result<std::unique_ptr<Tokenizer>> LoadHf(std::string_view tokenizer_json,
                                          std::string_view config_json, const std::string& src) {
  HEARTH_ASSIGN_OR_RETURN(const Json j, ParseJson(tokenizer_json, src));
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
  const bool byte_fallback = model.value("byte_fallback", false);
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

  if (IsSentencePieceStyle(j)) {
    HEARTH_RETURN_IF_ERROR(ConfigureSentencePiece(j, src, &parts));
  } else {
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
    if (!byte_level) {
      return Unsupported(src, "a pre_tokenizer without ByteLevel", j["pre_tokenizer"]);
    }
    if (byte_fallback) return Unsupported(src, "byte_fallback in a byte-level BPE", Json());
  }
  if (parts.kind == TokenizerKind::kSentencePiece) {
    // The model's unknown token, and the byte pieces byte fallback emits and decodes.
    const std::string unk = model.contains("unk_token") && model["unk_token"].is_string()
                                ? model["unk_token"].get<std::string>()
                                : std::string();
    for (int32_t id = 0; id < v.size(); ++id) {
      if (!unk.empty() && v.tokens[id] == unk) {
        v.unk_id = id;
        // An added (special) unk stays matchable in text, as Hugging Face splits it out.
        if (v.types[id] == TokenType::kNormal) v.types[id] = TokenType::kUnknown;
      } else if (byte_fallback && v.types[id] == TokenType::kNormal && IsBytePiece(v.tokens[id])) {
        v.types[id] = TokenType::kByte;
      }
    }
    if (!unk.empty() && v.unk_id < 0) {
      return InvalidArgumentError(src + ": unk_token '" + unk + "' is not in the vocabulary");
    }
    // Ranked merges decide; scores are only SentencePiece's merge order.
    v.scores.assign(v.tokens.size(), 0.0f);
  }

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

  if (!config_json.empty()) {
    const std::string config_src = src + " (tokenizer_config.json)";
    HEARTH_ASSIGN_OR_RETURN(const Json c, ParseJson(config_json, config_src));
    if (!c.is_object()) return InvalidArgumentError(config_src + ": not a JSON object");
    const auto special = [&](const char* key, int32_t* id) -> Status {
      if (!c.contains(key) || c[key].is_null()) return Status::Ok();
      const std::string text = TokenContent(c[key]);
      *id = find_id(text);
      if (*id < 0) {
        return InvalidArgumentError(config_src + ": " + key + " '" + text +
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
