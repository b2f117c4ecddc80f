// One line of text from a stored string that reaches a name: a playlist's, a label's, a file's.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace clap {

// `in` as one line of text fit for a name shown or stored (a playlist's name, a label, a file
// name): valid UTF-8 (invalid bytes as U+FFFD), every control character (C0 with CR/LF/TAB, DEL,
// C1) as a space, at most `max_bytes` (cut at a character boundary), spaces trimmed at both ends.
std::string one_line_text(std::string_view in, size_t max_bytes);

}  // namespace clap
