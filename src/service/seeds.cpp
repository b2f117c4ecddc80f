#include "service/seeds.h"

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "core/one_line_text.h"
#include "core/text_file.h"
#include "service/queries.h"

namespace clap::service {

namespace {

// Splits "VALUE:NUMBER" when the tail after the last ':' is a whole number (strtod reads it
// all); false otherwise. `weight` may then be anything strtod reads, inf and nan included.
bool split_weight(const std::string& spec, std::string& value, double& weight) {
  const size_t colon = spec.rfind(':');
  if (colon == std::string::npos || colon + 1 == spec.size()) return false;
  const std::string tail = spec.substr(colon + 1);
  if (tail.find_first_of(" \t") != std::string::npos) return false;
  char* end = nullptr;
  errno = 0;
  const double w = std::strtod(tail.c_str(), &end);
  if (end != tail.c_str() + tail.size()) return false;
  if (errno == ERANGE) {
    weight = HUGE_VAL;  // overflow: not finite
  } else {
    weight = w;
  }
  value = spec.substr(0, colon);
  return true;
}

// A weight is at most FLT_MAX: the query's arithmetic ends in float (the embeddings' type), and
// a larger weight became inf there, a NaN query and all-zero scores (issue 53, L2).
void check_weight(const QueryTerm& t, double w) {
  // strtod reads hexadecimal floats too (`--seed X:0x1p128`); every other number the CLI and the
  // API take is decimal only (cli/main.cpp, bad_number).
  if (t.spec.find_first_of("xX", t.spec.rfind(':') + 1) != std::string::npos)
    throw InvalidArgument(t.option + " " + echo_excerpt(t.spec) + ": the weight after ':' must be a decimal number");
  if (!std::isfinite(w) || !(w > 0) || w > std::numeric_limits<float>::max())
    throw InvalidArgument(t.option + " " + echo_excerpt(t.spec) + ": the weight after ':' must be a finite number above 0, at most 3.4e38");
}

std::vector<float> unit_of(const std::vector<float>& v, const std::string& what) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  if (!(s > 0) || !std::isfinite(s)) throw Error(what + ": its embedding is zero or not finite");
  const double n = std::sqrt(s);
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i] / n);
  return out;
}

// The indexed track a seed names. With allow_files (the command line), a track id or a path
// (find_track: through symlinks and hard links, so it reads the file system); without (the
// server: the value comes from a request), a track id only, so no request reaches the disk.
const store::Track* seed_track(const LibrarySnapshot& snap, const std::string& value, bool allow_files) {
  if (allow_files) return snap.find_track(value);
  if (value.empty() || value.size() > 18 || value.find_first_not_of("0123456789") != std::string::npos) return nullptr;
  return snap.track(std::stoll(value));
}

// An audio value as the index knows it, else (allow_files) as a file on disk.
bool audio_exists(const LibrarySnapshot& snap, const std::string& value, bool allow_files) {
  if (seed_track(snap, value, allow_files)) return true;
  std::error_code ec;
  return allow_files && std::filesystem::is_regular_file(value, ec);
}

bool positive_audio(const ResolvedTerm& t) { return t.kind == TermKind::Audio && !t.negative; }
bool steering(const ResolvedTerm& t) { return !positive_audio(t); }

}  // namespace

MixedQuery resolve_query(Library& lib, const LibrarySnapshot& snap, const std::vector<QueryTerm>& terms, bool allow_files,
                         bool need_positive) {
  MixedQuery q;
  bool positive = false;
  std::vector<std::string> texts;  // embedded in one batch (through the text cache)
  for (const QueryTerm& t : terms) {
    ResolvedTerm r;
    r.kind = t.kind;
    r.negative = t.negative;
    r.value = t.spec;
    if (t.kind == TermKind::Text) {
      std::string v;
      double w = 1;
      if (split_weight(t.spec, v, w)) {
        check_weight(t, w);
        r.value = v;
        r.weight = w;
      }
      if (r.value.find_first_not_of(" \t\r\n") == std::string::npos) throw InvalidArgument(t.option + ": empty text");
      texts.push_back(r.value);
    } else {
      if (t.spec.empty()) throw InvalidArgument(t.option + ": empty seed");
      std::string v;
      double w = 1;
      if (!audio_exists(snap, t.spec, allow_files) && split_weight(t.spec, v, w)) {
        check_weight(t, w);
        r.value = v;
        r.weight = w;
      }
      if (!audio_exists(snap, r.value, allow_files))
        throw Error(t.option + " " + echo_excerpt(r.value) +
                    (allow_files ? ": no such file, and no track with that id or path in the index"
                                 : ": no track with that id in the index"));
      if (const store::Track* tr = seed_track(snap, r.value, allow_files)) {
        r.track_id = tr->id;
        r.unit = unit_of(snap.track_embedding(tr->id), t.option + " " + r.value);  // throws the reason it has none
        q.seed_tracks.push_back(tr->id);
      } else {
        r.unit = unit_of(lib.file_embedding(r.value), t.option + " " + r.value);
      }
    }
    positive = positive || !r.negative;
    q.terms.push_back(std::move(r));
  }
  if (!positive && need_positive) throw InvalidArgument("give at least one seed or text to search by (negatives alone do not make a query)");
  if (!texts.empty()) {
    const std::vector<float> emb = lib.embed_texts(texts);
    const auto dim = static_cast<int64_t>(emb.size() / texts.size());
    size_t i = 0;
    for (ResolvedTerm& r : q.terms)
      if (r.kind == TermKind::Text) {
        r.unit = unit_of(std::vector<float>(emb.begin() + static_cast<int64_t>(i) * dim, emb.begin() + static_cast<int64_t>(i + 1) * dim),
                         "text \"" + r.value + "\"");
        ++i;
      }
  }
  std::sort(q.seed_tracks.begin(), q.seed_tracks.end());
  q.seed_tracks.erase(std::unique(q.seed_tracks.begin(), q.seed_tracks.end()), q.seed_tracks.end());
  return q;
}

std::vector<float> combine_terms(const std::vector<ResolvedTerm>& terms, int64_t dim, bool (*use)(const ResolvedTerm&)) {
  // The weights are taken relative to the largest: only their ratios set the direction, and
  // small absolute weights (one seed of weight 1e-7) made the sum's square fall under the
  // cancel-out threshold, refused as "cancel out" although nothing cancelled (L2 sibling).
  double largest = 0;
  for (const ResolvedTerm& t : terms)
    if (!use || use(t)) largest = std::max(largest, t.weight);
  if (!(largest > 0)) largest = 1;
  std::vector<double> sum(static_cast<size_t>(dim), 0.0);
  for (const ResolvedTerm& t : terms) {
    if (use && !use(t)) continue;
    if (static_cast<int64_t>(t.unit.size()) != dim) throw Error("a query term's embedding has the wrong dimension");
    const double w = (t.negative ? -t.weight : t.weight) / largest;
    for (int64_t i = 0; i < dim; ++i) sum[i] += w * t.unit[i];
  }
  double s = 0;
  for (double x : sum) s += x * x;
  if (!(s > 1e-12)) throw InvalidArgument("the query's seeds and negatives cancel out (their weighted sum is zero)");
  const double n = std::sqrt(s);
  std::vector<float> out(static_cast<size_t>(dim));
  for (int64_t i = 0; i < dim; ++i) out[i] = static_cast<float>(sum[i] / n);
  return out;
}

std::optional<std::string> file_uri_path(const std::string& entry, std::string* why) {
  // A scheme: a letter, then letters, digits, '+', '-' or '.', then "://" (RFC 3986 3.1).
  const size_t colon = entry.find("://");
  if (colon == std::string::npos || colon == 0 || !std::isalpha(static_cast<unsigned char>(entry[0]))) return std::nullopt;
  for (size_t i = 1; i < colon; ++i) {
    const unsigned char c = static_cast<unsigned char>(entry[i]);
    if (!std::isalnum(c) && c != '+' && c != '-' && c != '.') return std::nullopt;
  }
  std::string scheme = entry.substr(0, colon);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  *why = "";
  if (scheme != "file") {
    *why = "a " + scheme + ":// address, not a file (only file:// addresses and paths name songs)";
    return std::string();
  }
  std::string rest = entry.substr(colon + 3);
  if (rest.rfind("localhost/", 0) == 0) rest.erase(0, std::strlen("localhost"));
  if (rest.empty() || rest[0] != '/') {
    *why = "a file:// address on another host (only file:///PATH names a file here)";
    return std::string();
  }
  const auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
  };
  std::string decoded;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '?' || rest[i] == '#') break;  // a query or fragment is no part of the path
    if (rest[i] != '%') {
      decoded += rest[i];
      continue;
    }
    const int hi = i + 2 < rest.size() ? hex(rest[i + 1]) : -1, lo = i + 2 < rest.size() ? hex(rest[i + 2]) : -1;
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
      *why = "a bad percent escape in a file:// address (\"" + rest.substr(i, 3) + "\"; %XX with two hex digits, not %00)";
      return std::string();
    }
    decoded += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return decoded;
}

std::vector<std::string> read_seed_list(const std::string& path) {
  // Bounded like --queries: /dev/zero or a wrong huge file is an error naming it, not gigabytes.
  std::istringstream in(read_text_file(path, "seed list", kMaxTextFileBytes, TextSource::FileOrStream));
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::vector<std::string> out;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    // No path or id holds a NUL; kept, it cut the error naming the entry short at the NUL
    // ("--seeds-from FILE: 1" and nothing more), as every message is a C string in the end.
    if (line.find('\0') != std::string::npos)
      throw InvalidArgument(path + " line " + std::to_string(number) + ": holds a NUL byte (not a playlist or a seed list)");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (out.empty() && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // a BOM
    const size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] == '#') continue;
    line = line.substr(b, line.find_last_not_of(" \t") - b + 1);
    // Players export M3U playlists with file:// addresses (VLC, Rhythmbox, foobar2000):
    // "file:///home/me/Music/A%20Song.flac" is that file, not a relative path of that name.
    std::string why;
    if (const std::optional<std::string> file = file_uri_path(line, &why)) {
      if (!why.empty())
        throw InvalidArgument(path + ": line " + std::to_string(number) + ": " + why);
      out.push_back(*file);
      continue;
    }
    // A track id, alone or with a weight ("12:0.5", as --seed takes it): kept as written. It was
    // made a path in the list's folder ("DIR/12:0.5"), so an id with a weight named no track.
    const std::string head = line.substr(0, line.find(':'));
    const bool id = !head.empty() && head.find_first_not_of("0123456789") == std::string::npos;
    const std::filesystem::path p(line);
    std::error_code ec;
    const bool file_here = !p.is_absolute() && std::filesystem::is_regular_file(dir / p, ec);
    out.push_back((id && (line == head || !file_here)) || p.is_absolute() ? line : (dir / p).lexically_normal().string());
  }
  if (out.empty()) throw InvalidArgument(path + ": the seed list has no entries");
  return out;
}

ResultRules excluding_seeds(ResultRules rules, const MixedQuery& q) {
  rules.exclude.insert(rules.exclude.end(), q.seed_tracks.begin(), q.seed_tracks.end());
  std::sort(rules.exclude.begin(), rules.exclude.end());
  rules.exclude.erase(std::unique(rules.exclude.begin(), rules.exclude.end()), rules.exclude.end());
  return rules;
}

std::vector<search::Hit> similar_mixed(const LibrarySnapshot& snap, const MixedQuery& q, int64_t dim, int64_t k,
                                       const ResultRules& rules) {
  return similar_to_vector(snap, combine_terms(q.terms, dim), k, excluding_seeds(rules, q));
}

std::vector<std::vector<search::TrackScore>> search_mixed(Library& lib, const LibrarySnapshot& snap,
                                                          const std::vector<std::string>& texts, const MixedQuery& q,
                                                          const search::TextSearchOptions& options,
                                                          const ResultRules& rules) {
  const int64_t dim = lib.dim();
  const std::vector<float> emb = texts.empty() ? std::vector<float>{} : lib.embed_texts(texts);
  std::vector<float> queries;
  if (texts.empty()) {
    queries = combine_terms(q.terms, dim);
  } else {
    for (size_t i = 0; i < texts.size(); ++i) {
      std::vector<ResolvedTerm> terms = q.terms;
      ResolvedTerm t;
      t.value = texts[i];
      t.unit = unit_of(std::vector<float>(emb.begin() + static_cast<int64_t>(i) * dim, emb.begin() + static_cast<int64_t>(i + 1) * dim),
                       "text \"" + texts[i] + "\"");
      terms.push_back(std::move(t));
      const std::vector<float> v = combine_terms(terms, dim);
      queries.insert(queries.end(), v.begin(), v.end());
    }
  }
  const auto nq = static_cast<int64_t>(queries.size()) / dim;
  return search_vectors(snap, nq, queries.data(), dim, options, excluding_seeds(rules, q));
}

search::QueryChunks mixed_query_chunks(Library& lib, const LibrarySnapshot& snap, const MixedQuery& q,
                                       const search::QueryChunks* query) {
  const int64_t dim = lib.dim();
  const bool steered = std::any_of(q.terms.begin(), q.terms.end(), steering);
  std::vector<double> steer(static_cast<size_t>(dim), 0.0);  // Σ texts − Σ negatives, unnormalised
  double steer_largest = 0;                                   // the largest steering weight
  for (const ResolvedTerm& t : q.terms)
    if (steering(t)) {
      steer_largest = std::max(steer_largest, t.weight);
      for (int64_t i = 0; i < dim; ++i) steer[i] += (t.negative ? -t.weight : t.weight) * t.unit[i];
    }
  search::QueryChunks all;
  all.dim = static_cast<int>(dim);
  // The chunks of one positive audio seed of weight w, each steered, appended to `all`.
  const auto add_seed = [&](const search::QueryChunks& c, double weight) {
    if (c.size() > 0 && c.dim != dim) throw Error("a query's chunks have the wrong dimension");
    for (int64_t r = 0; r < c.size(); ++r) {
      const float* e = c.embeddings.data() + r * dim;
      double s = 0;
      for (int64_t i = 0; i < dim; ++i) s += double(e[i]) * e[i];
      const double en = s > 0 ? std::sqrt(s) : 1;
      // Relative to the largest weight in play: a seed of weight 1e-13 gave a chunk of length
      // 1e-13, under the threshold below, left unnormalised, and every score 0 (L2 sibling).
      const double scale = std::max(weight, steered ? steer_largest : 0.0);
      std::vector<double> v(static_cast<size_t>(dim));
      double vs = 0;
      for (int64_t i = 0; i < dim; ++i) {
        v[i] = (weight * e[i] / en + (steered ? steer[i] : 0.0)) / scale;
        vs += v[i] * v[i];
      }
      const double vn = vs > 1e-24 ? std::sqrt(vs) : 1;
      for (int64_t i = 0; i < dim; ++i) all.embeddings.push_back(static_cast<float>(v[i] / vn));
      all.starts.push_back(c.starts[r]);
      all.ends.push_back(c.ends[r]);
      all.silent.push_back(c.silent.empty() ? 0 : c.silent[r]);
    }
  };
  if (query) add_seed(*query, 1);
  for (const ResolvedTerm& t : q.terms) {
    if (!positive_audio(t)) continue;
    add_seed(t.track_id >= 0 ? track_query_chunks(snap, *snap.track(t.track_id)) : file_query_chunks(lib, t.value), t.weight);
  }
  if (all.size() == 0) throw InvalidArgument("like: give at least one audio seed (a file or a track of the index)");
  return all;
}

}  // namespace clap::service
