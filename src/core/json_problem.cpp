#include "core/json_problem.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace clap {

namespace {

// Why a text inside the JSON was refused, from nlohmann's "invalid string: ...; last read: ..."
// words; "" for another problem. The place alone ("not JSON here (at " ")") left a Latin-1 é, a
// lone \ud800 or a raw NUL unexplained (hostile pass 16, H16S-3); the fix the user can make is
// said with it.
std::string string_problem(const std::string& what) {
  const std::string tag = "invalid string: ";
  // nlohmann's own words end at its first "; last read: '...'", which quotes the text itself: a
  // text holding "invalid string: " was read as nlohmann's words and its bytes (a DEL) put into
  // the one-line message (found by fuzz_json_text).
  const std::string own = what.substr(0, what.find("; last read"));
  const size_t from = own.find(tag);
  if (from == std::string::npos) return "";
  const std::string words = own.substr(from + tag.size());
  if (words.rfind("missing closing quote", 0) == 0) return "";  // a text cut short: said as such
  if (words.rfind("ill-formed UTF-8", 0) == 0)
    return "a text holds bytes that are not UTF-8 (ill-formed UTF-8, e.g. Latin-1 or Windows-1252): save the file as UTF-8";
  if (words.rfind("surrogate", 0) == 0)
    return "a text holds a lone surrogate (a \\uD800-\\uDFFF escape without its other half, which is no character; " +
           words + "): save the file as UTF-8";
  if (words.rfind("control character", 0) == 0)
    return "a text holds a raw control character (" + words + "): save the file as UTF-8 JSON, which writes it escaped";
  return "a text is not valid JSON (" + words + ")";
}

}  // namespace

std::string json_problem(std::string_view text, const std::exception& e) {
  const auto* parse = dynamic_cast<const nlohmann::json::parse_error*>(&e);
  if (!parse) {
    if (dynamic_cast<const nlohmann::json::out_of_range*>(&e)) return "a number beyond the range JSON's numbers are read in";
    std::string what = e.what();  // nlohmann's "[json.exception.type_error.316] ...": the words after the tag
    if (const size_t tag = what.find("] "); what.rfind("[json.exception.", 0) == 0 && tag != std::string::npos) what.erase(0, tag + 2);
    return what;
  }
  // nlohmann's byte count is of the bytes read, the failing one last: the value around it.
  const size_t at = parse->byte > 0 ? std::min<size_t>(parse->byte - 1, text.size()) : 0;
  const auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.'; };
  size_t start = at, end = at;
  while (start > 0 && start > at - std::min<size_t>(at, 24) && word(text[start - 1])) --start;
  while (end < text.size() && end < start + 24 && word(text[end])) ++end;
  const std::string token(text.substr(start, end - start));
  std::string bare = token;
  if (!bare.empty() && (bare[0] == '-' || bare[0] == '+')) bare.erase(0, 1);
  std::transform(bare.begin(), bare.end(), bare.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // "column C" on one line (a line of a JSON-lines file), "line L, column C" in a whole file.
  const auto place = [&](size_t pos) {
    const size_t line_start = pos == 0 ? std::string_view::npos : text.rfind('\n', pos - 1);
    const size_t col = pos - (line_start == std::string_view::npos ? 0 : line_start + 1) + 1;
    if (text.find('\n') == std::string_view::npos) return "column " + std::to_string(col) + ": ";
    return "line " + std::to_string(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n') + 1) +
           ", column " + std::to_string(col) + ": ";
  };
  const std::string column = place(start);
  if (bare == "nan" || bare == "inf" || bare == "infinity")
    return column + token + " is not a JSON number (JSON has no NaN or infinity)";
  if (std::string why = string_problem(parse->what()); !why.empty()) return place(at) + why;
  if (at >= text.size() || text.find_first_not_of(" \t\r\n", at) == std::string_view::npos)
    return place(at) + "the text ends inside a value (cut short?)";
  const std::string shown = token.empty() ? std::string(1, text[at]) : token;
  bool printable = true;
  for (const unsigned char c : shown) printable &= c >= 0x20 && c < 0x7F;
  return column + "not JSON here" + (printable ? " (at \"" + shown + "\")" : "");
}

std::string json_echo(const nlohmann::json& value, size_t max_bytes) {
  using json = nlohmann::json;
  // The text is counted whole (the excerpt says how long it is) but kept only as far as the
  // excerpt shows, plus a character's bytes to cut it at a character boundary.
  const size_t keep = max_bytes + 4;
  std::string kept;
  uint64_t total = 0;
  const auto put = [&](std::string_view s) {
    total += s.size();
    if (kept.size() < keep) kept.append(s.substr(0, keep - kept.size()));
  };
  const auto leaf = [](const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); };
  // Each open array or object and where its walk is: an explicit stack, not the call stack.
  struct Open {
    const json* value;
    json::const_iterator next;
    bool first = true;
  };
  std::vector<Open> open;
  const auto enter = [&](const json& v) {
    if (v.is_array() || v.is_object()) {
      put(v.is_array() ? "[" : "{");
      open.push_back({&v, v.cbegin()});
    } else {
      put(leaf(v));
    }
  };
  enter(value);
  while (!open.empty()) {
    Open& o = open.back();
    if (o.next == o.value->cend()) {
      put(o.value->is_array() ? "]" : "}");
      open.pop_back();
      continue;
    }
    if (!o.first) put(",");
    o.first = false;
    const json& item = *o.next;
    if (o.value->is_object()) {
      put(leaf(json(o.next.key())));
      put(":");
    }
    ++o.next;  // before enter(), which may grow `open` and move `o`
    enter(item);
  }
  if (total <= max_bytes) return control_escaped(kept);
  size_t cut = max_bytes;
  // Back to the start of a character, as echo_excerpt cuts.
  while (cut > 0 && (static_cast<unsigned char>(kept[cut]) & 0xC0) == 0x80) --cut;
  return control_escaped(std::string_view(kept).substr(0, cut)) + "... (" + std::to_string(total) + " bytes)";
}

}  // namespace clap
