// Splits a Jinja2 template into text and tag tokens, applying the whitespace rules Hugging Face
// renders chat templates with: trim_blocks=True and lstrip_blocks=True, the explicit {%- -%}
// {{- -}} {#- -#} controls, + to opt out, and keep_trailing_newline=False.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kernels/core/status.h"

namespace hearth::jinja {

struct SourcePos {
  int line = 1;
  int col = 1;
  std::string ToString() const { return std::to_string(line) + ":" + std::to_string(col); }
};

struct Token {
  enum class Type {
    kText,        // literal template text (already whitespace-controlled)
    kVarBegin,    // {{
    kVarEnd,      // }}
    kBlockBegin,  // {%
    kBlockEnd,    // %}
    kName,
    kString,  // text holds the unescaped value
    kInt,
    kFloat,
    kOp,  // punctuation and operators: + - * / // % ** ~ == != < > <= >= = ( ) [ ] { } . , : |
    kEof,
  };
  Type type;
  std::string text;
  SourcePos pos;
};

// Templates larger than this are rejected before lexing.
inline constexpr size_t kMaxTemplateBytes = 1 << 20;

Result<std::vector<Token>> Tokenize(std::string_view source);

}  // namespace hearth::jinja
