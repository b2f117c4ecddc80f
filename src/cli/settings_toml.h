// The settings file's TOML (--config-file): the part of TOML a settings file needs, read
// exactly, and every other part refused naming its line. CLI11's own reader (2.1) read a
// multi-line string """...""" as a key `b"""`, cut a string at a '#' inside it, and kept escapes
// (\t, \u00e9, \\) as typed: a value the user did not write, or an error about another line.
//
// Taken: [section] headers (a bare or quoted name); `key = value` lines (a bare or quoted key);
// basic strings "..." with TOML's escapes, literal strings '...', multi-line strings """...""" and
// '''...''' (a newline right after the opening quotes dropped, a line-ending backslash in """
// joining lines, as TOML says), bare values (numbers, true/false, dates: passed as written, the
// option checks them), lists [...] of those over one or more lines, comments, a UTF-8 BOM.
// Refused, with the line and the reason: dotted keys (a.b = 1), dotted or nested sections
// ([a.b]), arrays of tables ([[a]]), inline tables ({ ... }), lists of lists, a key or section
// given twice, bad escapes, unterminated strings, text after a value.
#pragma once
#include <string>
#include <vector>

namespace clap::cli {

// A `key = value` line, or (key "") a [section] header, in file order.
struct SettingEntry {
  std::string section;              // "" for keys above the first [section] (and in [default])
  int section_line = 0;             // the line of its [section] header (0: none)
  std::string key;                  // "" for a [section] header
  std::vector<std::string> values;  // one, or a list's items, decoded
  bool list = false;                // written as [ ... ]
  std::string written;              // the value as written (its first line), for messages
  int line = 0;
};

// Throws clap::Error "line N: ..." for what it does not take.
std::vector<SettingEntry> parse_settings_toml(const std::string& text);

}  // namespace clap::cli
