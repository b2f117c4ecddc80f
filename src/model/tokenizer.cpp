#include "model/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <bit>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "core/one_line_text.h"
#include "core/json_problem.h"
#include "core/text_file.h"
#include "core/utf8.h"

namespace clap {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// ---------------------------------------------------------------------------------------------
// UTF-8 helpers

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// Decodes the code point ending at `end` (exclusive) of valid UTF-8; sets its start.
uint32_t last_code_point(std::string_view s, size_t end, size_t& start) {
  start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + start;
  size_t len = end - start;
  if (len == 1) return p[0];
  if (len == 2) return ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu);
  if (len == 3) return ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
  return ((p[0] & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
}

uint32_t first_code_point(std::string_view s, size_t start, size_t& len) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + start;
  unsigned char b = p[0];
  if (b < 0x80) {
    len = 1;
    return b;
  }
  if (b < 0xE0) {
    len = 2;
    return ((b & 0x1Fu) << 6) | (p[1] & 0x3Fu);
  }
  if (b < 0xF0) {
    len = 3;
    return ((b & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
  }
  len = 4;
  return ((b & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
}

// Python's str.isspace(): Unicode White_Space plus the information separators U+001C..U+001F.
bool py_isspace(uint32_t c) {
  if (c <= 0x20) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string_view py_rstrip(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start;
    if (!py_isspace(last_code_point(s, end, start))) break;
    end = start;
  }
  return s.substr(0, end);
}

std::string_view py_lstrip(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    size_t len;
    if (!py_isspace(first_code_point(s, pos, len))) break;
    pos += len;
  }
  return s.substr(pos);
}

// GPT-2 bytes_to_unicode(): printable Latin-1 bytes map to themselves, the other 68 bytes
// to U+0100.. in byte order.
std::vector<std::string> bytes_to_unicode() {
  std::vector<std::string> table(256);
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    uint32_t cp = printable ? uint32_t(b) : uint32_t(256 + n++);
    append_utf8(table[b], cp);
  }
  return table;
}

// The GPT-2 pattern. `\s` is written out as Unicode White_Space (the `regex` module's \s;
// PCRE2's UCP \s differs on U+0085 in some versions), so the result does not depend on it.
#define CLAP_WS "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
constexpr const char* kPattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" CLAP_WS "\\p{L}\\p{N}]+|[" CLAP_WS "]+(?![^" CLAP_WS
    "])|[" CLAP_WS "]+";
#undef CLAP_WS

std::string read_file(const std::string& path) { return read_text_file(path, "tokenizer file"); }

uint64_t mix64(uint64_t x) {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t hash_bytes(std::string_view s) {  // FNV-1a, then a 64-bit finaliser
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return mix64(h ^ s.size());
}

// String interner: open addressing (linear probing) over 8-byte slots holding a hash tag and
// the symbol id, so a lookup touches one slot run plus the string itself. Loading inserts
// ~200k strings and is memory-latency bound; with a node-based std::unordered_map it took
// several times longer (about 70 ms instead of about 20 ms for roberta-base).
class SymbolTable {
 public:
  void reserve(size_t n) {
    if (n * 2 > slots_.size()) rehash(std::bit_ceil(n * 2));
    strings_.reserve(n);
  }
  size_t size() const { return strings_.size(); }
  const std::string& text(int32_t sym) const { return strings_[sym]; }

  int32_t find(std::string_view s) const {
    if (slots_.empty()) return -1;
    uint64_t h = hash_bytes(s);
    uint32_t tag = uint32_t(h >> 32);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      uint64_t slot = slots_[i];
      if (slot == 0) return -1;
      if (uint32_t(slot >> 32) == tag && strings_[uint32_t(slot) - 1] == s) return int32_t(uint32_t(slot) - 1);
    }
  }
  // The symbol of `s`, added if new (`added` tells which).
  int32_t intern(std::string_view s, bool& added) {
    if ((strings_.size() + 1) * 2 > slots_.size()) rehash(std::max<size_t>(64, slots_.size() * 2));
    uint64_t h = hash_bytes(s);
    uint32_t tag = uint32_t(h >> 32);
    size_t i = h & mask_;
    for (;; i = (i + 1) & mask_) {
      uint64_t slot = slots_[i];
      if (slot == 0) break;
      if (uint32_t(slot >> 32) == tag && strings_[uint32_t(slot) - 1] == s) {
        added = false;
        return int32_t(uint32_t(slot) - 1);
      }
    }
    if (strings_.size() >= size_t(std::numeric_limits<int32_t>::max() - 1)) throw Error("tokenizer: too many symbols");
    strings_.emplace_back(s);
    slots_[i] = (uint64_t(tag) << 32) | uint32_t(strings_.size());
    added = true;
    return int32_t(strings_.size() - 1);
  }

 private:
  void rehash(size_t capacity) {
    std::vector<uint64_t> old = std::move(slots_);
    slots_.assign(capacity, 0);
    mask_ = capacity - 1;
    for (uint64_t slot : old) {
      if (slot == 0) continue;
      size_t i = hash_bytes(strings_[uint32_t(slot) - 1]) & mask_;
      while (slots_[i] != 0) i = (i + 1) & mask_;
      slots_[i] = slot;
    }
  }
  std::vector<std::string> strings_;  // symbol id -> text
  std::vector<uint64_t> slots_;       // (hash tag << 32) | (symbol + 1); 0 = empty
  size_t mask_ = 0;
};

struct Merge {
  int32_t rank;
  int32_t result;  // symbol of the concatenation
};

// (left symbol, right symbol) -> merge, open addressing over 16-byte slots.
class MergeTable {
 public:
  void reserve(size_t n) {
    if (n * 2 > slots_.size()) rehash(std::bit_ceil(n * 2));
  }
  size_t size() const { return count_; }
  const Merge* find(int32_t a, int32_t b) const {
    if (slots_.empty()) return nullptr;
    uint64_t key = pack(a, b);
    for (size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.key == key) return &slot.merge;
      if (slot.key == kEmpty) return nullptr;
    }
  }
  // Inserts or overwrites (a repeated merge keeps its last rank, like the reference's dict).
  void set(int32_t a, int32_t b, Merge m) {
    if ((count_ + 1) * 2 > slots_.size()) rehash(std::max<size_t>(64, slots_.size() * 2));
    uint64_t key = pack(a, b);
    size_t i = mix64(key) & mask_;
    while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & mask_;
    if (slots_[i].key == kEmpty) ++count_;
    slots_[i] = Slot{key, m};
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t(0);  // symbols are < 2^31, so never a real key
  struct Slot {
    uint64_t key;
    Merge merge;
  };
  static uint64_t pack(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
  void rehash(size_t capacity) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity, Slot{kEmpty, {0, 0}});
    mask_ = capacity - 1;
    for (const Slot& s : old) {
      if (s.key == kEmpty) continue;
      size_t i = mix64(s.key) & mask_;
      while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0, count_ = 0;
};

struct PcreDeleter {
  void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};

constexpr size_t kCacheLimit = 1 << 16;  // words; the cache is cleared when it grows past this

}  // namespace

// ---------------------------------------------------------------------------------------------

struct Tokenizer::Impl {
  // Every string that can occur as a BPE symbol (vocab entries, merge parts and results, the
  // 256 byte characters) is interned to a dense symbol id; BPE then works on integers.
  SymbolTable symbols;
  std::vector<int64_t> symbol_vocab;  // vocab id of a symbol, -1 if not in the vocab
  int32_t byte_symbol[256] = {};
  MergeTable merges;

  struct Special {
    std::string text;
    int64_t id;
    bool lstrip = false, rstrip = false;
  };
  std::vector<Special> specials;  // split out of the text before BPE
  int64_t bos = -1, eos = -1, pad = -1, unk = -1, mask = -1;
  size_t vocab_size = 0;

  std::unique_ptr<pcre2_code, PcreDeleter> regex;

  mutable std::shared_mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache;  // raw piece -> ids

  int32_t intern(std::string_view text) {
    bool added = false;
    int32_t sym = symbols.intern(text, added);
    if (added) symbol_vocab.push_back(-1);
    return sym;
  }
  int64_t vocab_id(std::string_view text) const {
    int32_t sym = symbols.find(text);
    return sym < 0 ? -1 : symbol_vocab[sym];
  }

  void add_vocab(std::string_view token, int64_t id, const std::string& where) {
    if (id < 0 || id > int64_t(std::numeric_limits<int32_t>::max()))
      throw Error(where + ": token \"" + std::string(token) + "\" has id " + std::to_string(id) + ", out of range");
    int32_t sym = intern(token);
    symbol_vocab[sym] = id;  // a repeated key keeps the last id (Python json semantics)
    vocab_size = std::max(vocab_size, size_t(id) + 1);
  }

  void add_merge(std::string_view left, std::string_view right, int32_t rank) {
    int32_t a = intern(left), b = intern(right);
    std::string joined;
    joined.reserve(left.size() + right.size());
    joined.append(left).append(right);
    merges.set(a, b, Merge{rank, intern(joined)});
  }

  void finish(const std::string& where);
  void bpe(std::string_view piece, std::vector<int64_t>& out) const;
  void pretokenize_bpe(std::string_view text, pcre2_match_data* md, std::vector<int64_t>& out) const;
  std::vector<int64_t> tokenize(const std::string& text) const;
};

void Tokenizer::Impl::finish(const std::string& where) {
  static const std::vector<std::string> byte_chars = bytes_to_unicode();
  for (int b = 0; b < 256; ++b) byte_symbol[b] = intern(byte_chars[b]);

  bos = vocab_id("<s>");
  pad = vocab_id("<pad>");
  eos = vocab_id("</s>");
  unk = vocab_id("<unk>");
  mask = vocab_id("<mask>");
  for (auto [name, id] : {std::pair<const char*, int64_t>{"<s>", bos}, {"<pad>", pad}, {"</s>", eos}, {"<unk>", unk}})
    if (id < 0) throw Error(where + ": special token " + name + " is not in the vocabulary");
  // RobertaTokenizer's added tokens: all plain except <mask> (lstrip=True).
  specials = {{"<s>", bos}, {"<pad>", pad}, {"</s>", eos}, {"<unk>", unk}};
  if (mask >= 0) specials.push_back({"<mask>", mask, true, false});

  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kPattern), PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
  if (!code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof message);
    throw Error("tokenizer: cannot compile the pre-tokenizer regex at offset " + std::to_string(error_offset) +
                ": " + reinterpret_cast<const char*>(message));
  }
  regex.reset(code);
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional: falls back to the interpreter
}

// BPE of one pre-tokenized piece (raw UTF-8 bytes), appending vocab ids.
void Tokenizer::Impl::bpe(std::string_view piece, std::vector<int64_t>& out) const {
  auto vocab_of = [&](int32_t sym) { return symbol_vocab[sym] >= 0 ? symbol_vocab[sym] : unk; };
  if (piece.size() == 1) {
    out.push_back(vocab_of(byte_symbol[static_cast<unsigned char>(piece[0])]));
    return;
  }
  std::string key(piece);
  {
    std::shared_lock lock(cache_mutex);
    auto it = cache.find(key);
    if (it != cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> word(piece.size()), next;
  for (size_t i = 0; i < piece.size(); ++i) word[i] = byte_symbol[static_cast<unsigned char>(piece[i])];
  next.reserve(word.size());
  while (word.size() > 1) {
    // The adjacent pair with the lowest merge rank.
    int32_t best_rank = std::numeric_limits<int32_t>::max();
    int32_t first = -1, second = -1, merged = -1;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      const Merge* m = merges.find(word[i], word[i + 1]);
      if (m && m->rank < best_rank) {
        best_rank = m->rank;
        first = word[i];
        second = word[i + 1];
        merged = m->result;
      }
    }
    if (merged < 0) break;
    // Merge every occurrence, left to right (as the reference bpe() does).
    next.clear();
    for (size_t i = 0; i < word.size();) {
      if (word[i] == first && i + 1 < word.size() && word[i + 1] == second) {
        next.push_back(merged);
        i += 2;
      } else {
        next.push_back(word[i]);
        i += 1;
      }
    }
    word.swap(next);
  }
  std::vector<int64_t> ids(word.size());
  for (size_t i = 0; i < word.size(); ++i) ids[i] = vocab_of(word[i]);
  out.insert(out.end(), ids.begin(), ids.end());
  std::unique_lock lock(cache_mutex);
  if (cache.size() >= kCacheLimit) cache.clear();
  cache.emplace(std::move(key), std::move(ids));
}

// Regex pre-tokenization of a (valid UTF-8) run of ordinary text, then BPE of each piece.
void Tokenizer::Impl::pretokenize_bpe(std::string_view text, pcre2_match_data* md, std::vector<int64_t>& out) const {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  PCRE2_SIZE offset = 0;
  while (offset < text.size()) {
    int rc = pcre2_match(regex.get(), subject, text.size(), offset, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;  // cannot happen: the alternatives cover every character
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof message);
      throw Error(std::string("tokenizer: regex match failed: ") + reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    if (ov[1] <= ov[0]) break;  // no empty matches are possible either
    bpe(text.substr(ov[0], ov[1] - ov[0]), out);
    offset = ov[1];
  }
}

std::vector<int64_t> Tokenizer::Impl::tokenize(const std::string& raw) const {
  std::string fixed;
  std::string_view text = sanitize_utf8(raw, fixed) ? std::string_view(fixed) : std::string_view(raw);

  // Split out literal special tokens (tokens_trie.split: leftmost match, longest first).
  struct Segment {
    std::string_view text;
    const Special* special;
  };
  std::vector<Segment> segments;
  size_t start = 0;
  for (size_t pos = 0; pos < text.size();) {
    const Special* found = nullptr;
    for (const Special& s : specials)
      if (text.compare(pos, s.text.size(), s.text) == 0 && (!found || s.text.size() > found->text.size()))
        found = &s;
    if (!found) {
      ++pos;
      continue;
    }
    if (pos > start) segments.push_back({text.substr(start, pos - start), nullptr});
    segments.push_back({text.substr(pos, found->text.size()), found});
    pos += found->text.size();
    start = pos;
  }
  if (start < text.size()) segments.push_back({text.substr(start), nullptr});

  // lstrip / rstrip of added tokens eat the whitespace of their neighbours.
  for (size_t i = 0; i < segments.size(); ++i) {
    const Special* s = segments[i].special;
    if (!s) continue;
    if (s->rstrip && i + 1 < segments.size()) segments[i + 1].text = py_lstrip(segments[i + 1].text);
    if (s->lstrip && i > 0) segments[i - 1].text = py_rstrip(segments[i - 1].text);
  }

  std::vector<int64_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(nullptr, &pcre2_match_data_free);
  for (const Segment& seg : segments) {
    if (seg.text.empty()) continue;
    if (seg.special) {
      ids.push_back(seg.special->id);
      continue;
    }
    if (!md) {
      md.reset(pcre2_match_data_create_from_pattern(regex.get(), nullptr));
      if (!md) throw Error("tokenizer: out of memory");
    }
    pretokenize_bpe(seg.text, md.get(), ids);
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Loading

namespace {

void load_vocab_object(Tokenizer::Impl& impl, const json& vocab, const std::string& where) {
  if (!vocab.is_object()) throw Error(where + ": the vocabulary must be a JSON object {token: id}");
  if (vocab.empty()) throw Error(where + ": the vocabulary is empty");
  impl.symbols.reserve(vocab.size() + 1024);
  impl.symbol_vocab.reserve(vocab.size() + 1024);
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer())
      throw Error(where + ": the id of token \"" + it.key() + "\" is not an integer");
    impl.add_vocab(it.key(), it.value().get<int64_t>(), where);
  }
}

// vocab.json is a flat {token: id} object: read it with the SAX interface straight into the
// symbol table (several times faster than building a DOM of 50k entries).
struct VocabSax : nlohmann::json_sax<json> {
  Tokenizer::Impl& impl;
  const std::string& where;
  std::string_view text;  // the file's, for parse errors in words (core/json_problem.h)
  int depth = 0;
  size_t count = 0;
  std::string key_;
  VocabSax(Tokenizer::Impl& i, const std::string& w) : impl(i), where(w) {}

  [[noreturn]] void bad_value(const char* what) {
    if (depth == 1) throw Error(where + ": the id of token \"" + key_ + "\" is not an integer (" + what + ")");
    throw Error(where + ": the vocabulary must be a JSON object {token: id}");
  }
  bool id(int64_t v) {
    if (depth != 1) bad_value("nested");
    impl.add_vocab(key_, v, where);
    ++count;
    return true;
  }
  bool null() override { bad_value("null"); }
  bool boolean(bool) override { bad_value("boolean"); }
  bool number_integer(number_integer_t v) override { return id(v); }
  bool number_unsigned(number_unsigned_t v) override {
    return id(v > uint64_t(std::numeric_limits<int64_t>::max()) ? -1 : int64_t(v));
  }
  bool number_float(number_float_t, const string_t&) override { bad_value("a float"); }
  bool string(string_t&) override { bad_value("a string"); }
  bool binary(binary_t&) override { bad_value("binary"); }
  bool start_object(std::size_t) override {
    if (depth != 0) bad_value("an object");
    depth = 1;
    return true;
  }
  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }
  bool end_object() override {
    depth = 0;
    return true;
  }
  bool start_array(std::size_t) override { bad_value("an array"); }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    throw Error(where + ": invalid JSON (" + json_problem(text, e) + ")");
  }
};

void load_vocab_file(Tokenizer::Impl& impl, const std::string& text, const std::string& where) {
  impl.symbols.reserve(text.size() / 14 + 1024);  // ~16 bytes per entry in a typical vocab.json
  impl.symbol_vocab.reserve(text.size() / 14 + 1024);
  VocabSax sax(impl, where);
  sax.text = text;
  json::sax_parse(text, &sax);
  if (sax.count == 0) throw Error(where + ": the vocabulary is empty");
}

json parse_json(const std::string& text, const std::string& where) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw Error(where + ": invalid JSON (" + json_problem(text, e) + ")");
  }
}

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

}  // namespace

Tokenizer Tokenizer::from_files(const std::string& vocab_json, const std::string& merges_txt) {
  auto impl = std::make_shared<Impl>();
  std::string vocab_text = read_file(vocab_json);
  std::string merges_text = read_file(merges_txt);
  load_vocab_file(*impl, vocab_text, vocab_json);

  // merges.txt: an optional "#version: ..." first line, then one "left right" pair per line;
  // the rank is the line number (as in the reference: dict(zip(merges, range(len(merges))))).
  impl->merges.reserve(merges_text.size() / 9 + 16);  // ~9 bytes per line in a typical merges.txt
  std::string_view all(merges_text);
  size_t pos = 0, line_no = 0;
  int32_t rank = 0;
  while (pos < all.size()) {
    size_t eol = all.find('\n', pos);
    if (eol == std::string_view::npos) eol = all.size();
    std::string_view line = all.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (line_no == 1 && line.substr(0, 8) == "#version") continue;
    std::string_view fields[3];
    int count = 0;
    for (size_t i = 0; i < line.size();) {
      while (i < line.size() && is_ascii_space(line[i])) ++i;
      if (i == line.size()) break;
      size_t j = i;
      while (j < line.size() && !is_ascii_space(line[j])) ++j;
      if (count < 3) fields[count] = line.substr(i, j - i);
      ++count;
      i = j;
    }
    if (count == 0) {  // blank line (the trailing newline): no merge, but it keeps the numbering
      ++rank;
      continue;
    }
    if (count != 2)
      throw Error(merges_txt + ": line " + std::to_string(line_no) + ": expected two tokens separated by a space, got " +
                  std::to_string(count));
    impl->add_merge(fields[0], fields[1], rank++);
  }
  impl->finish(vocab_json);
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::from_tokenizer_json(const std::string& path) {
  auto impl = std::make_shared<Impl>();
  json j = parse_json(read_file(path), path);
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
    throw Error(path + ": no \"model\" object (not a Hugging Face tokenizer.json?)");
  const json& model = j["model"];
  if (model.contains("type") && !model["type"].is_null() && (!model["type"].is_string() || model["type"].get<std::string>() != "BPE"))
    throw Error(path + ": model.type is " + json_echo(model["type"]) + ", expected \"BPE\"");
  if (!model.contains("vocab")) throw Error(path + ": model.vocab is missing");
  if (!model.contains("merges") || !model["merges"].is_array()) throw Error(path + ": model.merges is missing or not a list");
  load_vocab_object(*impl, model["vocab"], path + " (model.vocab)");
  // Added tokens that are not part of model.vocab (e.g. specials appended after training).
  // A malformed entry is refused, not skipped: a special token left out changes every encoding.
  if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
    if (!j["added_tokens"].is_array()) throw Error(path + ": added_tokens is not a list");
    size_t index = 0;
    for (const json& t : j["added_tokens"]) {
      if (!t.is_object() || !t.contains("content") || !t.contains("id") || !t["content"].is_string() || !t["id"].is_number_integer())
        throw Error(path + ": added_tokens[" + std::to_string(index) + "] is not {\"content\": text, \"id\": whole number}");
      ++index;
      std::string content = t["content"].get<std::string>();
      if (impl->vocab_id(content) < 0)
        impl->add_vocab(content, t["id"].get<int64_t>(), path + " (added_tokens)");
    }
  }
  const json& merges = model["merges"];
  impl->merges.reserve(merges.size() * 2);
  int32_t rank = 0;
  for (const json& m : merges) {
    std::string where = path + ": model.merges[" + std::to_string(rank) + "]";
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      size_t space = s.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == s.size() || s.find(' ', space + 1) != std::string::npos)
        throw Error(where + ": expected \"left right\", got \"" + s + "\"");
      std::string_view sv(s);
      impl->add_merge(sv.substr(0, space), sv.substr(space + 1), rank);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      impl->add_merge(m[0].get_ref<const std::string&>(), m[1].get_ref<const std::string&>(), rank);
    } else {
      throw Error(where + ": expected a \"left right\" string or a [left, right] pair");
    }
    ++rank;
  }
  impl->finish(path);
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::from_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir + ": tokenizer folder not found");
  fs::path d(dir);
  std::string vocab = (d / "vocab.json").string(), merges = (d / "merges.txt").string();
  std::string tok_json = (d / "tokenizer.json").string();
  bool has_vocab = fs::exists(vocab, ec), has_merges = fs::exists(merges, ec);
  if (has_vocab && has_merges) return from_files(vocab, merges);
  if (fs::exists(tok_json, ec)) return from_tokenizer_json(tok_json);
  std::string missing = !has_vocab ? vocab : merges;
  throw Error(missing + ": file not found (a tokenizer needs vocab.json + merges.txt, or tokenizer.json)");
}

// ---------------------------------------------------------------------------------------------
// Encoding

const Tokenizer::Impl& Tokenizer::impl() const {
  if (!impl_) throw Error("tokenizer: not loaded");
  return *impl_;
}

std::vector<int64_t> Tokenizer::tokenize_ids(const std::string& text) const { return impl().tokenize(text); }

Encoding Tokenizer::encode(const std::string& text, size_t max_tokens) const {
  const Impl& t = impl();
  if (max_tokens < 2) throw Error("tokenizer: max_tokens must be at least 2 (for <s> and </s>), got " + std::to_string(max_tokens));
  std::vector<int64_t> body = t.tokenize(text);
  Encoding e;
  size_t keep = body.size();
  if (keep > max_tokens - 2) {
    keep = max_tokens - 2;
    e.truncated = true;
  }
  e.ids.reserve(keep + 2);
  e.ids.push_back(t.bos);
  e.ids.insert(e.ids.end(), body.begin(), body.begin() + keep);
  e.ids.push_back(t.eos);
  return e;
}

TokenBatch Tokenizer::encode_batch(const std::vector<std::string>& texts, size_t max_tokens) const {
  const Impl& t = impl();
  std::vector<Encoding> encs;
  encs.reserve(texts.size());
  size_t longest = 0;
  for (const std::string& text : texts) {
    encs.push_back(encode(text, max_tokens));
    longest = std::max(longest, encs.back().ids.size());
  }
  TokenBatch b;
  b.batch = int(texts.size());
  b.length = int(longest);
  b.ids.assign(texts.size() * longest, t.pad);
  b.attention_mask.assign(texts.size() * longest, 0);
  for (size_t r = 0; r < encs.size(); ++r) {
    std::copy(encs[r].ids.begin(), encs[r].ids.end(), b.ids.begin() + r * longest);
    std::fill_n(b.attention_mask.begin() + r * longest, encs[r].ids.size(), 1);
  }
  return b;
}

int64_t Tokenizer::pad_id() const { return impl().pad; }
int64_t Tokenizer::bos_id() const { return impl().bos; }
int64_t Tokenizer::eos_id() const { return impl().eos; }
int64_t Tokenizer::unk_id() const { return impl().unk; }
int64_t Tokenizer::mask_id() const { return impl().mask; }
size_t Tokenizer::vocab_size() const { return impl().vocab_size; }

int64_t Tokenizer::token_id(const std::string& token) const {
  const Impl& t = impl();
  return t.vocab_id(token);
}

}  // namespace clap
