#include "store/rows.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "core/one_line_text.h"

namespace clap::store {

void decode_embedding(const void* bytes, size_t n, int expect, std::vector<float>& out, const std::string& what) {
  if (n != static_cast<size_t>(expect) * sizeof(float))
    throw Error("database: embedding of " + std::to_string(n) + " bytes where " + std::to_string(expect) +
                " floats were expected (" + what + ")");
  const size_t at = out.size();
  out.resize(at + static_cast<size_t>(expect));
  // An empty column (a library whose meta says dim 0) may have no buffer: memcpy must not get its
  // null pointer even for 0 bytes (UBSan, confirmed with fuzz_store).
  if (n > 0) std::memcpy(out.data() + at, bytes, n);
  if constexpr (std::endian::native != std::endian::little) {
    for (size_t k = at; k < out.size(); ++k) {
      uint32_t x;
      std::memcpy(&x, &out[k], 4);
      x = __builtin_bswap32(x);
      std::memcpy(&out[k], &x, 4);
    }
  }
}

std::string non_finite_value(const float* v, size_t n) {
  // A float is NaN or infinite when its 8 exponent bits are all ones: only then does adding one
  // to them carry into bit 31. An OR of those sums vectorizes with the baseline ISA (and, add, or:
  // SSE2), measured within noise of the decode's copy alone (bench/runs/2026-11-28-rough15.md);
  // the rare hit is then found value by value.
  uint32_t carries = 0;
  for (size_t k = 0; k < n; ++k) carries |= (std::bit_cast<uint32_t>(v[k]) & 0x7f800000u) + 0x00800000u;
  if (!(carries & 0x80000000u)) return "";
  for (size_t k = 0; k < n; ++k)
    if (!std::isfinite(v[k]))
      return std::string("a value that is not a number (") + (std::isnan(v[k]) ? "NaN" : "infinity") + ") at " +
             std::to_string(k) + " of " + std::to_string(n);
  return "";
}

std::string encode_embedding(const float* v, size_t n) {
  std::string b(n * sizeof(float), '\0');
  if (n) std::memcpy(b.data(), v, b.size());
  if constexpr (std::endian::native != std::endian::little) {
    for (size_t k = 0; k < n; ++k) {
      uint32_t x;
      std::memcpy(&x, b.data() + 4 * k, 4);
      x = __builtin_bswap32(x);
      std::memcpy(b.data() + 4 * k, &x, 4);
    }
  }
  return b;
}

void check_embedding_sizes(const std::string& path, const std::vector<WindowRecord>& windows, size_t track_floats,
                           int dim) {
  if (track_floats != 0 && static_cast<int>(track_floats) != dim)
    throw Error(path + ": track embedding of size " + std::to_string(track_floats) + ", index dimension " +
                std::to_string(dim));
  for (const auto& w : windows)
    if (!w.embedding.empty() && static_cast<int>(w.embedding.size()) != dim)
      throw Error(path + ": window embedding of size " + std::to_string(w.embedding.size()) + ", index dimension " +
                  std::to_string(dim));
}

std::string error_reason(const std::string& status, const std::string& error) {
  if (status == "ok" || status == "error") return error;
  const std::string shown = status.size() > 40 ? status.substr(0, 40) + "..." : status;
  return "the index is damaged: its status is \"" + shown + "\", neither ok nor error" + (error.empty() ? "" : "; " + error);
}

namespace {
[[noreturn]] void damaged_setting(const std::string& text, const char* what, const char* why) {
  // The value as the column holds it, cut: a 10 MB text is named by its start. A NUL is shown
  // escaped: the message is read as a C string, and "its dim is " was all that was left of it,
  // without the reason or the way out (hostile pass 14, H14C-3; R12P-3's sibling).
  std::string shown = control_escaped(text.size() > 40 ? text.substr(0, 40) + "..." : text);
  if (shown.empty()) shown = "empty";
  throw DamagedIndex(std::string("the index is damaged: its ") + what + " is " + shown + " (" + why + ")");
}
}  // namespace

// Bounds far beyond any setting clapsearch writes (index/identity.h: a window is at most the
// model's input, tens of seconds; CLAP embeddings have 512 or 1024 values), so that no index
// clapsearch wrote is ever refused, and no damaged value overflows the code that uses it.
double stored_seconds(double number, const std::string& text, const char* what) {
  if (!(number > 0) || !(number <= 3600)) damaged_setting(text, what, "seconds between 0 and 3600 were expected");
  return number;
}

int stored_dim(double number, const std::string& text, const char* what) {
  if (!(number >= 1 && number <= 65536) || number != std::floor(number))
    damaged_setting(text, what, "a whole number of values from 1 to 65536 was expected");
  return static_cast<int>(number);
}

std::string stored_precision(const std::string& text, const char* what) {
  if (text == "fp32" || text == "bf16" || text == "int8") return text;
  damaged_setting(text, what, "fp32, bf16 or int8 was expected");
}

void check_identity_complete(const ModelIdentity& m) {
  if (m.dim == 0) damaged_setting("", "dim", "its meta row is gone; a whole number of values from 1 to 65536 was expected");
}

void check_speech(double speech, const std::string& what) {
  if (speech == kNoSpeech || (speech >= 0 && speech <= 1)) return;
  throw Error(what + ": speech score " + std::to_string(speech) + " outside [0, 1]");
}

std::string window_numbering_problem(const std::string& path, int64_t n, int64_t lo, int64_t hi, int64_t total) {
  if (n == 0) return path + ": ok track without windows";
  if (lo < 0 || hi >= total) return path + ": windows are not numbered 0.." + std::to_string(total - 1);
  return "";
}

EmbeddingSet require_inactive_set(const std::optional<EmbeddingSet>& set, int64_t id, const char* why) {
  if (!set) throw Error("no embedding set " + std::to_string(id) + " in the index (`clapsearch models` lists them)");
  if (set->active)
    throw Error("embedding set " + std::to_string(id) + " (" + set->identity.id + ") is the active one: " + why);
  return *set;
}

void fill_set_coverage(std::vector<EmbeddingSet>& sets, int64_t windows, int64_t tracks,
                       const std::function<std::pair<int64_t, int64_t>(int64_t)>& held) {
  for (EmbeddingSet& e : sets) {
    e.windows = windows;
    e.tracks = tracks;
    if (e.active) {
      e.covered_windows = windows;
      e.covered_tracks = tracks;
      continue;
    }
    const auto [covered, lacking] = held(e.id);
    e.covered_windows = covered;
    e.covered_tracks = tracks - lacking;
  }
}

void check_set_window_settings(const ModelIdentity& active, const EmbeddingSet& next) {
  const auto differs = [](double a, double b) { return std::fabs(a - b) > 1e-9; };
  if (differs(active.window_s, next.identity.window_s) || differs(active.hop_s, next.identity.hop_s) ||
      differs(active.silence_db, next.identity.silence_db))
    throw Error("embedding set " + std::to_string(next.id) + " has other window settings than the index");
}

void check_set_window(const EmbeddingSet& set, int64_t track_id, const WindowRecord& w, bool stored) {
  const std::string where = "embedding set " + std::to_string(set.id) + ", track " + std::to_string(track_id) + ": window " +
                            std::to_string(w.idx);
  if (!stored) throw Error(where + " is not a stored non-silent window");
  if (w.embedding.size() != static_cast<size_t>(set.identity.dim))
    throw Error(where + " has " + std::to_string(w.embedding.size()) + " floats, not " + std::to_string(set.identity.dim));
}

SetCopy& set_copy(std::vector<SetCopy>& sets, int64_t set_id) {
  auto at = std::lower_bound(sets.begin(), sets.end(), set_id, [](const SetCopy& c, int64_t id) { return c.set_id < id; });
  if (at == sets.end() || at->set_id != set_id) {
    at = sets.insert(at, SetCopy{});
    at->set_id = set_id;
  }
  return *at;
}

std::map<int64_t, int> check_imported_sets(const std::vector<EmbeddingSet>& sets, const ModelIdentity& model) {
  std::map<int64_t, int> dim_of;
  int active = 0;
  for (const EmbeddingSet& e : sets) {
    if (e.id <= 0 || !dim_of.emplace(e.id, e.identity.dim).second)
      throw Error("import: embedding set id " + std::to_string(e.id) + " is not a new positive id");
    if (!e.active) continue;
    ++active;
    if (!e.identity.mismatch(model).empty())
      throw Error("import: the active embedding set (" + e.identity.describe() + ") is not the copy's model " + model.describe());
  }
  if (active != 1) throw Error("import: " + std::to_string(active) + " active embedding sets, where one must be");
  return dim_of;
}

void check_set_copy(const std::string& path, const SetCopy& set, const std::map<int64_t, int>& dim_of) {
  const auto dim = dim_of.find(set.set_id);
  if (dim == dim_of.end()) throw Error(path + ": embeddings of embedding set " + std::to_string(set.set_id) + ", which the copy has not");
  for (const WindowRecord& w : set.windows)
    if (w.embedding.empty()) throw Error(path + ": a window of embedding set " + std::to_string(set.set_id) + " without its embedding");
  check_embedding_sizes(path, set.windows, set.embedding.size(), dim->second);
}

std::string fingerprint_bytes(const std::vector<uint32_t>& items) {
  std::string out(items.size() * 4, '\0');
  for (size_t i = 0; i < items.size(); ++i)
    for (int byte = 0; byte < 4; ++byte) out[i * 4 + byte] = static_cast<char>(items[i] >> (8 * byte));
  return out;
}

std::string window_total_damage(int64_t track_id, const std::string& path, const std::string& value) {
  const std::string shown = control_escaped(value.size() > 40 ? value.substr(0, 40) + "..." : value);
  return "the index is damaged: track " + std::to_string(track_id) + " (" + control_escaped(path) + ")'s window_total is " +
         (shown.empty() ? "empty" : shown) + ", which no track has (0 to " + std::to_string(kMostWindowsOfATrack) +
         "; written by hand?)";
}

std::vector<uint32_t> fingerprint_items(const std::string& bytes, int64_t track_id, const std::string& path) {
  // It said "database: the fingerprint of track 1 has 12005 bytes, ...", naming neither the index
  // nor a way out (hostile pass 14, R14C-5). A fingerprint is derived from the file alone, so its
  // row may simply go: the next `clapsearch index` makes it again (index/indexer.cpp).
  if (bytes.size() % 4 != 0) {
    const std::string id = std::to_string(track_id);
    throw DamagedIndex("the index is damaged: the fingerprint of track " + id +
                       (path.empty() ? "" : " (" + control_escaped(path) + ")") + " has " + std::to_string(bytes.size()) +
                       " bytes, not a whole number of 4-byte items (written by hand?); delete it (`DELETE FROM fingerprints "
                       "WHERE track_id = " + id + "`) and the next `clapsearch index DIR` makes it again");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::vector<uint32_t> items(bytes.size() / 4);
  for (size_t i = 0; i < items.size(); ++i)
    items[i] = uint32_t{p[i * 4]} | uint32_t{p[i * 4 + 1]} << 8 | uint32_t{p[i * 4 + 2]} << 16 | uint32_t{p[i * 4 + 3]} << 24;
  return items;
}

}  // namespace clap::store
