#include "model_loader/tokenizer/vocab.h"

#include <cmath>

namespace hearth::tokenizer {

Result<TokenType> TokenTypeFromInt(int64_t v, std::string_view source, size_t index) {
  if (v < 1 || v > 6) {
    return InvalidArgumentError(std::string(source) + ": token " + std::to_string(index) +
                                " has unknown token type " + std::to_string(v) +
                                " (expected 1..6)");
  }
  return static_cast<TokenType>(v);
}

Status Vocab::Validate(std::string_view source, bool need_scores) const {
  const std::string src(source);
  if (tokens.empty()) return InvalidArgumentError(src + ": the vocabulary has no tokens");
  if (types.size() != tokens.size()) {
    return InvalidArgumentError(src + ": " + std::to_string(tokens.size()) + " tokens but " +
                                std::to_string(types.size()) + " token types");
  }
  if (need_scores && scores.size() != tokens.size()) {
    return InvalidArgumentError(src + ": " + std::to_string(tokens.size()) + " tokens but " +
                                std::to_string(scores.size()) + " scores");
  }
  for (size_t i = 0; i < scores.size(); ++i) {
    if (std::isnan(scores[i])) {
      return InvalidArgumentError(src + ": token " + std::to_string(i) + " has a NaN score");
    }
  }
  const auto check_id = [&](int32_t id, const char* what) -> Status {
    if (id < -1 || id >= size()) {
      return InvalidArgumentError(src + ": " + what + " id " + std::to_string(id) +
                                  " is outside the vocabulary of " + std::to_string(size()));
    }
    return Status::Ok();
  };
  HEARTH_RETURN_IF_ERROR(check_id(bos_id, "BOS"));
  HEARTH_RETURN_IF_ERROR(check_id(eos_id, "EOS"));
  HEARTH_RETURN_IF_ERROR(check_id(unk_id, "unknown-token"));
  if (add_bos && bos_id < 0) {
    return InvalidArgumentError(src + ": BOS must be added but no BOS token id is given");
  }
  if (add_eos && eos_id < 0) {
    return InvalidArgumentError(src + ": EOS must be added but no EOS token id is given");
  }
  return Status::Ok();
}

}  // namespace hearth::tokenizer
