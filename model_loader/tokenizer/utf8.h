// UTF-8 helpers shared by the tokenizers and the stream decoder. Invalid UTF-8 is handled one
// way everywhere: each maximal invalid subpart (Unicode's "substitution of maximal subparts",
// the rule Python's and Rust's lossy decoders follow) becomes U+FFFD.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hearth::tokenizer {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// Outcome of decoding one code point at a position.
struct Utf8Step {
  enum Kind : uint8_t { kValid, kInvalid, kTruncated } kind;
  size_t length;  // bytes consumed (kInvalid: the maximal invalid subpart; kTruncated: to end)
  char32_t code_point;  // valid only for kValid
};

// Decodes the code point starting at s[pos]. kTruncated means the bytes up to the end of `s`
// are a valid but incomplete prefix of a sequence (more bytes could complete it).
Utf8Step DecodeUtf8(std::string_view s, size_t pos);

void AppendUtf8(char32_t cp, std::string* out);

bool IsValidUtf8(std::string_view s);

// Replaces every invalid subpart (and a truncated tail) with U+FFFD.
std::string SanitizeUtf8(std::string_view s);

// Length of the longest prefix of `s` after which the rest is a truncated-but-valid sequence
// start, i.e. the bytes a streaming decoder may emit now. The remainder is < 4 bytes.
size_t CompleteUtf8Prefix(std::string_view s);

}  // namespace hearth::tokenizer
