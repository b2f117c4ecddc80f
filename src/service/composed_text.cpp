#include "service/composed_text.h"

#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <cstdint>
#include <vector>

namespace clap::service {

bool may_change_when_composed(std::string_view utf8) {
  // A UTF-8 lead byte of U+0300 or above is 0xCC or more; every code point below is NFC-stable.
  for (char c : utf8)
    if (static_cast<unsigned char>(c) >= 0xCC) return true;
  return false;
}

std::string composed(std::string_view utf8) {
  if (!may_change_when_composed(utf8) || utf8.size() > size_t(INT32_MAX / 4)) return std::string(utf8);
  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2* nfc = unorm2_getNFCInstance(&status);
  if (U_FAILURE(status)) return std::string(utf8);
  // UTF-8 -> UTF-16 (refusing malformed text) -> NFC -> UTF-8.
  int32_t wide_length = 0;
  u_strFromUTF8(nullptr, 0, &wide_length, utf8.data(), static_cast<int32_t>(utf8.size()), &status);
  if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(status)) return std::string(utf8);
  status = U_ZERO_ERROR;
  std::vector<UChar> wide(static_cast<size_t>(wide_length) + 1);
  u_strFromUTF8(wide.data(), static_cast<int32_t>(wide.size()), &wide_length, utf8.data(), static_cast<int32_t>(utf8.size()),
                &status);
  if (U_FAILURE(status)) return std::string(utf8);
  if (unorm2_isNormalized(nfc, wide.data(), wide_length, &status) && U_SUCCESS(status)) return std::string(utf8);
  status = U_ZERO_ERROR;
  // A first guess at the length (NFC is rarely longer than its input); the retry covers the rest.
  std::vector<UChar> out(static_cast<size_t>(wide_length) * 3 + 16);
  int32_t out_length = unorm2_normalize(nfc, wide.data(), wide_length, out.data(), static_cast<int32_t>(out.size()), &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) {
    status = U_ZERO_ERROR;
    out.resize(static_cast<size_t>(out_length) + 1);
    out_length = unorm2_normalize(nfc, wide.data(), wide_length, out.data(), static_cast<int32_t>(out.size()), &status);
  }
  if (U_FAILURE(status)) return std::string(utf8);
  int32_t narrow_length = 0;
  status = U_ZERO_ERROR;
  u_strToUTF8(nullptr, 0, &narrow_length, out.data(), out_length, &status);
  if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(status)) return std::string(utf8);
  status = U_ZERO_ERROR;
  std::string narrow(static_cast<size_t>(narrow_length), '\0');
  u_strToUTF8(narrow.data(), narrow_length, &narrow_length, out.data(), out_length, &status);  // no NUL: a warning
  if (U_FAILURE(status)) return std::string(utf8);
  return narrow;
}

}  // namespace clap::service
