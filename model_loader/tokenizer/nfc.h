// Unicode NFC normalization (ICU), for tokenizer.json files whose normalizer is NFC (Qwen2).
#pragma once

#include <string>
#include <string_view>

namespace hearth::tokenizer {

// NFC form of valid UTF-8 `text`. ASCII-only text is returned as is without calling ICU.
std::string NormalizeNfc(std::string_view text);

}  // namespace hearth::tokenizer
