#include "model_loader/tokenizer/nfc.h"

#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <algorithm>
#include <vector>

#include "kernels/core/check.h"

namespace hearth::tokenizer {

namespace {

std::string NormalizeChunk(std::string_view text);

// ICU takes int32 lengths: huge inputs go through in pieces cut just before an ASCII byte, which
// is always an NFC boundary (no canonical composition has an ASCII second element).
constexpr size_t kMaxChunk = size_t{64} << 20;

}  // namespace

std::string NormalizeNfc(std::string_view text) {
  if (text.size() <= kMaxChunk) return NormalizeChunk(text);
  std::string out;
  while (!text.empty()) {
    size_t cut = std::min(text.size(), kMaxChunk);
    if (cut < text.size()) {
      size_t ascii = cut;
      while (ascii > 0 && static_cast<unsigned char>(text[ascii]) >= 0x80) --ascii;
      // No ASCII at all: cut at a code point boundary (NFC may differ there; never seen).
      if (ascii == 0) {
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
      } else {
        cut = ascii;
      }
    }
    out += NormalizeChunk(text.substr(0, cut));
    text.remove_prefix(cut);
  }
  return out;
}

namespace {

std::string NormalizeChunk(std::string_view text) {
  bool ascii = true;
  for (const char c : text) ascii &= static_cast<unsigned char>(c) < 0x80;
  if (ascii) return std::string(text);

  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2* nfc = unorm2_getNFCInstance(&status);
  HEARTH_CHECK(U_SUCCESS(status));
  // UTF-8 -> UTF-16 (ICU's normalizer works on UTF-16), normalize, and back.
  std::vector<UChar> utf16(text.size() + 1);
  int32_t utf16_len = 0;
  u_strFromUTF8(utf16.data(), static_cast<int32_t>(utf16.size()), &utf16_len, text.data(),
                static_cast<int32_t>(text.size()), &status);
  HEARTH_CHECK(U_SUCCESS(status));
  if (unorm2_isNormalized(nfc, utf16.data(), utf16_len, &status) && U_SUCCESS(status)) {
    return std::string(text);
  }
  status = U_ZERO_ERROR;
  // NFC can grow a string by at most 3x (Unicode's stated bound).
  std::vector<UChar> normalized(static_cast<size_t>(utf16_len) * 3 + 1);
  const int32_t normalized_len = unorm2_normalize(nfc, utf16.data(), utf16_len, normalized.data(),
                                                  static_cast<int32_t>(normalized.size()), &status);
  HEARTH_CHECK(U_SUCCESS(status));
  std::string out(static_cast<size_t>(normalized_len) * 3 + 1, '\0');
  int32_t out_len = 0;
  u_strToUTF8(out.data(), static_cast<int32_t>(out.size()), &out_len, normalized.data(),
              normalized_len, &status);
  HEARTH_CHECK(U_SUCCESS(status));
  out.resize(out_len);
  return out;
}

}  // namespace

}  // namespace hearth::tokenizer
