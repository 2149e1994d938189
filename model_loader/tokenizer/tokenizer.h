// Hearth's tokenizer: text <-> token ids for SentencePiece-BPE and byte-level BPE vocabularies,
// loaded from GGUF metadata, a Hugging Face tokenizer.json, or a SentencePiece tokenizer.model.
// See README.md for the behaviour on special tokens, BOS/EOS and invalid UTF-8.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/core/status.h"
#include "model_loader/tokenizer/pre_tokenizer.h"
#include "model_loader/tokenizer/vocab.h"

namespace hearth::gguf {
class GgufFile;
}

namespace hearth::tokenizer {

class SpmModel;
class ByteBpeModel;
class SpecialTokenMatcher;

enum class TokenizerKind : uint8_t { kSentencePiece, kByteLevelBpe };

// Which text fragments get SentencePiece's dummy-prefix U+2581 (fragments are the text between
// special tokens).
enum class DummyPrefix : uint8_t {
  kEveryFragment,     // the input's start and after each special token: SentencePiece with
                      // llama.cpp's rule, and tokenizer.json's Prepend normalizer
  kFirstUnlessSpace,  // only a fragment at the input's very start, and not if it already
                      // begins with a space (tokenizer.json Metaspace, prepend_scheme "first")
  kEveryUnlessSpace,  // every fragment not beginning with a space (Metaspace "always")
};

class Tokenizer {
 public:
  // From tokenizer.ggml.* metadata (model "llama" = SentencePiece, "gpt2" = byte-level BPE).
  static Result<std::unique_ptr<Tokenizer>> FromGguf(const gguf::GgufFile& file);
  // From a directory holding tokenizer.json (and optionally tokenizer_config.json), or from the
  // path of a tokenizer.json itself: byte-level BPE, or SentencePiece-style BPE (byte_fallback
  // with a Metaspace pre-tokenizer or Prepend/Replace normalizers, as Llama 2, Mistral and Gemma
  // ship).
  static Result<std::unique_ptr<Tokenizer>> FromHfDir(const std::string& path);
  // The same from the files' contents (`config_json` empty when there is no
  // tokenizer_config.json); `source` names them in errors.
  static Result<std::unique_ptr<Tokenizer>> FromHfJson(std::string_view tokenizer_json,
                                                       std::string_view config_json,
                                                       const std::string& source);
  // From a SentencePiece tokenizer.model (BPE type), parsed without libprotobuf.
  static Result<std::unique_ptr<Tokenizer>> FromSentencePieceModel(const std::string& path);

  // Builds a tokenizer from parts (the loaders above end here; tests use it for bad vocabs).
  struct Parts {
    TokenizerKind kind = TokenizerKind::kSentencePiece;
    Vocab vocab;
    bool add_dummy_prefix = true;                           // SentencePiece only
    DummyPrefix prefix_rule = DummyPrefix::kEveryFragment;  // SentencePiece only
    bool byte_fallback = true;  // SentencePiece only: <0xNN> for unknown chars
    bool split_words = false;   // SentencePiece only: merges stop at each U+2581
    bool fuse_unk = false;      // SentencePiece only: adjacent unknown chars, one token
    // In rank order, "left right". Byte-level BPE: required. SentencePiece: optional; when given
    // (tokenizer.json) only these pairs merge, by rank, instead of by score.
    std::vector<std::string> merges;
    PreTokenizerConfig pre;      // byte-level BPE only
    bool ignore_merges = false;  // byte-level BPE only
    bool nfc = false;            // NFC-normalize input (tokenizer.json "NFC")
  };
  static Result<std::unique_ptr<Tokenizer>> FromParts(Parts parts, const std::string& source);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Text to ids. add_special: BOS/EOS as the model's metadata says. parse_special: control
  // tokens written in the text (e.g. "<|im_start|>") become their ids; otherwise they are
  // plain text. User-defined tokens are always matched. Invalid UTF-8 becomes U+FFFD first.
  std::vector<int32_t> Encode(std::string_view text, bool add_special, bool parse_special) const;

  // Ids to text. skip_special drops control/unknown tokens. Out-of-range ids are skipped.
  // Invalid UTF-8 from byte tokens becomes U+FFFD (maximal subparts).
  std::string Decode(std::span<const int32_t> ids, bool skip_special) const;

  TokenizerKind kind() const { return kind_; }
  int32_t vocab_size() const { return vocab_.size(); }
  int32_t bos_id() const { return vocab_.bos_id; }
  int32_t eos_id() const { return vocab_.eos_id; }
  bool add_bos() const { return vocab_.add_bos; }
  bool add_eos() const { return vocab_.add_eos; }
  bool IsSpecial(int32_t id) const { return vocab_.IsSpecial(id); }
  // The token as the vocabulary stores it ("" for an out-of-range id).
  std::string_view TokenText(int32_t id) const;
  const Vocab& vocab() const { return vocab_; }

  // Bytes `id` contributes to a decode; `first_text` marks the first text token of a sequence,
  // whose SentencePiece dummy-prefix space is dropped. Used by StreamDecoder.
  void AppendTokenBytes(int32_t id, bool skip_special, bool* first_text, std::string* out) const;

 private:
  Tokenizer();
  // `at_start`: the fragment begins the input or follows a special token; `first`: it begins
  // the input.
  void EncodeText(std::string_view text, bool at_start, bool first,
                  std::vector<int32_t>* out) const;

  TokenizerKind kind_ = TokenizerKind::kSentencePiece;
  DummyPrefix prefix_rule_ = DummyPrefix::kEveryFragment;
  Vocab vocab_;
  bool nfc_ = false;
  std::unique_ptr<SpmModel> spm_;
  std::unique_ptr<ByteBpeModel> bpe_;
  std::unique_ptr<PreTokenizer> pre_;
  std::unique_ptr<SpecialTokenMatcher> always_matcher_;   // user-defined tokens
  std::unique_ptr<SpecialTokenMatcher> special_matcher_;  // user-defined + control tokens
};

// Incremental detokenization for streaming: Push(id) returns the text that is final after this
// id (never part of a UTF-8 sequence), Flush() the rest. The concatenation of all returns equals
// Tokenizer::Decode of the same ids.
class StreamDecoder {
 public:
  // `sequence_start`: the ids begin the sequence, so a SentencePiece dummy-prefix space on the
  // first text token is dropped (as Decode does). Pass false when streaming tokens generated
  // after a prompt, whose leading spaces are real.
  StreamDecoder(const Tokenizer& tokenizer, bool skip_special, bool sequence_start = true)
      : tokenizer_(tokenizer), skip_special_(skip_special), first_text_(sequence_start) {}
  std::string Push(int32_t id);
  std::string Flush();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  bool first_text_;
  std::string pending_;  // bytes of an incomplete UTF-8 sequence
};

}  // namespace hearth::tokenizer
