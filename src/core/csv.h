// Reading the small text files the commands take: query files (one query per line: search
// --queries, analyze --queries, classify --labels) and RFC 4180 CSV files (eval's labels and
// captions files, rows "path,<value>"). Parsing takes the text, so it is tested and fuzzed
// without files; the readers add the file. Errors are clap::Error naming the file.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "core/text_file.h"  // read_text_file, for the readers below

namespace clap {

// `s` without leading and trailing ASCII white space; `s` with ASCII letters lower-cased.
std::string trim_space(const std::string& s);
std::string ascii_lower(std::string s);

// Lines of `text`, trimmed; blank lines and lines starting with '#' skipped. Throws when no
// query is left or a line is longer than kMaxQueryLineBytes (`where` names the file; `kind` is
// what its lines are, "queries" or "labels", as the messages name them).
inline constexpr size_t kMaxQueryLineBytes = 65536;
std::vector<std::string> parse_query_lines(const std::string& text, const std::string& where, const std::string& kind = "queries");
std::vector<std::string> read_query_file(const std::string& path, const std::string& kind = "queries");

// RFC 4180: quoted fields, "" escapes, CRLF, LF or CR line ends, an optional UTF-8 byte order
// mark; blank lines skipped. Throws on an unterminated quoted field.
using CsvRows = std::vector<std::vector<std::string>>;
CsvRows parse_csv(const std::string& text, const std::string& where);
CsvRows read_csv(const std::string& path);

// Rows "path,<value_name>" (eval's labels and captions files): a first row "path,<value_name>"
// (any case) is a header; every other row needs a non-empty path and value (extra columns are
// ignored). Cells are trimmed of spaces; paths are otherwise returned as written. Throws naming the row, or when there is no row.
struct CsvPair {
  std::string path;
  std::string value;
};
std::vector<CsvPair> csv_pairs(const CsvRows& rows, const std::string& where, const std::string& value_name);

}  // namespace clap
