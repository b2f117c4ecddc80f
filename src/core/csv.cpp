#include "core/csv.h"

#include <cctype>
#include <sstream>

#include "core/error.h"
#include "core/text_file.h"

namespace clap {

std::string trim_space(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

std::string ascii_lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}


std::vector<std::string> parse_query_lines(const std::string& text, const std::string& where, const std::string& kind) {
  std::istringstream in(text);
  std::vector<std::string> out;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    // A query is tokenised to at most 512 tokens; a longer line is not a query list.
    if (line.size() > kMaxQueryLineBytes)
      throw Error(where + ": line " + std::to_string(number) + " is longer than " + std::to_string(kMaxQueryLineBytes) +
                  " bytes (one " + (kind == "labels" ? "label" : "query") + " per line)");
    // Text holds no NUL byte: a regular file is read whole (read_text_file refuses a stream at its
    // first NUL), and a gzip-compressed list or a picture named by mistake was taken line by line
    // as queries or labels of binary garbage (hostile pass 13, H13C-3's sibling).
    if (const size_t nul = line.find('\0'); nul != std::string::npos)
      throw Error(where + ": line " + std::to_string(number) + " holds a NUL byte (byte " + std::to_string(nul) + " of the line): not text (one " +
                  (kind == "labels" ? "label" : "query") + " per line); is it the right file?");
    line = trim_space(line);
    if (line.empty() || line[0] == '#') continue;
    out.push_back(line);
  }
  if (out.empty()) throw Error(where + ": no " + kind + " in the file (one per line)");
  return out;
}

std::vector<std::string> read_query_file(const std::string& path, const std::string& kind) {
  return parse_query_lines(read_text_file(path, kind, kMaxTextFileBytes, TextSource::FileOrStream), path, kind);
}

CsvRows parse_csv(const std::string& s, const std::string& where) {
  CsvRows rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  size_t i = 0;
  if (s.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;  // UTF-8 byte order mark
  auto end_row = [&] {
    row.push_back(field);
    field.clear();
    if (!(row.size() == 1 && row[0].empty())) rows.push_back(row);  // blank line
    row.clear();
    any = false;
  };
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < s.size() && s[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
      any = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      end_row();
    } else {
      field += c;
      any = true;
    }
  }
  if (quoted) throw Error(where + ": unterminated quoted field");
  if (any || !field.empty() || !row.empty()) end_row();
  return rows;
}

CsvRows read_csv(const std::string& path) { return parse_csv(read_text_file(path, "CSV", kMaxTextFileBytes, TextSource::FileOrStream), path); }

// Cells are trimmed, as finetune's captions CSV is: "path, label" (a space after the comma, as
// people type a CSV) was not the header, so its row was read as a file named "path" (skipped)
// and a class " label", and " low" and "low" were two classes: exit 0 with the wrong number of
// labels and a wrong chance level (hostile pass 21, H21C-3).
std::vector<CsvPair> csv_pairs(const CsvRows& rows, const std::string& where, const std::string& value_name) {
  std::vector<CsvPair> out;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const std::string path = r.empty() ? "" : trim_space(r[0]), value = r.size() < 2 ? "" : trim_space(r[1]);
    if (i == 0 && ascii_lower(path) == "path" && ascii_lower(value) == value_name) continue;
    if (path.empty() || value.empty())
      throw Error(where + ": row " + std::to_string(i + 1) + ": expected path," + value_name);
    out.push_back({path, value});
  }
  if (out.empty()) throw Error(where + ": no rows (expected path," + value_name + ")");
  return out;
}

}  // namespace clap
