// Python str operations over UTF-8 that jinja2 templates call. Case mapping covers ASCII only
// (non-ASCII letters pass through unchanged, where Python would map them).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model_loader/tokenizer/jinja_value.h"

namespace hearth::jinja {

std::string AsciiLower(std::string_view s);
std::string AsciiUpper(std::string_view s);
// str.strip/lstrip/rstrip: with `whitespace` strips Python's ASCII whitespace, else `chars`.
std::string Strip(std::string_view s, std::string_view chars, bool whitespace, bool left,
                  bool right);
// str.split(sep, maxsplit) / str.rsplit.
std::vector<std::string> SplitOn(std::string_view s, std::string_view sep, int64_t maxsplit,
                                 bool from_right);
// str.split() / str.rsplit() without a separator: runs of whitespace, ends dropped.
std::vector<std::string> SplitWhitespace(std::string_view s, int64_t maxsplit, bool from_right);
// str.title(): words are runs of letters.
std::string PythonTitle(std::string_view s);
// jinja2's |title filter: words split at whitespace, '-', and opening brackets.
std::string JinjaTitle(std::string_view s);
// str.capitalize(): first character upper, the rest lower.
std::string Capitalize(std::string_view s);
// str.replace(old, new, count); an error when the result would exceed the string limit.
Result<Value> ReplaceAll(std::string_view s, std::string_view from, std::string_view to,
                         int64_t count);

}  // namespace hearth::jinja
