// Tokenizer::FromGguf: the tokenizer.ggml.* metadata keys, as llama.cpp's converters write them.
#include "kernels/core/status.h"
#include "model_loader/gguf/gguf_file.h"
#include "model_loader/tokenizer/pre_tokenizer.h"
#include "model_loader/tokenizer/tokenizer.h"

namespace hearth::tokenizer {
namespace {

// An optional key: its value, `fallback` when absent, or the error when of a wrong type.
Result<int64_t> OptionalInt(const gguf::GgufFile& f, std::string_view key, int64_t fallback) {
  if (f.Find(key) == nullptr) return fallback;
  return f.GetInt(key);
}

Result<bool> OptionalBool(const gguf::GgufFile& f, std::string_view key, bool fallback) {
  if (f.Find(key) == nullptr) return fallback;
  return f.GetBool(key);
}

Result<std::string> RequiredString(const gguf::GgufFile& f, std::string_view key) {
  if (f.Find(key) == nullptr) {
    return InvalidArgumentError(f.path() + ": missing tokenizer key " + std::string(key));
  }
  return f.GetString(key);
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const gguf::GgufFile& f) {
  const std::string& src = f.path();
  HEARTH_ASSIGN_OR_RETURN(const std::string model, RequiredString(f, "tokenizer.ggml.model"));
  Parts parts;
  if (model == "llama") {
    parts.kind = TokenizerKind::kSentencePiece;
  } else if (model == "gpt2") {
    parts.kind = TokenizerKind::kByteLevelBpe;
  } else {
    return UnimplementedError(src + ": tokenizer.ggml.model '" + model +
                              "' is not supported (supported: llama = SentencePiece BPE, gpt2 = "
                              "byte-level BPE; WordPiece/Unigram/RWKV are not)");
  }
  const bool spm = parts.kind == TokenizerKind::kSentencePiece;
  Vocab& v = parts.vocab;
  if (f.Find("tokenizer.ggml.tokens") == nullptr) {
    return InvalidArgumentError(src + ": missing tokenizer key tokenizer.ggml.tokens");
  }
  HEARTH_ASSIGN_OR_RETURN(v.tokens, f.GetStringArray("tokenizer.ggml.tokens"));

  if (f.Find("tokenizer.ggml.token_type") != nullptr) {
    HEARTH_ASSIGN_OR_RETURN(const std::vector<int64_t> types,
                            f.GetIntArray("tokenizer.ggml.token_type"));
    v.types.reserve(types.size());
    for (size_t i = 0; i < types.size(); ++i) {
      HEARTH_ASSIGN_OR_RETURN(const TokenType t, TokenTypeFromInt(types[i], src, i));
      v.types.push_back(t);
    }
  } else if (spm) {
    // Without types SentencePiece cannot tell byte pieces and control tokens from text.
    return InvalidArgumentError(src + ": missing tokenizer key tokenizer.ggml.token_type");
  } else {
    v.types.assign(v.tokens.size(), TokenType::kNormal);
  }

  if (spm) {
    if (f.Find("tokenizer.ggml.scores") == nullptr) {
      return InvalidArgumentError(src + ": missing tokenizer key tokenizer.ggml.scores");
    }
    HEARTH_ASSIGN_OR_RETURN(const std::vector<double> scores,
                            f.GetFloatArray("tokenizer.ggml.scores"));
    v.scores.assign(scores.begin(), scores.end());
    HEARTH_ASSIGN_OR_RETURN(parts.add_dummy_prefix,
                            OptionalBool(f, "tokenizer.ggml.add_space_prefix", true));
  } else {
    if (f.Find("tokenizer.ggml.merges") == nullptr) {
      return InvalidArgumentError(src + ": missing tokenizer key tokenizer.ggml.merges");
    }
    HEARTH_ASSIGN_OR_RETURN(parts.merges, f.GetStringArray("tokenizer.ggml.merges"));
    std::string pre;
    if (f.Find("tokenizer.ggml.pre") != nullptr) {
      HEARTH_ASSIGN_OR_RETURN(pre, f.GetString("tokenizer.ggml.pre"));
    }
    HEARTH_ASSIGN_OR_RETURN(parts.pre, PreTokenizer::ForGgufName(pre, &parts.ignore_merges));
  }

  // llama.cpp's defaults: SentencePiece vocabularies add BOS, byte-level ones do not.
  HEARTH_ASSIGN_OR_RETURN(const int64_t bos, OptionalInt(f, "tokenizer.ggml.bos_token_id", -1));
  HEARTH_ASSIGN_OR_RETURN(const int64_t eos, OptionalInt(f, "tokenizer.ggml.eos_token_id", -1));
  HEARTH_ASSIGN_OR_RETURN(const int64_t unk, OptionalInt(f, "tokenizer.ggml.unknown_token_id", -1));
  const auto in_range = [&](int64_t id, const char* key) -> Status {
    if (id < -1 || id >= static_cast<int64_t>(v.tokens.size())) {
      return InvalidArgumentError(src + ": " + key + " = " + std::to_string(id) +
                                  " is outside the vocabulary of " +
                                  std::to_string(v.tokens.size()) + " tokens");
    }
    return Status::Ok();
  };
  HEARTH_RETURN_IF_ERROR(in_range(bos, "tokenizer.ggml.bos_token_id"));
  HEARTH_RETURN_IF_ERROR(in_range(eos, "tokenizer.ggml.eos_token_id"));
  HEARTH_RETURN_IF_ERROR(in_range(unk, "tokenizer.ggml.unknown_token_id"));
  v.bos_id = static_cast<int32_t>(bos);
  v.eos_id = static_cast<int32_t>(eos);
  v.unk_id = static_cast<int32_t>(unk);
  HEARTH_ASSIGN_OR_RETURN(v.add_bos, OptionalBool(f, "tokenizer.ggml.add_bos_token", spm));
  HEARTH_ASSIGN_OR_RETURN(v.add_eos, OptionalBool(f, "tokenizer.ggml.add_eos_token", false));
  return FromParts(std::move(parts), src);
}

}  // namespace hearth::tokenizer
