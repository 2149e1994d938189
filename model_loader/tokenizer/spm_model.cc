#include "model_loader/tokenizer/spm_model.h"

#include <cstdio>
#include <optional>

#include "model_loader/tokenizer/bpe_merge.h"
#include "model_loader/tokenizer/utf8.h"

namespace hearth::tokenizer {
namespace {

// Parses "<0xNN>" into NN, or -1.
int ParseBytePiece(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  int value = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = piece[i];
    int digit;
    if (c >= '0' && c <= '9')
      digit = c - '0';
    else if (c >= 'A' && c <= 'F')
      digit = c - 'A' + 10;
    else if (c >= 'a' && c <= 'f')
      digit = c - 'a' + 10;
    else
      return -1;
    value = value * 16 + digit;
  }
  return value;
}

}  // namespace

Result<SpmModel> SpmModel::Create(const Vocab* vocab, bool add_dummy_prefix, bool byte_fallback,
                                  std::string source, const std::vector<std::string>& ranked_merges,
                                  bool split_words, bool fuse_unk) {
  SpmModel m;
  m.vocab_ = vocab;
  m.add_dummy_prefix_ = add_dummy_prefix;
  m.byte_fallback_ = byte_fallback;
  m.split_words_ = split_words;
  m.fuse_unk_ = fuse_unk;
  m.byte_ids_.fill(-1);
  m.pieces_ = PieceMap(vocab->tokens.size());
  for (int32_t id = 0; id < vocab->size(); ++id) {
    const std::string& piece = vocab->tokens[id];
    switch (vocab->types[id]) {
      case TokenType::kNormal:
      case TokenType::kUserDefined:
      case TokenType::kUnused:
        if (piece.empty()) {
          return InvalidArgumentError(source + ": token " + std::to_string(id) + " is empty");
        }
        if (!IsValidUtf8(piece)) {
          return InvalidArgumentError(source + ": token " + std::to_string(id) +
                                      " is not valid UTF-8");
        }
        // SentencePiece keeps the first of duplicated pieces.
        m.pieces_.Insert(piece, id, /*overwrite=*/false);
        break;
      case TokenType::kByte: {
        const int b = ParseBytePiece(piece);
        if (b < 0) {
          return InvalidArgumentError(source + ": byte token " + std::to_string(id) + " is '" +
                                      piece + "', expected <0xNN>");
        }
        m.byte_ids_[b] = id;
        break;
      }
      case TokenType::kUnknown:
      case TokenType::kControl:
        break;
    }
  }
  if (ranked_merges.empty()) return m;
  if (ranked_merges.size() >= (1u << 24)) {  // ranks travel as exact floats through RunMerges
    return InvalidArgumentError(source + ": " + std::to_string(ranked_merges.size()) +
                                " merges (at most 16777215 supported)");
  }
  m.ranked_ = true;
  m.merges_.Reserve(ranked_merges.size());
  for (size_t rank = 0; rank < ranked_merges.size(); ++rank) {
    const std::string_view merge = ranked_merges[rank];
    const size_t space = merge.find(' ', 1);
    const auto bad = [&](const std::string& why) {
      return InvalidArgumentError(source + ": merge " + std::to_string(rank) + " ('" +
                                  std::string(merge) + "') " + why);
    };
    // SentencePiece pieces hold no ASCII space (it is escaped to U+2581), so one space splits.
    if (space == std::string_view::npos || merge.find(' ', space + 1) != std::string_view::npos) {
      return bad("is not two pieces separated by one space");
    }
    const std::string_view left = merge.substr(0, space), right = merge.substr(space + 1);
    const int32_t l = m.Lookup(left), r = m.Lookup(right),
                  merged = m.Lookup(std::string(left) + std::string(right));
    if (l < 0 || r < 0 || merged < 0) return bad("names a piece missing from the vocabulary");
    // The first (lowest-rank) occurrence of a pair is the one that applies.
    m.merges_.Insert(l, r, {static_cast<int32_t>(rank), merged});
  }
  return m;
}

int32_t SpmModel::Lookup(std::string_view piece) const { return pieces_.Find(piece); }

void SpmModel::Encode(std::string_view text, bool prefix, std::vector<int32_t>* out) const {
  if (text.empty()) return;
  std::string normalized;
  normalized.reserve(text.size() + 8);
  if (add_dummy_prefix_ && prefix) normalized.append(kSpmSpace);
  for (const char c : text) {
    if (c == ' ')
      normalized.append(kSpmSpace);
    else
      normalized.push_back(c);
  }
  const std::string_view norm(normalized);
  if (!split_words_) {
    EncodeWord(norm, out);
    return;
  }
  // Each U+2581 begins a word (Hugging Face's Metaspace split, "merged with next").
  size_t begin = 0;
  while (begin < norm.size()) {
    size_t end = norm.find(kSpmSpace, begin + 1);
    if (end == std::string_view::npos) end = norm.size();
    EncodeWord(norm.substr(begin, end - begin), out);
    begin = end;
  }
}

void SpmModel::EncodeWord(std::string_view norm, std::vector<int32_t>* out) const {
  std::vector<MergeSymbol> symbols;
  symbols.reserve(norm.size());
  for (size_t pos = 0; pos < norm.size();) {
    const Utf8Step step = DecodeUtf8(norm, pos);
    const auto n = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(step.length),
                       Lookup(norm.substr(pos, step.length)), n - 1, n + 1});
    pos += step.length;
  }
  symbols.back().next = -1;

  if (ranked_) {
    RunMerges(symbols, RankedPairs(merges_));
  } else {
    RunMerges(symbols,
              [&](const MergeSymbol& a, const MergeSymbol& b) -> std::optional<MergeCandidate> {
                const int32_t id = Lookup(norm.substr(a.start, a.len + b.len));
                if (id < 0) return std::nullopt;
                return MergeCandidate{-vocab_->scores[id], id};
              });
  }

  // Emits a span: its piece if usable, an unused piece split back into the merges that made it
  // (SentencePiece's resegmentation), else its bytes.
  bool previous_unk = false;  // the last span emitted was an unknown character (fuse_unk)
  const auto emit = [&](auto&& self, std::string_view span) -> void {
    const int32_t id = Lookup(span);
    if (id >= 0 && vocab_->types[id] != TokenType::kUnused) {
      out->push_back(id);
      previous_unk = false;
      return;
    }
    if (id >= 0) {
      // Find the split SentencePiece would have merged: the best-scoring pair of pieces.
      double best = 0;
      size_t best_cut = 0;
      for (size_t cut = 1; cut < span.size(); ++cut) {
        if ((static_cast<unsigned char>(span[cut]) & 0xC0) == 0x80) continue;
        const int32_t l = Lookup(span.substr(0, cut)), r = Lookup(span.substr(cut));
        if (l < 0 || r < 0) continue;
        const double s = vocab_->scores[l] + vocab_->scores[r];
        if (best_cut == 0 || s > best) best = s, best_cut = cut;
      }
      if (best_cut > 0) {
        self(self, span.substr(0, best_cut));
        self(self, span.substr(best_cut));
        return;
      }
    }
    if (ranked_) {
      // Hugging Face: the character's bytes if every <0xNN> exists, else one unknown token
      // (fused with an unknown token just before it when fuse_unk).
      bool all_bytes = byte_fallback_;
      for (const char c : span)
        all_bytes = all_bytes && byte_ids_[static_cast<unsigned char>(c)] >= 0;
      if (all_bytes) {
        for (const char c : span) out->push_back(byte_ids_[static_cast<unsigned char>(c)]);
      } else if (vocab_->unk_id >= 0 &&
                 !(fuse_unk_ && previous_unk && !out->empty() && out->back() == vocab_->unk_id)) {
        out->push_back(vocab_->unk_id);
      }
      previous_unk = !all_bytes;
      return;
    }
    for (const char c : span) {
      const int32_t byte_id = byte_fallback_ ? byte_ids_[static_cast<unsigned char>(c)] : -1;
      if (byte_id >= 0) {
        out->push_back(byte_id);
      } else if (vocab_->unk_id >= 0) {
        // Without byte fallback a whole unknown character becomes one unknown token.
        out->push_back(vocab_->unk_id);
        break;
      }
    }
  };
  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    emit(emit, norm.substr(symbols[i].start, symbols[i].len));
  }
}

void SpmModel::AppendTokenBytes(int32_t id, std::string* out) const {
  const std::string& piece = vocab_->tokens[id];
  if (vocab_->types[id] == TokenType::kByte) {
    out->push_back(static_cast<char>(ParseBytePiece(piece)));
    return;
  }
  for (size_t pos = 0; pos < piece.size();) {
    if (std::string_view(piece).substr(pos, 3) == kSpmSpace) {
      out->push_back(' ');
      pos += 3;
    } else {
      out->push_back(piece[pos++]);
    }
  }
}

}  // namespace hearth::tokenizer
