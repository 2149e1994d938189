#include "model_loader/tokenizer/nfc.h"

#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <vector>

#include "kernels/core/check.h"

namespace hearth::tokenizer {

std::string NormalizeNfc(std::string_view text) {
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

}  // namespace hearth::tokenizer
