// SentencePiece BPE (the Llama 1/2, Mistral, Phi-3 family): whitespace escaped to U+2581, an
// optional dummy prefix, then pairs merged by the score of the merged piece, with byte fallback
// (<0xNN>) for characters outside the vocabulary. Matches libsentencepiece's bpe_model.
//
// The same vocabularies also ship as Hugging Face tokenizer.json ("BPE" with byte_fallback):
// there the merges are an explicit ranked list of pairs and only listed pairs merge (Hugging
// Face `tokenizers`' BPE); given `ranked_merges`, the model merges that way instead of by score.
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
  // `ranked_merges`: "left right" pieces, lowest rank first (tokenizer.json), or empty for
  // SentencePiece's score order. `split_words`: each U+2581 starts a new word and merges never
  // cross words (tokenizer.json Metaspace with split). `fuse_unk`: adjacent unknown characters
  // give one unknown token.
  static Result<SpmModel> Create(const Vocab* vocab, bool add_dummy_prefix, bool byte_fallback,
                                 std::string source,
                                 const std::vector<std::string>& ranked_merges = {},
                                 bool split_words = false, bool fuse_unk = false);

  // Appends the ids of `text` (valid UTF-8, containing no special tokens). `prefix`: prepend
  // the dummy prefix U+2581 (the caller applies the model's rule; add_dummy_prefix() says
  // whether the model has one at all).
  void Encode(std::string_view text, bool prefix, std::vector<int32_t>* out) const;

  // Appends the bytes of token `id`: byte pieces give their byte, U+2581 becomes a space.
  void AppendTokenBytes(int32_t id, std::string* out) const;

  bool add_dummy_prefix() const { return add_dummy_prefix_; }

 private:
  int32_t Lookup(std::string_view piece) const;
  // Merges and emits one word (already whitespace-escaped).
  void EncodeWord(std::string_view word, std::vector<int32_t>* out) const;

  const Vocab* vocab_ = nullptr;
  bool add_dummy_prefix_ = true;
  bool byte_fallback_ = true;
  bool split_words_ = false;
  bool fuse_unk_ = false;
  bool ranked_ = false;  // merges_ decides (tokenizer.json) instead of scores
  MergeMap merges_;
  // Pieces a merge may produce (normal, user-defined, unused), as SentencePiece's pieces_ map.
  PieceMap pieces_;
  std::array<int32_t, 256> byte_ids_{};  // -1 where the vocabulary lacks <0xNN>
};

}  // namespace hearth::tokenizer
