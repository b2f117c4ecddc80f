// Unicode text in one spelling: NFC (canonical composition), so that a name sent decomposed
// (NFD: macOS and SMB clients send file and tag names so; "が" as か + U+3099, a Hangul syllable
// as its jamo) compares equal to the same name stored composed. ICU's normaliser does it (ICU is
// already the service layer's, for confusable_names.cpp).
#pragma once
#include <string>
#include <string_view>

namespace clap::service {

// `utf8` in NFC. Text that is not well-formed UTF-8 is returned as it is (its bytes are what a
// byte-exact comparison needs); text of code points below U+0300 (ASCII, Latin-1, most tags) is
// NFC already and returned without ICU. A run of more than 30 combining marks (no language has
// one; UAX #15's Stream-Safe Text Format) is cut by U+034F first, so the time stays linear.
std::string composed(std::string_view utf8);

// False when `utf8` is NFC for sure without looking further (no code point of U+0300 or above):
// the cheap test a caller runs per track before paying for composed().
bool may_change_when_composed(std::string_view utf8);

}  // namespace clap::service
