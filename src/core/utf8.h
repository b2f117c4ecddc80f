// UTF-8 checks shared by every layer that takes text from outside (the tokenizer, the server).
#pragma once
#include <string>
#include <string_view>

namespace clap {

// Replaces every maximal invalid subpart by U+FFFD (Unicode "best practice", which is what
// Python's bytes.decode("utf-8", errors="replace") does) into `out`. Returns false, leaving
// `out` alone, when `in` is already valid UTF-8.
bool sanitize_utf8(std::string_view in, std::string& out);

// Well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
inline bool is_valid_utf8(std::string_view s) {
  std::string unused;
  return !sanitize_utf8(s, unused);
}

}  // namespace clap
