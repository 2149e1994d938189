// SentencePiece BPE (the Llama 1/2, Mistral, Phi-3 family): whitespace escaped to U+2581, an
// optional dummy prefix, then pairs merged by the score of the merged piece, with byte fallback
// (<0xNN>) for characters outside the vocabulary. Matches libsentencepiece's bpe_model.
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

inline constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581

class SpmModel {
 public:
  // `vocab` must outlive the model.
  static Result<SpmModel> Create(const Vocab* vocab, bool add_dummy_prefix, bool byte_fallback,
                                 std::string source);

  // Appends the ids of `text` (valid UTF-8, containing no special tokens). The dummy prefix is
  // added when `at_start` (start of input or right after a special token).
  void Encode(std::string_view text, bool at_start, std::vector<int32_t>* out) const;

  // Appends the bytes of token `id`: byte pieces give their byte, U+2581 becomes a space.
  void AppendTokenBytes(int32_t id, std::string* out) const;

  bool add_dummy_prefix() const { return add_dummy_prefix_; }

 private:
  int32_t Lookup(std::string_view piece) const;

  const Vocab* vocab_ = nullptr;
  bool add_dummy_prefix_ = true;
  bool byte_fallback_ = true;
  // Pieces a merge may produce (normal, user-defined, unused), as SentencePiece's pieces_ map.
  PieceMap pieces_;
  std::array<int32_t, 256> byte_ids_{};  // -1 where the vocabulary lacks <0xNN>
};

}  // namespace hearth::tokenizer
