#include "model_loader/tokenizer/byte_bpe_model.h"

#include <optional>

#include "model_loader/tokenizer/bpe_merge.h"
#include "model_loader/tokenizer/utf8.h"

namespace hearth::tokenizer {
namespace {

struct ByteTables {
  std::array<char32_t, 256> to_unicode{};
  std::unordered_map<char32_t, int> to_byte;
  ByteTables() {
    // Printable Latin-1 bytes map to themselves; the rest to U+0100 onwards, in byte order.
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      to_unicode[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
      to_byte[to_unicode[b]] = b;
    }
  }
};

const ByteTables& Tables() {
  static const ByteTables tables;
  return tables;
}

// Undoes the byte mapping; false if some code point is not the image of a byte.
bool UnmapToken(std::string_view token, std::string* bytes) {
  bytes->clear();
  for (size_t pos = 0; pos < token.size();) {
    const Utf8Step step = DecodeUtf8(token, pos);
    if (step.kind != Utf8Step::kValid) return false;
    const int b = UnicodeToByte(step.code_point);
    if (b < 0) return false;
    bytes->push_back(static_cast<char>(b));
    pos += step.length;
  }
  return true;
}

}  // namespace

char32_t ByteToUnicode(uint8_t b) { return Tables().to_unicode[b]; }

int UnicodeToByte(char32_t cp) {
  const auto& m = Tables().to_byte;
  const auto it = m.find(cp);
  return it == m.end() ? -1 : it->second;
}

Result<ByteBpeModel> ByteBpeModel::Create(const Vocab& vocab,
                                          const std::vector<std::string>& merges,
                                          bool ignore_merges, const std::string& source) {
  ByteBpeModel m;
  m.unk_id_ = vocab.unk_id;
  m.ignore_merges_ = ignore_merges;
  m.token_bytes_.resize(vocab.tokens.size());
  std::string bytes;
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const std::string& token = vocab.tokens[id];
    const TokenType type = vocab.types[id];
    // Special and added tokens are stored as plain text; normal tokens in the mapped alphabet.
    if (type == TokenType::kNormal || type == TokenType::kByte || type == TokenType::kUnused) {
      if (!UnmapToken(token, &bytes)) {
        if (type != TokenType::kNormal) {
          bytes = token;
        } else {
          return InvalidArgumentError(source + ": token " + std::to_string(id) + " ('" + token +
                                      "') is not in the byte-level alphabet");
        }
      }
    } else {
      bytes = token;
    }
    m.token_bytes_[id] = bytes;
    if (type == TokenType::kNormal || type == TokenType::kByte) {
      // The last duplicate wins, as in llama.cpp's token map.
      m.bytes_to_id_.Insert(m.token_bytes_[id], id, /*overwrite=*/true);
    }
  }
  m.byte_ids_.fill(-1);
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    m.byte_ids_[b] = m.bytes_to_id_.Find(std::string_view(&c, 1));
  }

  if (merges.size() >= (1u << 24)) {  // ranks travel as exact floats through the merge loop
    return InvalidArgumentError(source + ": " + std::to_string(merges.size()) +
                                " merges (at most 16777215 supported)");
  }
  m.merges_.Reserve(merges.size());
  std::string left, right;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& merge = merges[rank];
    const size_t space = merge.find(' ', 1);
    const auto bad = [&](const std::string& why) {
      return InvalidArgumentError(source + ": merge " + std::to_string(rank) + " ('" + merge +
                                  "') " + why);
    };
    if (space == std::string::npos || merge.find(' ', space + 1) != std::string::npos) {
      return bad("is not two tokens separated by one space");
    }
    if (!UnmapToken(std::string_view(merge).substr(0, space), &left) ||
        !UnmapToken(std::string_view(merge).substr(space + 1), &right)) {
      return bad("is not in the byte-level alphabet");
    }
    const int32_t l = m.bytes_to_id_.Find(left), r = m.bytes_to_id_.Find(right),
                  merged = m.bytes_to_id_.Find(left + right);
    if (l < 0 || r < 0 || merged < 0) {
      return bad("names a token missing from the vocabulary");
    }
    // The first (lowest-rank) occurrence of a pair is the one that applies.
    m.merges_.Insert(l, r, {static_cast<int32_t>(rank), merged});
  }
  return m;
}

void ByteBpeModel::Encode(std::string_view piece, std::vector<int32_t>* out) const {
  if (piece.empty()) return;
  if (ignore_merges_ || piece.size() == 1) {
    const int32_t id = bytes_to_id_.Find(piece);
    if (id >= 0) {
      out->push_back(id);
      return;
    }
  }
  std::vector<MergeSymbol> symbols(piece.size());
  for (size_t i = 0; i < piece.size(); ++i) {
    const auto n = static_cast<int32_t>(i);
    symbols[i] = {static_cast<uint32_t>(i), 1, byte_ids_[static_cast<unsigned char>(piece[i])],
                  n - 1, n + 1};
  }
  symbols.back().next = -1;
  RunMerges(symbols, RankedPairs(merges_));
  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    if (symbols[i].id >= 0) {
      out->push_back(symbols[i].id);
    } else if (unk_id_ >= 0) {
      out->push_back(unk_id_);  // a byte the vocabulary cannot spell
    }
  }
}

}  // namespace hearth::tokenizer
