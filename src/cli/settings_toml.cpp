#include "cli/settings_toml.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>

#include "core/error.h"
#include "core/one_line_text.h"

namespace clap::cli {

namespace {

bool bare_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A cursor over the file that knows its line, for the messages.
class Reader {
 public:
  explicit Reader(const std::string& text) : s_(text) {}

  std::vector<SettingEntry> read() {
    refuse_control_characters();
    std::vector<SettingEntry> out;
    std::map<std::string, int> section_lines;
    std::map<std::string, int> key_lines;  // "section\nkey"
    std::string section;
    int section_line = 0;
    while (true) {
      skip_blank_lines();
      if (at_end()) break;
      const int line = line_;
      if (peek() == '[') {
        section = header();
        section_line = line;
        const auto [it, fresh] = section_lines.emplace(section, line);
        if (!fresh)
          fail(line, "a second [" + section + "] section (the first is at line " + std::to_string(it->second) +
                         "): give each command's settings in one section");
        SettingEntry start;
        start.section = section;
        start.section_line = start.line = line;
        out.push_back(std::move(start));
        continue;
      }
      SettingEntry e;
      e.section = section;
      e.section_line = section_line;
      e.line = line;
      e.key = key();
      const std::string where = section.empty() ? e.key : "[" + section + "] " + e.key;
      skip_spaces();
      if (peek() == '.')
        fail(line, where + ".…: a dotted key is not a setting (write the key in its [command] section: [" +
                       (section.empty() ? e.key : section) + "] then key = value)");
      if (peek() != '=') fail(line, where + ": '=' and a value expected after the key");
      ++pos_;
      skip_spaces();
      const size_t value_start = pos_;
      if (peek() == '{')
        fail(line, where + ": an inline table ({ ... }) is not a setting value (a string, a number, true/false or a [list])");
      if (peek() == '[') {
        e.list = true;
        list(where, e.values);
        if (e.values.empty()) fail(line, where + ": an empty list [] sets nothing (leave the key out)");
      } else {
        e.values.push_back(value(where));
      }
      const size_t value_end = pos_;
      e.written = s_.substr(value_start, value_end - value_start);
      if (const size_t nl = e.written.find('\n'); nl != std::string::npos) e.written = e.written.substr(0, nl) + " …";
      end_of_line(where);
      const auto [it, fresh] = key_lines.emplace(section + "\n" + e.key, line);
      if (!fresh)
        fail(line, where + " is set a second time in " + (section.empty() ? std::string("the top of the file") : "[" + section + "]") +
                       " (first at line " + std::to_string(it->second) + ")");
      out.push_back(std::move(e));
    }
    return out;
  }

 private:
  [[noreturn]] static void fail(int line, const std::string& why) { throw Error("line " + std::to_string(line) + ": " + why); }

  // TOML allows no control character but tab and the line ends, in strings, keys or comments.
  // A NUL in a string would cut the value where the option reads it (db = "lib.db<NUL>x" opened
  // lib.db), so none passes: each is refused naming its line and code.
  void refuse_control_characters() const {
    int line = 1;
    for (size_t i = 0; i < s_.size(); ++i) {
      const auto c = static_cast<unsigned char>(s_[i]);
      if (c == '\n') {
        ++line;
        continue;
      }
      if (c == '\t' || (c == '\r' && i + 1 < s_.size() && s_[i + 1] == '\n')) continue;
      if (c < 0x20 || c == 0x7F) {
        char code[8];
        std::snprintf(code, sizeof code, "U+%04X", c);
        fail(line, std::string("a control character (") + code +
                       ") in the file: settings hold none (a line break in a value is written \\n in a \"...\" string)");
      }
    }
  }

  bool at_end() const { return pos_ >= s_.size(); }
  char peek(size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }
  bool starts(const char* t) const { return s_.compare(pos_, std::char_traits<char>::length(t), t) == 0; }

  void skip_spaces() {
    while (!at_end() && (peek() == ' ' || peek() == '\t')) ++pos_;
  }
  void skip_comment() {
    if (peek() == '#')
      while (!at_end() && peek() != '\n') ++pos_;
  }
  // A line end (LF or CRLF); false when none is here.
  bool newline() {
    if (peek() == '\r' && peek(1) == '\n') ++pos_;
    if (peek() != '\n') return false;
    ++pos_;
    ++line_;
    return true;
  }
  void skip_blank_lines() {
    for (;;) {
      skip_spaces();
      skip_comment();
      if (!newline()) return;
    }
  }
  void end_of_line(const std::string& where) {
    skip_spaces();
    skip_comment();
    if (at_end() || newline()) return;
    std::string rest = s_.substr(pos_, s_.find('\n', pos_) - pos_);
    if (!rest.empty() && rest.back() == '\r') rest.pop_back();
    fail(line_, where + ": text after the value: " + echo_excerpt(rest) + " (one value a line; a text with spaces is written in quotes)");
  }

  std::string header() {
    const int line = line_;
    if (starts("[[")) {
      std::string text = s_.substr(pos_, s_.find('\n', pos_) - pos_);
      if (!text.empty() && text.back() == '\r') text.pop_back();
      fail(line, echo_excerpt(text) + ": arrays of tables are not settings (one [command] section per command)");
    }
    ++pos_;
    skip_spaces();
    const std::string name = key();
    skip_spaces();
    if (peek() == '.')
      fail(line, "[" + name + ".…]: a section is one command's name ([serve], [index], ...), not a table inside one");
    if (peek() != ']') fail(line, "a section header is [name] (a command's name)");
    ++pos_;
    end_of_line("[" + name + "]");
    return name == "default" ? "" : name;  // CLI11's name for the top of the file
  }

  std::string key() {
    if (peek() == '"' || peek() == '\'') {
      if (starts("\"\"\"") || starts("'''")) fail(line_, "a key is a name, not a multi-line string");
      const int line = line_;
      std::string name = peek() == '"' ? basic("a key") : literal("a key");
      // A key is an option's or a command's name: a quoted one holding anything else ("",
      // "a.b", "++") named no setting, and "--"/"++" are CLI11's own marks for a section's end
      // and start, so such a key was dropped in silence (or misnamed as a section).
      if (name.empty() || !std::all_of(name.begin(), name.end(), bare_key_char))
        fail(line, "\"" + echo_excerpt(name) + "\" is not a setting's name (letters, digits, '-' and '_')");
      check_name(name, line);
      return name;
    }
    const size_t start = pos_;
    while (!at_end() && bare_key_char(peek())) ++pos_;
    if (pos_ == start) {
      std::string text = s_.substr(pos_, s_.find('\n', pos_) - pos_);
      if (!text.empty() && text.back() == '\r') text.pop_back();
      fail(line_, "'" + echo_excerpt(text) + "' is not a setting (key = value, or a [section])");
    }
    std::string name = s_.substr(start, pos_ - start);
    check_name(name, line_);
    return name;
  }

  // A name of dashes only ("--" is CLI11's mark for a section's end) names no option.
  static void check_name(const std::string& name, int line) {
    // No option's name is near this long; a longer one is refused here, shown in part, rather
    // than echoed whole (up to the file's 1 MB) by every later message that names the key.
    if (name.size() > kEchoBytes)
      fail(line, "'" + echo_excerpt(name) + "' is not a setting's name (the keys are the command's long options)");
    if (name.find_first_not_of('-') == std::string::npos)
      fail(line, "'" + name + "' is not a setting's name (the keys are the command's long options, without the dashes)");
  }

  std::string value(const std::string& where) {
    if (starts("\"\"\"")) return multiline_basic(where);
    if (starts("'''")) return multiline_literal(where);
    if (peek() == '"') return basic(where);
    if (peek() == '\'') return literal(where);
    if (peek() == '{')
      fail(line_, where + ": an inline table ({ ... }) is not a setting value (a string, a number, true/false or a [list])");
    if (peek() == '[') fail(line_, where + ": a list of lists is not a setting value");
    // A bare value: a number, true/false or a date, passed on as written (the option checks it).
    const size_t start = pos_;
    while (!at_end() && peek() != ' ' && peek() != '\t' && peek() != '\r' && peek() != '\n' && peek() != '#' && peek() != ',' &&
           peek() != ']')
      ++pos_;
    if (pos_ == start) fail(line_, where + ": a value is missing after '='");
    return bare_number(s_.substr(start, pos_ - start), where);
  }

  // TOML writes a long number with underscores between its digits (1_000, 2.5e1_0); the options
  // read plain digits, so they are taken out ("1_0 is not a finite number" before). Anything else
  // (a date, a hex number) is passed on as written.
  std::string bare_number(std::string token, const std::string& where) const {
    if (token.find('_') == std::string::npos || token.find_first_not_of("0123456789_+-.eE") != std::string::npos) return token;
    const auto digit = [&](size_t i) { return i < token.size() && token[i] >= '0' && token[i] <= '9'; };
    for (size_t i = 0; i < token.size(); ++i)
      if (token[i] == '_' && (i == 0 || !digit(i - 1) || !digit(i + 1)))
        fail(line_, where + ": " + echo_excerpt(token) + " is not a TOML number (an underscore stands between two digits)");
    token.erase(std::remove(token.begin(), token.end(), '_'), token.end());
    return token;
  }

  void list(const std::string& where, std::vector<std::string>& values) {
    const int line = line_;
    ++pos_;  // '['
    for (;;) {
      skip_blank_lines();
      if (at_end()) fail(line, where + ": the list [ is not closed with ]");
      if (peek() == ']') {
        ++pos_;
        return;
      }
      values.push_back(value(where));
      skip_blank_lines();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') continue;
      if (at_end()) fail(line, where + ": the list [ is not closed with ]");
      fail(line_, where + ": ',' or ']' expected in the list");
    }
  }

  // One escape after a backslash in a basic string (TOML's set); appends its text.
  void escape(std::string& out, const std::string& where) {
    const char c = peek();
    ++pos_;
    switch (c) {
      case 'b': out += '\b'; return;
      case 't': out += '\t'; return;
      case 'n': out += '\n'; return;
      case 'f': out += '\f'; return;
      case 'r': out += '\r'; return;
      case '"': out += '"'; return;
      case '\\': out += '\\'; return;
      case 'u':
      case 'U': {
        const size_t digits = c == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (size_t i = 0; i < digits; ++i) {
          const char h = peek();
          const int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
          if (v < 0) fail(line_, where + ": \\" + std::string(1, c) + " takes " + std::to_string(digits) + " hex digits");
          cp = cp * 16 + static_cast<uint32_t>(v);
          ++pos_;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0)
          fail(line_, where + ": \\" + std::string(1, c) + " names no character a setting can hold");
        append_utf8(out, cp);
        return;
      }
      default:
        fail(line_, where + ": a bad escape \\" + std::string(1, c) +
                        " in a \"...\" string (\\\\ for a backslash; or write the text in '...', which takes it as it is)");
    }
  }

  std::string basic(const std::string& where) {
    const int line = line_;
    ++pos_;
    std::string out;
    for (;;) {
      if (at_end() || peek() == '\n' || peek() == '\r')
        fail(line, where + ": the string \" is not closed on its line (\"\"\" starts a multi-line string)");
      const char c = peek();
      ++pos_;
      if (c == '"') return out;
      if (c == '\\') escape(out, where);
      else out += c;
    }
  }

  std::string literal(const std::string& where) {
    const int line = line_;
    ++pos_;
    const size_t start = pos_;
    while (!at_end() && peek() != '\'' && peek() != '\n' && peek() != '\r') ++pos_;
    if (peek() != '\'') fail(line, where + ": the string ' is not closed on its line (''' starts a multi-line string)");
    ++pos_;
    return s_.substr(start, pos_ - 1 - start);
  }

  // The closing quotes of a multi-line string: up to two more quotes before them are text.
  size_t closing_run(char quote) const {
    size_t n = 0;
    while (peek(n) == quote) ++n;
    return n;
  }

  std::string multiline_basic(const std::string& where) {
    const int line = line_;
    pos_ += 3;
    newline();  // a newline right after the opening quotes is not part of the text
    std::string out;
    for (;;) {
      if (at_end()) fail(line, where + ": the multi-line string \"\"\" is not closed");
      if (peek() == '"' && closing_run('"') >= 3) {
        const size_t run = closing_run('"');
        if (run > 5) fail(line_, where + ": too many quotes closing the multi-line string");
        out.append(run - 3, '"');
        pos_ += run;
        return out;
      }
      if (peek() == '\\') {
        // A backslash ending its line joins the next non-blank text to this one.
        size_t ahead = 1;
        while (peek(ahead) == ' ' || peek(ahead) == '\t') ++ahead;
        if (peek(ahead) == '\n' || (peek(ahead) == '\r' && peek(ahead + 1) == '\n')) {
          pos_ += ahead;
          while (newline() || peek() == ' ' || peek() == '\t')
            if (peek() == ' ' || peek() == '\t') ++pos_;
          continue;
        }
        ++pos_;
        escape(out, where);
        continue;
      }
      if (peek() == '\r' && peek(1) == '\n') ++pos_;
      if (peek() == '\n') ++line_;
      out += peek();
      ++pos_;
    }
  }

  std::string multiline_literal(const std::string& where) {
    const int line = line_;
    pos_ += 3;
    newline();
    std::string out;
    for (;;) {
      if (at_end()) fail(line, where + ": the multi-line string ''' is not closed");
      if (peek() == '\'' && closing_run('\'') >= 3) {
        const size_t run = closing_run('\'');
        if (run > 5) fail(line_, where + ": too many quotes closing the multi-line string");
        out.append(run - 3, '\'');
        pos_ += run;
        return out;
      }
      if (peek() == '\r' && peek(1) == '\n') ++pos_;
      if (peek() == '\n') ++line_;
      out += peek();
      ++pos_;
    }
  }

  const std::string& s_;
  size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace

std::vector<SettingEntry> parse_settings_toml(const std::string& text) { return Reader(text).read(); }

}  // namespace clap::cli
