#include "model_loader/tokenizer/tokenizer.h"

#include "model_loader/tokenizer/byte_bpe_model.h"
#include "model_loader/tokenizer/nfc.h"
#include "model_loader/tokenizer/pre_tokenizer.h"
#include "model_loader/tokenizer/special_token_matcher.h"
#include "model_loader/tokenizer/spm_model.h"
#include "model_loader/tokenizer/utf8.h"

namespace hearth::tokenizer {

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromParts(Parts parts, const std::string& source) {
  const bool spm = parts.kind == TokenizerKind::kSentencePiece;
  HEARTH_RETURN_IF_ERROR(parts.vocab.Validate(source, /*need_scores=*/spm));
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->kind_ = parts.kind;
  t->vocab_ = std::move(parts.vocab);  // the models below keep views into t->vocab_
  t->nfc_ = parts.nfc;
  t->prefix_rule_ = parts.prefix_rule;
  if (spm) {
    HEARTH_ASSIGN_OR_RETURN(
        SpmModel model, SpmModel::Create(&t->vocab_, parts.add_dummy_prefix, parts.byte_fallback,
                                         source, parts.merges, parts.split_words, parts.fuse_unk));
    t->spm_ = std::make_unique<SpmModel>(std::move(model));
  } else {
    HEARTH_ASSIGN_OR_RETURN(ByteBpeModel model, ByteBpeModel::Create(t->vocab_, parts.merges,
                                                                     parts.ignore_merges, source));
    t->bpe_ = std::make_unique<ByteBpeModel>(std::move(model));
    auto pre = PreTokenizer::Create(parts.pre);
    if (!pre.ok()) return Status(pre.status().code(), source + ": " + pre.status().message());
    t->pre_ = std::move(pre).value();
  }
  t->always_matcher_ = std::make_unique<SpecialTokenMatcher>();
  t->special_matcher_ = std::make_unique<SpecialTokenMatcher>();
  for (int32_t id = 0; id < t->vocab_.size(); ++id) {
    const TokenType type = t->vocab_.types[id];
    const std::string& text = t->vocab_.tokens[id];
    if (type == TokenType::kUserDefined) {
      t->always_matcher_->Add(text, id);
      t->special_matcher_->Add(text, id);
    } else if (type == TokenType::kControl) {
      t->special_matcher_->Add(text, id);
    }
  }
  return t;
}

std::string_view Tokenizer::TokenText(int32_t id) const {
  if (id < 0 || id >= vocab_.size()) return {};
  return vocab_.tokens[id];
}

void Tokenizer::EncodeText(std::string_view text, bool at_start, bool first,
                           std::vector<int32_t>* out) const {
  std::string normalized;
  if (nfc_) {
    normalized = NormalizeNfc(text);
    text = normalized;
  }
  if (spm_) {
    // Metaspace checks for a space after escaping it, so a literal U+2581 counts too.
    const bool spaced = !text.empty() && (text[0] == ' ' || text.substr(0, 3) == kSpmSpace);
    bool prefix = at_start;
    if (prefix_rule_ == DummyPrefix::kFirstUnlessSpace) prefix = first && !spaced;
    if (prefix_rule_ == DummyPrefix::kEveryUnlessSpace) prefix = !spaced;
    spm_->Encode(text, prefix, out);
    return;
  }
  std::vector<std::string_view> pieces;
  pre_->Split(text, &pieces);
  for (const std::string_view piece : pieces) bpe_->Encode(piece, out);
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  std::string sanitized;
  if (!IsValidUtf8(text)) {
    sanitized = SanitizeUtf8(text);
    text = sanitized;
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 2);
  if (add_special && vocab_.add_bos) ids.push_back(vocab_.bos_id);
  const SpecialTokenMatcher& matcher = parse_special ? *special_matcher_ : *always_matcher_;
  if (matcher.empty()) {
    EncodeText(text, /*at_start=*/true, /*first=*/true, &ids);
  } else {
    std::vector<Fragment> fragments;
    matcher.Split(text, &fragments);
    // The dummy prefix goes on text at the start and right after a special token (llama.cpp's
    // rule; libsentencepiece never sees special tokens in text).
    bool at_start = true;
    bool first = true;
    for (const Fragment& f : fragments) {
      if (f.id >= 0) {
        ids.push_back(f.id);
        at_start = true;
      } else {
        EncodeText(f.text, at_start, first, &ids);
        at_start = false;
      }
      first = false;
    }
  }
  if (add_special && vocab_.add_eos) ids.push_back(vocab_.eos_id);
  return ids;
}

void Tokenizer::AppendTokenBytes(int32_t id, bool skip_special, bool* first_text,
                                 std::string* out) const {
  if (id < 0 || id >= vocab_.size()) return;
  const TokenType type = vocab_.types[id];
  if (type == TokenType::kControl || type == TokenType::kUnknown) {
    if (skip_special) return;
    out->append(vocab_.tokens[id]);
    if (!vocab_.tokens[id].empty()) *first_text = false;
    return;
  }
  if (type == TokenType::kUserDefined) {
    out->append(vocab_.tokens[id]);
    if (!vocab_.tokens[id].empty()) *first_text = false;
    return;
  }
  if (bpe_) {
    out->append(bpe_->TokenBytes(id));
    *first_text = false;
    return;
  }
  const size_t before = out->size();
  spm_->AppendTokenBytes(id, out);
  // HF's Strip decoder / SentencePiece: only the sequence's first space is the dummy prefix.
  if (*first_text && spm_->add_dummy_prefix() && out->size() > before && (*out)[before] == ' ') {
    out->erase(before, 1);
  }
  *first_text = false;
}

std::string Tokenizer::Decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string bytes;
  bool first_text = true;
  for (const int32_t id : ids) AppendTokenBytes(id, skip_special, &first_text, &bytes);
  if (IsValidUtf8(bytes)) return bytes;
  return SanitizeUtf8(bytes);
}

std::string StreamDecoder::Push(int32_t id) {
  tokenizer_.AppendTokenBytes(id, skip_special_, &first_text_, &pending_);
  const size_t complete = CompleteUtf8Prefix(pending_);
  std::string out = SanitizeUtf8(std::string_view(pending_).substr(0, complete));
  pending_.erase(0, complete);
  return out;
}

std::string StreamDecoder::Flush() {
  std::string out = SanitizeUtf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace hearth::tokenizer
