// Regex pre-tokenization for byte-level BPE: a sequence of PCRE2 (JIT) patterns, each splitting
// every piece left by the previous one with Hugging Face's "Isolated" behaviour (matches and the
// gaps between them both become pieces). The named families are those of GGUF's
// tokenizer.ggml.pre; tokenizer.json configurations map onto the same representation.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/core/status.h"

namespace hearth::tokenizer {

struct PreTokenizerConfig {
  static constexpr size_t kNever = static_cast<size_t>(-1);
  std::vector<std::string> patterns;  // PCRE2 syntax, UTF + UCP; empty means "one piece"
  // Patterns from this index on see byte-mapped text (HF steps after ByteLevel, e.g. Falcon's
  // Digits, where the images of bytes 0xB2 0xB3 0xB9 0xBC-0xBE count as digits).
  size_t byte_mapped_from = kNever;
};

class PreTokenizer {
 public:
  // The configuration for a GGUF tokenizer.ggml.pre name ("gpt-2", "llama-bpe", "qwen2",
  // "smollm", ...), or Unimplemented naming the supported ones. `ignore_merges` reports the
  // family's BPE mode.
  static Result<PreTokenizerConfig> ForGgufName(std::string_view pre, bool* ignore_merges);

  static Result<std::unique_ptr<PreTokenizer>> Create(const PreTokenizerConfig& config);

  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Splits valid UTF-8 `text` into pieces (views into `text`), appended to `pieces`. Thread-safe.
  void Split(std::string_view text, std::vector<std::string_view>* pieces) const;

  const PreTokenizerConfig& config() const { return config_; }

 private:
  PreTokenizer() = default;
  struct Compiled;
  PreTokenizerConfig config_;
  std::vector<Compiled*> compiled_;
};

// The GPT-2 pattern (HF ByteLevel with use_regex=true).
extern const char* const kGpt2Pattern;

}  // namespace hearth::tokenizer
