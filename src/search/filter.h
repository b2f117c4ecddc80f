// Filters on a track's stored metadata (`--where`, the REST `where` parameter): a small
// expression language parsed once into a tree and evaluated per track. Pure code: the service
// layer fills FilterFields from a store::Track (service/filters.h) and decides which tracks a
// query may rank.
//
// Grammar (keywords and field names case-insensitive):
//   expr       := or
//   or         := and ("or" and)*
//   and        := unary ("and" unary)*
//   unary      := "not" unary | "(" expr ")" | comparison
//   comparison := FIELD op value | FIELD ["not"] "in" "(" value ("," value)* ")"
//   op         := "=" | "!=" | "<" | "<=" | ">" | ">=" | "~"
//   value      := STRING ("..." with \" \\ \n \t escapes) | NUMBER (12, 3.5, or m:ss / h:mm:ss)
// Precedence: not > and > or. Text fields take strings, number fields numbers (a mismatch is a
// parse error, so a typo never silently matches nothing).
//
// Text fields: artist, album, album_artist, genre, title, date, format (the file extension,
// without the dot). Their = != < <= > >= and `in` compare with ASCII letters folded to lower
// case; `~` is a case-insensitive "contains". Path fields (case-sensitive, as the file system
// is): path (the absolute path; `~` is still a case-insensitive contains) and folder
// (`folder = "/music/jazz"`: the track is in that folder or below it; only = and !=).
// Number fields: year (the first four digits of the date), duration (seconds; 4:30 = 270),
// track (the track number), speech (the stored speech/music score in [0, 1], index/speech.h).
// A track without a year, a track number (0) or a speech score matches no comparison on it,
// except != and `not in`, which are the negations of = and `in`.
//
// Exposed to the network: the text is at most kMaxFilterLength bytes and nests at most
// kMaxFilterDepth levels (parentheses and `not`), so parsing and evaluating are bounded.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

namespace clap::search {

inline constexpr size_t kMaxFilterLength = 4096;
inline constexpr int kMaxFilterDepth = 32;

// What a filter reads of a track (views into the caller's strings, valid during matches()).
struct FilterFields {
  std::string_view artist, album, album_artist, genre, title, date, path;
  double duration_s = 0;
  int track_no = 0;
  double speech = -1;  // in [0, 1]; below 0: none stored
};

// A bad expression: the message names the reason and the 1-based column (in characters) and
// shows the expression with a caret under that column, on lines of their own.
class FilterError : public InvalidArgument {
 public:
  FilterError(const std::string& message, int column) : InvalidArgument(message), column_(column) {}
  int column() const { return column_; }

 private:
  int column_;
};

// The texts of FilterFields an expression reads. A caller that prepares each track's texts before
// matching (composes them to NFC: service/filters.cpp) prepares only these: on a library of
// non-Latin names that is most of a filtered query's time.
struct TextFieldsRead {
  bool artist = false, album = false, album_artist = false, genre = false, title = false, date = false, path = false;
};

struct FilterNode;

class Filter {
 public:
  Filter() = default;  // matches every track
  // Throws FilterError.
  static Filter parse(std::string_view text);

  bool matches(const FilterFields& track) const;
  bool empty() const { return !root_; }
  const std::string& text() const { return text_; }
  const TextFieldsRead& text_fields_read() const { return read_; }

 private:
  std::shared_ptr<const FilterNode> root_;  // immutable: copies share it, concurrent matches are safe
  std::string text_;
  TextFieldsRead read_;
};

// The field names, comma-separated (for messages and docs).
std::string filter_field_list();

}  // namespace clap::search
