// Byte-level BPE (GPT-2, Llama 3, Qwen2, SmolLM, ...): each pre-tokenized piece is taken as
// bytes, every byte starts as the token of its GPT-2 "bytes to unicode" character, and ranked
// merges (tokenizer.ggml.merges / tokenizer.json "merges") are applied lowest rank first.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/core/status.h"
#include "model_loader/tokenizer/piece_map.h"
#include "model_loader/tokenizer/vocab.h"

namespace hearth::tokenizer {

// GPT-2's reversible byte <-> printable code point table.
char32_t ByteToUnicode(uint8_t b);
// -1 if `cp` is not the image of a byte.
int UnicodeToByte(char32_t cp);

class ByteBpeModel {
 public:
  // Merges are "left right" in the vocabulary's mapped form, in rank order. `ignore_merges`
  // (Llama 3): a piece that is itself a token is emitted whole before any merging.
  static Result<ByteBpeModel> Create(const Vocab& vocab, const std::vector<std::string>& merges,
                                     bool ignore_merges, const std::string& source);

  // Appends the ids of one pre-tokenized piece (raw bytes).
  void Encode(std::string_view piece, std::vector<int32_t>* out) const;

  // Raw bytes of token `id` (special tokens: their text).
  const std::string& TokenBytes(int32_t id) const { return token_bytes_[id]; }

 private:
  int32_t unk_id_ = -1;
  bool ignore_merges_ = false;
  std::vector<std::string> token_bytes_;
  PieceMap bytes_to_id_;  // keys view token_bytes_
  MergeMap merges_;
  std::array<int32_t, 256> byte_ids_{};
};

}  // namespace hearth::tokenizer
