#include "search/filter.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <variant>
#include <vector>

#include "core/utf8.h"

namespace clap::search {

namespace {

enum class Field { Artist, Album, AlbumArtist, Genre, Title, Date, Format, Path, Folder, Year, Duration, Track, Speech };
enum class Kind { Text, Path, Folder, Number };

struct FieldInfo {
  const char* name;
  Field field;
  Kind kind;
};

constexpr FieldInfo kFields[] = {
    {"artist", Field::Artist, Kind::Text},   {"album", Field::Album, Kind::Text},
    {"album_artist", Field::AlbumArtist, Kind::Text}, {"genre", Field::Genre, Kind::Text},
    {"title", Field::Title, Kind::Text},     {"date", Field::Date, Kind::Text},
    {"format", Field::Format, Kind::Text},   {"path", Field::Path, Kind::Path},
    {"folder", Field::Folder, Kind::Folder}, {"year", Field::Year, Kind::Number},
    {"duration", Field::Duration, Kind::Number}, {"track", Field::Track, Kind::Number},
    {"speech", Field::Speech, Kind::Number},
};

enum class Op { Eq, Ne, Lt, Le, Gt, Ge, Contains, In, NotIn };

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

// <0, 0, >0 as `a` (folded here) sorts before, equal to, after `b` (already folded).
int compare_folded(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(lower(a[i])), y = static_cast<unsigned char>(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

bool contains_folded(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() && lower(hay[i + j]) == needle[j]) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

// The file extension without the dot ("" when the name has none).
std::string_view extension(std::string_view path) {
  const size_t slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const size_t dot = name.rfind('.');
  return dot == std::string_view::npos || dot == 0 ? std::string_view{} : name.substr(dot + 1);
}

// NaN when the track has no value (no four-digit year, track number 0).
double number_of(Field f, const FilterFields& t) {
  switch (f) {
    case Field::Year: {
      if (t.date.size() < 4 || !std::all_of(t.date.begin(), t.date.begin() + 4, [](char c) { return c >= '0' && c <= '9'; }))
        return NAN;
      return (t.date[0] - '0') * 1000 + (t.date[1] - '0') * 100 + (t.date[2] - '0') * 10 + (t.date[3] - '0');
    }
    case Field::Duration: return t.duration_s;
    case Field::Track: return t.track_no > 0 ? t.track_no : NAN;
    case Field::Speech: return t.speech >= 0 ? t.speech : NAN;
    default: return NAN;
  }
}

std::string_view text_of(Field f, const FilterFields& t) {
  switch (f) {
    case Field::Artist: return t.artist;
    case Field::Album: return t.album;
    case Field::AlbumArtist: return t.album_artist;
    case Field::Genre: return t.genre;
    case Field::Title: return t.title;
    case Field::Date: return t.date;
    case Field::Format: return extension(t.path);
    default: return t.path;
  }
}

// `path` is `folder` or inside it (folder given with or without a trailing slash).
bool under_folder(std::string_view path, std::string_view folder) {
  while (folder.size() > 1 && folder.back() == '/') folder.remove_suffix(1);
  if (path.substr(0, folder.size()) != folder) return false;
  return path.size() == folder.size() || folder == "/" || path[folder.size()] == '/';
}

}  // namespace

struct FilterNode {
  enum class Type { And, Or, Not, Compare } type = Type::Compare;
  std::vector<std::unique_ptr<FilterNode>> children;  // And, Or: two or more; Not: one
  Field field = Field::Artist;
  Kind kind = Kind::Text;
  Op op = Op::Eq;
  std::vector<std::string> texts;  // Text kinds: folded to lower case; Path kinds: as written
  std::vector<double> numbers;

  bool eval(const FilterFields& t) const {
    switch (type) {
      case Type::And:
        return std::all_of(children.begin(), children.end(), [&](const auto& c) { return c->eval(t); });
      case Type::Or:
        return std::any_of(children.begin(), children.end(), [&](const auto& c) { return c->eval(t); });
      case Type::Not: return !children[0]->eval(t);
      case Type::Compare: break;
    }
    if (op == Op::Ne) return !compare(t, Op::Eq);
    if (op == Op::NotIn) return !compare(t, Op::In);
    return compare(t, op);
  }

  bool compare(const FilterFields& t, Op o) const {
    if (kind == Kind::Number) {
      const double v = number_of(field, t);
      if (std::isnan(v)) return false;
      if (o == Op::In) return std::find(numbers.begin(), numbers.end(), v) != numbers.end();
      return ordered(v < numbers[0] ? -1 : v > numbers[0] ? 1 : 0, o);
    }
    const std::string_view value = text_of(field, t);
    if (kind == Kind::Folder) {
      return std::any_of(texts.begin(), texts.end(), [&](const std::string& f) { return under_folder(value, f); });
    }
    if (o == Op::Contains) return contains_folded(value, texts[0]);
    if (kind == Kind::Path) {
      if (o == Op::In) return std::find(texts.begin(), texts.end(), value) != texts.end();
      return ordered(value.compare(texts[0]), o);
    }
    if (o == Op::In)
      return std::any_of(texts.begin(), texts.end(), [&](const std::string& s) { return compare_folded(value, s) == 0; });
    return ordered(compare_folded(value, texts[0]), o);
  }

  static bool ordered(int c, Op o) {
    switch (o) {
      case Op::Eq: return c == 0;
      case Op::Lt: return c < 0;
      case Op::Le: return c <= 0;
      case Op::Gt: return c > 0;
      case Op::Ge: return c >= 0;
      default: return false;
    }
  }
};

std::string filter_field_list() {
  std::string out;
  for (const FieldInfo& f : kFields) out += std::string(out.empty() ? "" : ", ") + f.name;
  return out;
}

namespace {

struct Token {
  enum class Type { End, Word, String, Number, Op, LParen, RParen, Comma } type = Type::End;
  size_t pos = 0;     // byte offset of its first character
  std::string text;   // Word: as written; String: unescaped; Op: the operator
  double number = 0;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) { next(); }

  std::unique_ptr<FilterNode> parse() {
    auto root = parse_or(0);
    if (tok_.type != Token::Type::End) fail("expected \"and\", \"or\" or the end, found " + describe(tok_), tok_.pos);
    return root;
  }

  // "<reason> at column N[; hint]", then the expression and a caret under column N.
  [[noreturn]] void fail(const std::string& reason, size_t pos, const std::string& hint = "") const {
    // Columns count characters (UTF-8 sequences), so the caret lines up under what a person sees.
    int column = 1;
    for (size_t i = 0; i < pos && i < text_.size(); ++i)
      if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) ++column;
    std::string shown(text_);
    for (char& c : shown)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
    throw FilterError(reason + " at column " + std::to_string(column) + (hint.empty() ? "" : "; " + hint) + "\n  " + shown + "\n  " +
                          std::string(static_cast<size_t>(column - 1), ' ') + "^",
                      column);
  }

 private:
  std::string_view text_;
  size_t at_ = 0;
  Token tok_;

  static bool is_word(const Token& t, const char* w) { return t.type == Token::Type::Word && lowered(t.text) == w; }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case Token::Type::End: return "the end";
      case Token::Type::String: return "a string";
      case Token::Type::Number: return "a number";
      case Token::Type::LParen: return "\"(\"";
      case Token::Type::RParen: return "\")\"";
      case Token::Type::Comma: return "\",\"";
      default: return "\"" + t.text + "\"";
    }
  }

  void next() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r')) ++at_;
    tok_ = Token{};
    tok_.pos = at_;
    if (at_ >= text_.size()) return;
    const char c = text_[at_];
    auto is_alpha = [](char x) { return (x >= 'a' && x <= 'z') || (x >= 'A' && x <= 'Z') || x == '_'; };
    auto is_digit = [](char x) { return x >= '0' && x <= '9'; };
    if (is_alpha(c)) {
      const size_t start = at_;
      while (at_ < text_.size() && (is_alpha(text_[at_]) || is_digit(text_[at_]))) ++at_;
      tok_.type = Token::Type::Word;
      tok_.text = std::string(text_.substr(start, at_ - start));
    } else if (c == '"') {
      lex_string();
    } else if (is_digit(c) || ((c == '-' || c == '.') && at_ + 1 < text_.size() && is_digit(text_[at_ + 1]))) {
      lex_number();
    } else if (c == '(' || c == ')' || c == ',') {
      tok_.type = c == '(' ? Token::Type::LParen : c == ')' ? Token::Type::RParen : Token::Type::Comma;
      ++at_;
    } else {
      static constexpr const char* kOps[] = {"!=", "<=", ">=", "==", "=", "<", ">", "~"};
      for (const char* op : kOps) {
        const std::string_view o(op);
        if (text_.substr(at_, o.size()) == o) {
          tok_.type = Token::Type::Op;
          tok_.text = o == "==" ? "=" : std::string(o);
          at_ += o.size();
          return;
        }
      }
      size_t end = at_ + 1;  // the whole UTF-8 sequence, so the message stays valid UTF-8
      while (end < text_.size() && (static_cast<unsigned char>(text_[end]) & 0xC0) == 0x80) ++end;
      fail("unexpected character \"" + std::string(text_.substr(at_, end - at_)) + "\"", at_);
    }
  }

  void lex_string() {
    const size_t start = at_++;
    std::string out;
    for (;;) {
      if (at_ >= text_.size()) fail("unterminated string", start);
      const char c = text_[at_++];
      if (c == '"') break;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_ >= text_.size()) fail("unterminated string", start);
      const char e = text_[at_++];
      if (e == '"' || e == '\\') out += e;
      else if (e == 'n') out += '\n';
      else if (e == 't') out += '\t';
      // (A non-ASCII byte is not echoed: it would cut a UTF-8 sequence in the message.)
      else fail("unknown escape" + (static_cast<unsigned char>(e) < 0x80 ? " \"\\" + std::string(1, e) + "\"" : std::string()) +
                    " (use \\\" \\\\ \\n \\t)",
                at_ - 2);
    }
    tok_.type = Token::Type::String;
    tok_.text = std::move(out);
  }

  // 12, -3.5, or m:ss / h:mm:ss (a duration, in seconds).
  void lex_number() {
    const size_t start = at_;
    auto digits = [&] {
      const size_t s = at_;
      while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') ++at_;
      return at_ - s;
    };
    if (text_[at_] == '-') ++at_;
    digits();
    if (at_ < text_.size() && text_[at_] == '.') {
      ++at_;
      digits();
    }
    const std::string first(text_.substr(start, at_ - start));
    double value = std::strtod(first.c_str(), nullptr);
    int parts = 0;
    while (at_ < text_.size() && text_[at_] == ':') {
      if (first.find_first_of("-.") != std::string::npos || ++parts > 2) fail("malformed duration (write m:ss or h:mm:ss)", start);
      ++at_;
      const size_t s = at_;
      if (digits() != 2) fail("malformed duration (write m:ss or h:mm:ss)", start);
      const int sub = (text_[s] - '0') * 10 + (text_[s + 1] - '0');
      if (sub >= 60) fail("malformed duration (minutes and seconds below 60)", s);
      value = value * 60 + sub;
    }
    if (at_ < text_.size() && ((text_[at_] >= 'a' && text_[at_] <= 'z') || (text_[at_] >= 'A' && text_[at_] <= 'Z')))
      fail("malformed number", start);
    if (!std::isfinite(value)) fail("number out of range", start);
    tok_.type = Token::Type::Number;
    tok_.number = value;
  }

  std::unique_ptr<FilterNode> join(FilterNode::Type type, std::unique_ptr<FilterNode> first, const char* word, int depth) {
    if (!is_word(tok_, word)) return first;
    auto node = std::make_unique<FilterNode>();
    node->type = type;
    node->children.push_back(std::move(first));
    while (is_word(tok_, word)) {
      next();
      node->children.push_back(type == FilterNode::Type::Or ? parse_and(depth) : parse_unary(depth));
    }
    return node;
  }

  std::unique_ptr<FilterNode> parse_or(int depth) { return join(FilterNode::Type::Or, parse_and(depth), "or", depth); }
  std::unique_ptr<FilterNode> parse_and(int depth) { return join(FilterNode::Type::And, parse_unary(depth), "and", depth); }

  // `depth` counts the parentheses and `not`s around this point: the one about to open is
  // level depth + 1, refused past kMaxFilterDepth (32 pass, the 33rd is refused; issue 53, L9).
  std::unique_ptr<FilterNode> parse_unary(int depth) {
    if ((is_word(tok_, "not") || tok_.type == Token::Type::LParen) && depth >= kMaxFilterDepth)
      fail("nested too deeply (at most " + std::to_string(kMaxFilterDepth) + " levels of parentheses and \"not\")", tok_.pos);
    if (is_word(tok_, "not")) {
      next();
      auto node = std::make_unique<FilterNode>();
      node->type = FilterNode::Type::Not;
      node->children.push_back(parse_unary(depth + 1));
      return node;
    }
    if (tok_.type == Token::Type::LParen) {
      next();
      auto inner = parse_or(depth + 1);
      if (tok_.type != Token::Type::RParen) fail("expected \")\", found " + describe(tok_), tok_.pos);
      next();
      return inner;
    }
    return parse_comparison();
  }

  std::unique_ptr<FilterNode> parse_comparison() {
    if (tok_.type != Token::Type::Word || is_word(tok_, "and") || is_word(tok_, "or") || is_word(tok_, "in"))
      fail("expected a field name, found " + describe(tok_), tok_.pos, "fields are: " + filter_field_list());
    const std::string name = lowered(tok_.text);
    const auto info = std::find_if(std::begin(kFields), std::end(kFields), [&](const FieldInfo& f) { return name == f.name; });
    if (info == std::end(kFields))
      fail("unknown field \"" + tok_.text + "\"", tok_.pos, "fields are: " + filter_field_list());
    auto node = std::make_unique<FilterNode>();
    node->field = info->field;
    node->kind = info->kind;
    next();

    const size_t op_pos = tok_.pos;
    if (is_word(tok_, "not") || is_word(tok_, "in")) {
      node->op = is_word(tok_, "not") ? Op::NotIn : Op::In;
      if (node->op == Op::NotIn) {
        next();
        if (!is_word(tok_, "in")) fail("expected \"in\" after \"not\", found " + describe(tok_), tok_.pos);
      }
      next();
      if (tok_.type != Token::Type::LParen) fail("expected \"(\" after \"in\", found " + describe(tok_), tok_.pos);
      next();
      for (;;) {
        value(*node, info->name);
        if (tok_.type == Token::Type::Comma) {
          next();
          continue;
        }
        if (tok_.type != Token::Type::RParen) fail("expected \",\" or \")\", found " + describe(tok_), tok_.pos);
        next();
        break;
      }
      return node;
    }
    if (tok_.type != Token::Type::Op)
      fail("expected an operator (= != < <= > >= ~ in) after \"" + name + "\", found " + describe(tok_), tok_.pos);
    const std::string op = tok_.text;
    node->op = op == "=" ? Op::Eq : op == "!=" ? Op::Ne : op == "<" ? Op::Lt : op == "<=" ? Op::Le
             : op == ">" ? Op::Gt : op == ">=" ? Op::Ge : Op::Contains;
    if (node->op == Op::Contains && node->kind == Kind::Number)
      fail("\"~\" (contains) takes a text field; \"" + name + "\" is a number", op_pos);
    if (node->kind == Kind::Folder && node->op != Op::Eq && node->op != Op::Ne)
      fail("\"folder\" takes = or != (or in): it means \"in this folder or below\"", op_pos);
    next();
    value(*node, info->name);
    return node;
  }

  void value(FilterNode& node, const char* name) {
    const bool number = node.kind == Kind::Number;
    if (number && tok_.type == Token::Type::Number) {
      node.numbers.push_back(tok_.number);
    } else if (!number && tok_.type == Token::Type::String) {
      node.texts.push_back(node.kind == Kind::Text || node.op == Op::Contains ? lowered(tok_.text) : tok_.text);
    } else {
      fail(std::string("expected ") + (number ? "a number" : "a string in double quotes") + " for \"" + name + "\", found " +
               describe(tok_),
           tok_.pos);
    }
    next();
  }
};

void note_fields_read(const FilterNode& node, TextFieldsRead& read) {
  for (const auto& child : node.children) note_fields_read(*child, read);
  if (node.type != FilterNode::Type::Compare || node.kind == Kind::Number) return;
  switch (node.field) {
    case Field::Artist: read.artist = true; break;
    case Field::Album: read.album = true; break;
    case Field::AlbumArtist: read.album_artist = true; break;
    case Field::Genre: read.genre = true; break;
    case Field::Title: read.title = true; break;
    case Field::Date: read.date = true; break;
    case Field::Format:  // the path's extension
    case Field::Path:
    case Field::Folder: read.path = true; break;
    case Field::Year:  // numbers (returned above): composing changes no digit
    case Field::Duration:
    case Field::Track:
    case Field::Speech: break;
  }
}

}  // namespace

Filter Filter::parse(std::string_view text) {
  Filter f;
  if (text.size() > kMaxFilterLength)
    throw FilterError("too long (" + std::to_string(text.size()) + " bytes; at most " + std::to_string(kMaxFilterLength) + ")", 1);
  if (!is_valid_utf8(text)) throw FilterError("not valid UTF-8", 1);
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) throw FilterError("empty expression", 1);
  f.root_ = Parser(text).parse();
  f.text_ = std::string(text);
  note_fields_read(*f.root_, f.read_);
  return f;
}

bool Filter::matches(const FilterFields& track) const { return !root_ || root_->eval(track); }

}  // namespace clap::search
