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

class PreTokenizer {
 public:
  // Patterns for a GGUF tokenizer.ggml.pre name ("gpt-2", "llama-bpe", "qwen2", "smollm", ...),
  // or Unimplemented naming the supported ones. `ignore_merges` reports the family's BPE mode.
  static Result<std::vector<std::string>> PatternsForGgufName(std::string_view pre,
                                                             bool* ignore_merges);

  // Compiles the patterns (PCRE2 syntax, UTF + UCP). An empty list means "one piece".
  static Result<std::unique_ptr<PreTokenizer>> Create(const std::vector<std::string>& patterns);

  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Splits valid UTF-8 `text` into pieces (views into `text`), appended to `pieces`. Thread-safe.
  void Split(std::string_view text, std::vector<std::string_view>* pieces) const;

  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  PreTokenizer() = default;
  struct Compiled;
  std::vector<std::string> patterns_;
  std::vector<Compiled*> compiled_;
};

// The GPT-2 pattern (HF ByteLevel with use_regex=true).
extern const char* const kGpt2Pattern;

}  // namespace hearth::tokenizer
