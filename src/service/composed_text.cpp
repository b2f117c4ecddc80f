#include "service/composed_text.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <cstdint>
#include <vector>


namespace clap::service {
namespace {

// UAX #15's Stream-Safe Text Format (section 13): U+034F COMBINING GRAPHEME JOINER before a 31st
// non-starter in a row. ICU puts a run of non-starters in canonical order by insertion, so its
// cost grows with the square of the run: a name of 80,000 alternating U+0301 U+0327 took 29 s to
// compose, and a `history import` of listens with such names (or a Subsonic query of a megabyte)
// ran for hours (hostile pass 12, H12C-4). No text of any language has more than 30 combining
// marks on one character (the bound is UAX #15's for that reason), so real text is unchanged.
// Counted on the canonical decomposition of each code point (a precomposed letter brings its
// marks; U+0F73 is two non-starters while its own class is 0), as the UAX counts them.
std::vector<UChar> stream_safe(const std::vector<UChar>& in, int32_t length, const UNormalizer2* nfd) {
  constexpr int kMaxNonStarters = 30;
  std::vector<UChar> out;
  out.reserve(static_cast<size_t>(length) + 16);
  int run = 0;
  UChar decomposition[32];
  for (int32_t i = 0; i < length;) {
    const int32_t start = i;
    UChar32 c;
    U16_NEXT(in.data(), i, length, c);
    UErrorCode status = U_ZERO_ERROR;
    int32_t n = unorm2_getDecomposition(nfd, c, decomposition, 32, &status);
    int leading = 0, trailing = 0;
    bool starter_seen = false;
    const auto note = [&](UChar32 d) {
      if (u_getCombiningClass(d) == 0) {
        starter_seen = true;
        trailing = 0;
      } else {
        if (!starter_seen) ++leading;
        ++trailing;
      }
    };
    if (U_FAILURE(status) || n < 0) {
      note(c);
    } else {
      for (int32_t k = 0; k < n;) {
        UChar32 d;
        U16_NEXT(decomposition, k, n, d);
        note(d);
      }
    }
    if (run + leading > kMaxNonStarters) {
      out.push_back(0x034F);
      run = 0;
    }
    run = starter_seen ? trailing : run + leading;
    out.insert(out.end(), in.begin() + start, in.begin() + i);
  }
  return out;
}

}  // namespace

bool may_change_when_composed(std::string_view utf8) {
  // A UTF-8 lead byte of U+0300 or above is 0xCC or more; every code point below is NFC-stable.
  for (char c : utf8)
    if (static_cast<unsigned char>(c) >= 0xCC) return true;
  return false;
}

namespace {

// Whether `utf8` is ill-formed, or may hold a run of more than 30 non-starters, counted on the
// canonical decompositions as stream_safe counts them. An overestimate, one combining-class
// lookup a code point: a non-starter counts 2 (U+0344 decomposes to two marks), as do U+0F73,
// U+0F75 and U+0F81 (starters whose decompositions are two non-starters), and any other code point
// from U+0300 on may end with up to 3 marks (Greek U+1F87). It only sends a text to the exact
// stream-safe path below.
// Kana (but its two voicing marks), CJK ideographs and Hangul syllables: starters, none of whose
// decompositions begins with a mark; most text past U+0300 in a music library is here, and skips
// the combining-class lookup (ComposedText.TheStartersTakenWithoutALookupAreStarters checks it).
bool is_starter_without_marks(UChar32 c) {
  return (c >= 0x3040 && c <= 0x9FFF && c != 0x3099 && c != 0x309A) || (c >= 0xAC00 && c <= 0xD7A3);
}

enum class Scan { Plain, LongRun, Malformed };
Scan scan(std::string_view utf8) {
  constexpr int kMaxNonStarters = 30;
  const auto* bytes = reinterpret_cast<const uint8_t*>(utf8.data());
  const auto length = static_cast<int32_t>(utf8.size());
  int run = 0;
  bool long_run = false;
  for (int32_t i = 0; i < length;) {
    UChar32 c;
    U8_NEXT(bytes, i, length, c);  // c < 0: ill-formed (overlong, surrogate, cut short, past U+10FFFF)
    if (c < 0) return Scan::Malformed;
    if (c < 0x300)
      run = 0;
    else if (is_starter_without_marks(c))
      run = 3;  // conservative: the counting below would say 3 too, after a lookup
    else if (u_getCombiningClass(c) != 0 || c == 0x0F73 || c == 0x0F75 || c == 0x0F81)
      run += 2;
    else
      run = 3;
    if (run > kMaxNonStarters) long_run = true;
  }
  return long_run ? Scan::LongRun : Scan::Plain;
}

// NFC of well-formed `utf8` made stream-safe first (stream_safe above): linear however long its
// runs of marks are. UTF-8 -> UTF-16 -> stream-safe -> NFC -> UTF-8.
std::string composed_stream_safe(std::string_view utf8) {
  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2* nfc = unorm2_getNFCInstance(&status);
  const UNormalizer2* nfd = unorm2_getNFDInstance(&status);
  if (U_FAILURE(status)) return std::string(utf8);
  int32_t wide_length = 0;
  u_strFromUTF8(nullptr, 0, &wide_length, utf8.data(), static_cast<int32_t>(utf8.size()), &status);
  if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(status)) return std::string(utf8);
  status = U_ZERO_ERROR;
  std::vector<UChar> wide(static_cast<size_t>(wide_length) + 1);
  u_strFromUTF8(wide.data(), static_cast<int32_t>(wide.size()), &wide_length, utf8.data(), static_cast<int32_t>(utf8.size()),
                &status);
  if (U_FAILURE(status)) return std::string(utf8);
  std::vector<UChar> safe = stream_safe(wide, wide_length, nfd);
  const auto safe_length = static_cast<int32_t>(safe.size());
  // A first guess at the length (NFC is rarely longer than its input); the retry covers the rest.
  std::vector<UChar> out(static_cast<size_t>(safe_length) * 3 + 16);
  int32_t out_length = unorm2_normalize(nfc, safe.data(), safe_length, out.data(), static_cast<int32_t>(out.size()), &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) {
    status = U_ZERO_ERROR;
    out.resize(static_cast<size_t>(out_length) + 1);
    out_length = unorm2_normalize(nfc, safe.data(), safe_length, out.data(), static_cast<int32_t>(out.size()), &status);
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

}  // namespace

std::string composed(std::string_view utf8) {
  if (!may_change_when_composed(utf8) || utf8.size() > size_t(INT32_MAX / 4)) return std::string(utf8);
  const Scan found = scan(utf8);
  if (found == Scan::Malformed) return std::string(utf8);  // its bytes are what a byte-exact comparison needs
  // ICU orders a run of non-starters by insertion, in time square in the run (its isNormalized
  // too: 80,000 marks took 29 s, H12C-4): such a text is made stream-safe first.
  if (found == Scan::LongRun) return composed_stream_safe(utf8);
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) return std::string(utf8);
  const icu::StringPiece piece(utf8.data(), static_cast<int32_t>(utf8.size()));
  // Most names are NFC already: checked on the UTF-8 itself, without converting to UTF-16 and
  // back (2-3 times faster on kana names, which every filtered query over such a library checks).
  if (nfc->isNormalizedUTF8(piece, status) && U_SUCCESS(status)) return std::string(utf8);
  status = U_ZERO_ERROR;
  std::string out;
  icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(utf8.size()));
  nfc->normalizeUTF8(0, piece, sink, nullptr, status);
  if (U_FAILURE(status)) return std::string(utf8);
  return out;
}

}  // namespace clap::service
