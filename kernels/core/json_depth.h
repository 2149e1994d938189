// The nesting depth of JSON text, scanned before untrusted JSON (request bodies, a model's
// tokenizer.json, tokenizer_config.json, config.json, a safetensors header) is parsed. nlohmann's
// parser is iterative, but what walks the value afterwards is not: dump() (error messages quote
// values), comparisons and template rendering recurse once a level, so a value nested deep enough
// (a million levels: 2 MB) overflows the stack and takes the process down.
#pragma once

#include <string>
#include <string_view>

#include "kernels/core/status.h"

namespace hearth {

// The depth every parser of untrusted JSON accepts: real files and requests stay under 10 (a
// request's tool calls under 32 + 4, request_mapping.h).
inline constexpr int kMaxJsonDepth = 64;

// The deepest nesting of arrays and objects in `text`, brackets inside strings skipped (malformed
// text gives some number; the parser then refuses it).
inline int JsonDepth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// kInvalidArgument "<what>: nests JSON deeper than 64 levels" where `text` does, else OK.
inline Status CheckJsonDepth(std::string_view text, const std::string& what) {
  if (JsonDepth(text) <= kMaxJsonDepth) return Status::Ok();
  return InvalidArgumentError(what + ": nests JSON deeper than " + std::to_string(kMaxJsonDepth) +
                              " levels");
}

}  // namespace hearth
