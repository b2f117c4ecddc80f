// One line of text from a stored string that reaches a name: a playlist's, a label's, a file's;
// and a bounded excerpt of a value echoed in a message.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace clap {

// `in` as one line of text fit for a name shown or stored (a playlist's name, a label, a file
// name): valid UTF-8 (invalid bytes as U+FFFD), every control character (C0 with CR/LF/TAB, DEL,
// C1) as a space, at most `max_bytes` (cut at a character boundary), spaces trimmed at both ends.
std::string one_line_text(std::string_view in, size_t max_bytes);

// How much of a value given from outside (a tag, an export's field, a request's parameter) a
// message or report echoes: enough to recognise it. A 50 MB artist name in a history export was
// printed whole in the import's report, twice with --json (hostile pass 11, R11C-5).
inline constexpr size_t kEchoBytes = 200;

// `in` itself when it is at most `max_bytes`, else its first `max_bytes` (cut at a UTF-8
// character boundary) and "... (N bytes)", its control characters escaped (control_escaped).
std::string echo_excerpt(std::string_view in, size_t max_bytes = kEchoBytes);

// `in` with each control character (C0, NUL and line breaks included, and DEL) as the four
// characters \xNN: a value or a path named in a message. A message is read as a C string (what())
// by every front end, and Python's was cut at a NUL, leaving neither the rest of the name nor the
// reason (hostile pass 12, R12P-3); a path holding a line break printed as two lines, the second
// looking like another message (hostile pass 13, R13C-1). Bytes above 0x7F are left as they are.
std::string control_escaped(std::string_view in);

}  // namespace clap
