// The vocabulary every tokenizer model shares: token texts, SentencePiece scores, token types,
// special ids and the BOS/EOS policy. Loaders (GGUF, tokenizer.json, tokenizer.model) fill it;
// Validate() is the one place that rejects missing or inconsistent fields.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kernels/core/status.h"

namespace hearth::tokenizer {

// Numbering of GGUF's tokenizer.ggml.token_type (and of SentencePiece's piece type + 1).
enum class TokenType : uint8_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,      // BOS/EOS/chat markers: matched in text only when parse_special is set
  kUserDefined = 4,  // always matched in text as one token (SentencePiece user symbols,
                     // HF added tokens that are not special)
  kUnused = 5,
  kByte = 6,  // <0xNN> byte-fallback pieces
};

struct Vocab {
  std::vector<std::string> tokens;  // as stored by the format (SPM with U+2581, GPT-2 mapped)
  std::vector<float> scores;        // SentencePiece merge priorities; empty for byte-level BPE
  std::vector<TokenType> types;
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t unk_id = -1;
  bool add_bos = false;
  bool add_eos = false;

  int32_t size() const { return static_cast<int32_t>(tokens.size()); }
  bool IsSpecial(int32_t id) const {
    return id >= 0 && id < size() &&
           (types[id] == TokenType::kControl || types[id] == TokenType::kUserDefined ||
            types[id] == TokenType::kUnknown);
  }

  // Checks sizes, id ranges, types and duplicate texts of matchable tokens. `source` names the
  // file in error messages.
  Status Validate(std::string_view source, bool need_scores) const;
};

// Maps a GGUF token type number to TokenType, or InvalidArgument.
Result<TokenType> TokenTypeFromInt(int64_t v, std::string_view source, size_t index);

}  // namespace hearth::tokenizer
