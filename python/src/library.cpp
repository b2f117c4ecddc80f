// clapsearch.Library's compiled half (python/clapsearch/__init__.py is the documented API): the
// queries of the CLI over one index, answering what the CLI's --json prints, as Python objects.
//
// The index may change under a Library (a `clapsearch index` run, a watch, `models --activate`):
// every call first brings the library up to date as `serve` does between requests
// (service::Library::refresh: a new snapshot when the store's generation moved, else nothing read),
// and when another model's embeddings became the index's active set, opens the index again with
// that model (src/server/server.cpp, reopen_library). A call never mixes two snapshots.
#include "library.h"

#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "index/identity.h"
#include "index/window_settings.h"
#include "search/duplicates.h"
#include "service/aggregates.h"
#include "service/diversity.h"
#include "service/duplicates.h"
#include "service/filters.h"
#include "service/library.h"
#include "service/playlists.h"
#include "service/queries.h"
#include "service/ranked_queries.h"
#include "service/records.h"
#include "service/seeds.h"
#include "service/stop_check.h"
#include "store/store.h"
#include "support.h"
#include "core/missing_file.h"

namespace clap::python {
namespace {

namespace fs = std::filesystem;

search::Aggregate parse_aggregate_arg(const std::string& name) {
  if (name != "mean" && name != "max") throw InvalidInput("aggregate must be \"mean\" or \"max\" (got \"" + name + "\")");
  return search::parse_aggregate(name);
}

// where=, per_artist=, per_album= of the query methods (service/filters.h): a bad expression
// is an InvalidInputError naming the column, as the CLI's --where.
service::ResultRules rules_of(const std::string& where, int64_t per_artist, int64_t per_album) {
  service::ResultRules r;
  r.where = service::parse_where(where, "where");
  r.per_artist = per_artist;
  r.per_album = per_album;
  service::check_rules(r);
  return r;
}

// seeds=, texts=, nots=, not_likes= of the query methods (service/seeds.h), after the query's
// own audio seed `first` (none when empty); each "VALUE" or "VALUE:WEIGHT".
std::vector<service::QueryTerm> terms_of(const std::string& first, const std::vector<std::string>& seeds,
                                         const std::vector<std::string>& texts, const std::vector<std::string>& nots,
                                         const std::vector<std::string>& not_likes) {
  using service::TermKind;
  std::vector<service::QueryTerm> terms;
  if (!first.empty()) terms.push_back({TermKind::Audio, first, false, "track"});
  for (const auto& v : seeds) terms.push_back({TermKind::Audio, v, false, "seeds"});
  for (const auto& v : texts) terms.push_back({TermKind::Text, v, false, "texts"});
  for (const auto& v : nots) terms.push_back({TermKind::Text, v, true, "nots"});
  for (const auto& v : not_likes) terms.push_back({TermKind::Audio, v, true, "not_likes"});
  return terms;
}

class Library {
 public:
  static constexpr const char* kShownName = "_Library";  // made<Library>'s error
  // exclude_rule: the music-only rule (service::kDefaultExclude unless the caller gives another;
  // "" = none), applied to every query whose include_excluded is false, as the CLI's.
  // retry_for: seconds a call is answered again while the index keeps changing under it
  // (answered_again below), checked by Library.__init__.
  Library(const std::string& db, const std::string& model, const std::string& config, const std::string& tokenizer,
          int threads, const std::string& text_precision, const std::string& exclude_rule, double retry_for)
      : exclude_(service::parse_where(exclude_rule, "exclude_rule")), retry_for_(retry_for) {
    if (!(retry_for >= 0 && retry_for <= 86400)) throw InvalidInput("retry_for must be in [0, 86400] seconds");
    check_threads(threads);
    options_.db = db;
    options_.model = model;
    options_.model_config = config;
    options_.model_tokenizer = tokenizer;
    options_.threads = threads;
    options_.text_precision = parse_precision(text_precision);
    LibraryCall release;
    lib_ = std::make_shared<service::Library>(options_, service::Access::ReadWriteIfPossible);
    shown_path_ = lib_->db_path();
  }

  std::string db_path() { return current()->db_path(); }
  // The index as messages name it, without opening anything (db_path refreshes first).
  const std::string& shown_path() const { return shown_path_; }
  double retry_for() const { return retry_for_; }
  std::string exclude_rule() const { return exclude_.text(); }
  int dim() { return current()->dim(); }

  // The library as the store holds it now (call without the GIL): refreshed when an indexer
  // changed it since the last call, or opened again when the index's active embedding set
  // changed (another model: the model recorded for the new set is used, as `serve` does, not
  // the one named at construction). The caller holds the returned library for its whole call,
  // so another thread reopening meanwhile does not pull it away.
  std::shared_ptr<service::Library> current() {
    std::lock_guard lock(lib_mutex_);
    try {
      lib_->refresh();
    } catch (const service::ModelChanged&) {
      lib_->close_if_replaced();  // another file moved over the index: the old one closed first (H12S-3)
      service::LibraryOptions o = options_;
      o.model.clear();
      auto next = std::make_shared<service::Library>(o, service::Access::ReadWriteIfPossible);
      lib_ = std::move(next);
    }
    return lib_;
  }

  // search --json: one list over every query (the field "query" when several).
  // diversity < 0: the plain ranking; 0..1: --diversity (service/diversity.h).
  // seeds, nots, not_likes: mixed into every text (service::search_mixed); with no text, the
  // seeds are the query (as `clapsearch search --seed`).
  service::ojson search(std::vector<std::string> texts, int64_t k, const std::string& aggregate, double high,
                     double moderate, const std::string& where, int64_t per_artist, int64_t per_album, double diversity,
                     bool include_excluded, const std::vector<std::string>& seeds, const std::vector<std::string>& nots,
                     const std::vector<std::string>& not_likes) {
    const service::ResultRules parsed = rules_of(where, per_artist, per_album);
    const std::vector<service::QueryTerm> terms = terms_of("", seeds, {}, nots, not_likes);
    if (texts.empty() && seeds.empty()) throw InvalidInput("search: no query text (or seeds)");
    for (const auto& t : texts)
      if (t.find_first_not_of(" \t\r\n") == std::string::npos) throw InvalidInput("empty query text");
    if (k < 0) throw InvalidInput("k must be 0 (every track) or more");
    if (!std::isfinite(high) || !std::isfinite(moderate)) throw InvalidInput("high and moderate must be finite numbers");
    if (!(high >= moderate)) throw InvalidInput("high must be at least moderate");
    if (diversity > 1) throw InvalidInput("diversity must be in [0, 1]");
    search::TextSearchOptions topts;
    topts.aggregate = parse_aggregate_arg(aggregate);
    topts.thresholds.high = high;
    topts.thresholds.moderate = moderate;
    service::SearchRequest request;
    request.mixed = !terms.empty();
    request.terms = terms;
    request.texts = texts;
    request.options = topts;
    request.k = k;
    request.diversity = diversity;
    // The texts go to the engine kTextsPerPart at a time, with Ctrl-C seen between parts: a list
    // of thousands of queries would otherwise hold the KeyboardInterrupt until every one was
    // embedded and ranked (the L5 class).
    request.between_parts = [] { check_signals(); };
    LibraryCall release;
    const service::ScopedStopCheck stop(check_signals);  // Ctrl-C within a query or seed file (a long one takes a while)
    const auto lib = current();
    const auto snap = lib->snapshot();
    request.rules = music_only(parsed, *snap, include_excluded);
    const service::SearchAnswer answer = service::search_query(*lib, *snap, request);
    if (texts.empty()) texts.push_back("");  // one unnamed query: the seeds
    const bool several = texts.size() > 1;
    service::ojson out = service::ojson::array();
    for (size_t i = 0; i < texts.size(); ++i)
      for (size_t r = 0; r < answer.lists[i].results.size(); ++r)
        out.push_back(service::text_result_record(*snap, answer.lists[i].results[r], r + 1, several ? &texts[i] : nullptr));
    return out;
  }

  // like --json, the query an audio file, an indexed track (track=True) or samples.
  // seeds, texts, nots, not_likes: more terms (service::mixed_query_chunks), the query first;
  // diversity < 0: the plain ranking.
  service::ojson like(const std::string& query, bool is_track, int64_t k, int per_chunk, double vote_weight,
                   bool exclude_self, double chunk_s, double hop_s, const std::string& where, int64_t per_artist,
                   int64_t per_album, double diversity, bool include_excluded, const std::vector<std::string>& seeds,
                   const std::vector<std::string>& texts, const std::vector<std::string>& nots,
                   const std::vector<std::string>& not_likes) {
    const service::ResultRules parsed = rules_of(where, per_artist, per_album);
    const bool mixed = !seeds.empty() || !texts.empty() || !nots.empty() || !not_likes.empty();
    if (diversity > 1) throw InvalidInput("diversity must be in [0, 1]");
    if (query.empty() && seeds.empty()) throw InvalidInput("like: give a query (an audio file, a track, samples) or seeds");
    if (mixed && (chunk_s > 0 || hop_s > 0)) throw InvalidInput("chunk and hop do not go with several seeds (each is cut as the index is)");
    if (k < 0) throw InvalidInput("k must be 0 (every track hit) or more");
    if (per_chunk < 1 || per_chunk > 1000) throw InvalidInput("per_chunk must be between 1 and 1000");
    if (!(vote_weight >= 0 && vote_weight <= 1)) throw InvalidInput("vote_weight must be in [0, 1]");
    if (chunk_s < 0 || hop_s < 0) throw InvalidInput("chunk and hop must be positive (or 0: the index's)");
    // The CLI warns (--track takes no --chunk/--hop); a keyword given in vain is refused.
    if (is_track && !mixed && (chunk_s > 0 || hop_s > 0))
      throw InvalidInput("chunk and hop do not go with a track of the index (track=True or an id): its stored windows are the "
                         "chunks; give its audio file to cut it otherwise");
    if (!is_track && !mixed) require_file(query);
    LibraryCall release;
    const service::ScopedStopCheck stop(check_signals);  // Ctrl-C within a query or seed file (a long one takes a while)
    const auto lib = current();
    const auto snap = lib->snapshot();
    service::LikeRequest request;
    request.rules = music_only(parsed, *snap, include_excluded);
    request.k = k;
    request.diversity = diversity;
    request.options.per_chunk = per_chunk;
    request.options.vote_weight = vote_weight;
    request.exclude_self = exclude_self;
    if (mixed) {
      request.mixed = true;
      request.terms = terms_of(query, seeds, texts, nots, not_likes);
    } else if (is_track) {
      request.track = snap->find_track(query);
      if (!request.track) throw NotFound(query + ": no such track in the index (give a track id or the path of an indexed file)");
    } else {
      request.file = query;
      request.chunk_s = chunk_s;
      request.hop_s = hop_s;
      // The service checks these too, naming the CLI's --chunk / --hop: here in Python's words.
      index::check_window_settings_named(chunk_s > 0 ? chunk_s : snap->identity().window_s,
                                         hop_s > 0 ? hop_s : snap->identity().hop_s, "chunk", "hop");
    }
    const auto results = service::like_query(*lib, *snap, request).list.results;
    service::ojson out = service::ojson::array();
    size_t rank = 0;
    for (const auto& r : results) out.push_back(service::like_result_record(*snap, r, ++rank));
    return out;
  }

  service::ojson like_samples(const py::array& array, int sr, int64_t k, int per_chunk, double vote_weight, double chunk_s,
                           double hop_s, const std::string& where, int64_t per_artist, int64_t per_album, double diversity,
                           bool include_excluded) {
    const std::unique_ptr<MemoryWav> wav = one_clip_wav(array, sr, "like", "query clip");
    return naming_samples(*wav, "the query samples", [&] {
      return like(wav->path(), false, k, per_chunk, vote_weight, false, chunk_s, hop_s, where, per_artist, per_album, diversity,
                  include_excluded, {}, {}, {}, {});
    });
  }

  // similar --json: an indexed track (itself left out) or any audio file.
  // seeds, texts, nots, not_likes: more terms (service/seeds.h), the query (when not empty) first.
  service::ojson similar(const std::string& query, int64_t k, const std::string& where, int64_t per_artist, int64_t per_album,
                      const std::vector<std::string>& seeds, const std::vector<std::string>& texts,
                      const std::vector<std::string>& nots, const std::vector<std::string>& not_likes, double diversity,
                      bool include_excluded) {
    if (k < 0) throw InvalidInput("k must be 0 (every track) or more");
    if (diversity > 1) throw InvalidInput("diversity must be in [0, 1]");
    if (query.empty() && seeds.empty() && texts.empty())
      throw InvalidInput("similar: give a track (an id or an indexed path), an audio file, or seeds or texts");
    const service::ResultRules parsed = rules_of(where, per_artist, per_album);
    LibraryCall release;
    const service::ScopedStopCheck stop(check_signals);  // Ctrl-C within a query or seed file (a long one takes a while)
    const auto lib = current();
    const auto snap = lib->snapshot();
    service::SimilarRequest request;
    request.rules = music_only(parsed, *snap, include_excluded);
    request.k = k;
    request.diversity = diversity;
    if (!seeds.empty() || !texts.empty() || !nots.empty() || !not_likes.empty()) {
      request.mixed = true;
      request.terms = terms_of(query, seeds, texts, nots, not_likes);
    } else if (const store::Track* t = snap->find_track(query)) {
      request.track = t;
    } else {
      const std::string why = missing_file_reason(query);
      if (why == kNoSuchFile) throw NotFound(query + ": no such file, and no track with that id or path in the index", query);
      if (!why.empty()) throw Error(query + ": " + why + ", and no track with that id or path in the index");
      request.file = query;
    }
    const std::vector<search::Hit> hits = service::similar_query(*lib, *snap, request).list.results;
    service::ojson out = service::ojson::array();
    size_t rank = 0;
    for (const auto& h : hits) out.push_back(service::similar_result_record(*snap, h, ++rank));
    return out;
  }

  // similar --artist/--album and search --artists/--albums --json (service/aggregates.h): by
  // `text`, or like the artist (album, by `artist` when given) named `like`.
  service::ojson groups(bool album, const std::string& text, const std::string& like, const std::string& artist, int64_t k,
                     const std::string& where, bool include_excluded) {
    if (k < 0) throw InvalidInput("k must be 0 (every one) or more");
    if (text.empty() == like.empty()) throw InvalidInput("give a text or like=NAME (one of them)");
    // As search() and the CLI's search --artists: a text of spaces is no text (it was embedded).
    if (!text.empty() && text.find_first_not_of(" \t\r\n") == std::string::npos) throw InvalidInput("empty query text");
    const service::ResultRules parsed = rules_of(where, 0, 0);
    const service::GroupKind kind = album ? service::GroupKind::Album : service::GroupKind::Artist;
    LibraryCall release;
    const auto lib = current();
    const auto snap = lib->snapshot();
    const service::ResultRules rules = music_only(parsed, *snap, include_excluded);
    std::vector<service::GroupHit> hits;
    if (!text.empty()) {
      hits = service::search_groups(*lib, *snap, kind, {text}, k, rules)[0];
    } else {
      try {
        hits = service::similar_groups(*snap, kind, like, artist, k, rules);
      } catch (const InvalidArgument&) {
        throw;
      } catch (const Error& e) {
        throw NotFound(e.what());
      }
    }
    service::ojson out = service::ojson::array();
    for (size_t r = 0; r < hits.size(); ++r) out.push_back(service::group_hit_record(hits[r], r + 1, album));
    return out;
  }

  service::ojson playlist(const std::vector<std::string>& seeds, const std::vector<std::string>& texts, int64_t length,
                       double diversity, const std::string& where, int64_t per_artist, int64_t per_album,
                       bool include_excluded) {
    if (length < 1) throw InvalidInput("length must be positive");
    service::RadioRequest request;
    request.seeds = seeds;
    request.texts = texts;
    request.length = length;
    request.diversity = diversity;
    const service::ResultRules parsed = rules_of(where, per_artist, per_album);
    LibraryCall release;
    const service::ScopedStopCheck stop(check_signals);  // Ctrl-C within a query or seed file (a long one takes a while)
    const auto lib = current();
    const auto snap = lib->snapshot();
    request.rules = music_only(parsed, *snap, include_excluded);
    const service::Playlist p = service::radio(*lib, *snap, request);
    service::ojson out = service::ojson::array();
    for (size_t i = 0; i < p.tracks.size(); ++i) {
      const bool seed = static_cast<int64_t>(i) < p.seeds;
      out.push_back(service::playlist_track_record(*snap, p.tracks[i], i + 1, &seed));
    }
    return out;
  }

  service::ojson path(const std::string& from, const std::string& to, int64_t length, const std::string& where,
                   bool include_excluded) {
    const service::ResultRules parsed = rules_of(where, 0, 0);
    LibraryCall release;
    const auto lib = current();
    const auto snap = lib->snapshot();
    const service::Playlist p = service::track_path(*snap, from, to, length, music_only(parsed, *snap, include_excluded), "start", "end");
    service::ojson out = service::ojson::array();
    for (size_t i = 0; i < p.tracks.size(); ++i) out.push_back(service::playlist_track_record(*snap, p.tracks[i], i + 1));
    return out;
  }

  // duplicates --json.
  service::ojson duplicates(double threshold, double min_duration_ratio) {
    search::DuplicateOptions options;
    options.threshold = threshold;
    options.min_duration_ratio = min_duration_ratio;
    LibraryCall release;
    const auto lib = current();
    const auto snap = lib->snapshot();
    const auto groups = service::find_duplicates(*snap, options);
    return service::duplicate_groups_record(*snap, groups);
  }

  // Every track row: id, path, status, error, duration, tags, windows.
  service::ojson tracks() {
    LibraryCall release;
    const auto lib = current();
    const auto snap = lib->snapshot();
    service::ojson out = service::ojson::array();
    for (const store::Track& t : snap->tracks()) {
      service::ojson j;
      j["track_id"] = t.id;
      j["path"] = t.path;
      j["status"] = t.status == store::TrackStatus::Ok ? "ok" : "error";
      j["error"] = t.error;
      j["silent"] = t.silent;
      j["duration_s"] = service::json_num(t.duration_s);
      j["n_windows"] = t.window_count;
      j["artist"] = t.artist;
      j["title"] = t.title;
      j["album"] = t.album;
      j["genre"] = t.genre;
      j["date"] = t.date;
      out.push_back(j);
    }
    return out;
  }

  // FAISS's convention over the track embeddings: D (n × k) cosines, I (n × k) track ids,
  // -1 / -inf where fewer than k tracks exist. k is bounded (the arrays are allocated whole,
  // n × k, before any search): at most the library's size, or kMaxPaddedK when that is more
  // (the REST API's limit of results per query), so FAISS-style padding stays possible.
  static constexpr int64_t kMaxPaddedK = 1000;
  py::tuple search_vectors(const py::array& queries, int64_t k) {
    std::shared_ptr<service::Library> lib;
    {
      LibraryCall release;
      lib = current();
    }
    const auto snap = lib->snapshot();
    const int d = lib->dim();
    const int64_t tracks = static_cast<int64_t>(snap->tracks().size());
    const int64_t max_k = std::max(kMaxPaddedK, tracks);
    if (k < 1 || k > max_k)
      throw InvalidInput("k must be between 1 and " + std::to_string(max_k) + " (the library's " + std::to_string(tracks) +
                         " tracks, or " + std::to_string(kMaxPaddedK) + " when that is more; got " + std::to_string(k) + ")");
    if (queries.dtype().kind() != 'f' || queries.itemsize() != 4)  // either byte order (H20P-1): ensure() makes it native
      throw InvalidInput("queries must be a float32 numpy array of shape (n, " + std::to_string(d) + ")");
    if (queries.ndim() != 2 || queries.shape(1) != d)
      throw InvalidInput("queries must have shape (n, " + std::to_string(d) + "), the index's embedding size");
    auto q = py::array_t<float, py::array::c_style>::ensure(queries);
    if (!q) raise_copy_failed("queries", queries);
    const py::ssize_t n = q.shape(0);
    const float* qp = q.data();
    for (py::ssize_t i = 0; i < n * d; ++i)
      if (!std::isfinite(qp[i])) throw InvalidInput("queries: a value is not finite (NaN or infinity)");
    // A row of zeros has no direction: every track scored 0 and came back in id order, a ranking
    // of nothing (H12P-5). Said, naming the row, as a NaN is.
    for (py::ssize_t r = 0; r < n; ++r)
      if (std::all_of(qp + r * d, qp + (r + 1) * d, [](float x) { return x == 0.0f; }))
        throw InvalidInput("queries: row " + std::to_string(r) + " is all zeros, a vector with no direction to rank by");
    py::array_t<float> D({n, static_cast<py::ssize_t>(k)});
    py::array_t<int64_t> I({n, static_cast<py::ssize_t>(k)});
    float* dp = D.mutable_data();
    int64_t* ip = I.mutable_data();
    {
      LibraryCall release;
      for (py::ssize_t r = 0; r < n; ++r) {
        const std::vector<float> v(qp + r * d, qp + (r + 1) * d);
        const auto hits = service::similar_to_vector(*snap, v, k);
        for (int64_t j = 0; j < k; ++j) {
          const bool has = j < static_cast<int64_t>(hits.size());
          dp[r * k + j] = has ? static_cast<float>(hits[static_cast<size_t>(j)].score) : -std::numeric_limits<float>::infinity();
          ip[r * k + j] = has ? hits[static_cast<size_t>(j)].id : -1;
        }
        if (r % 64 == 63) check_signals();
      }
    }
    return py::make_tuple(D, I);
  }

 private:
  service::ResultRules music_only(service::ResultRules rules, const service::LibrarySnapshot& snap, bool include_excluded) const {
    if (include_excluded) return rules;
    return service::excluding_rule(std::move(rules), exclude_, snap.tracks());
  }

  service::LibraryOptions options_;
  search::Filter exclude_;
  std::mutex lib_mutex_;  // guards lib_ (replaced when the index changes model)
  std::shared_ptr<service::Library> lib_;
  std::string shown_path_;
  double retry_for_;
};

}  // namespace

namespace {
// A query method returning a JSON record, bound as one returning its Python objects (py_of:
// file names keep their bytes; json.loads of the CLI's --json text would give U+FFFD).
// A query is answered again when the index changed under it: another thread of the same
// Library found another model's set activated or another file moved over the index and closed
// the old one mid-read (ModelChanged, "the index file was replaced … open it again"). The Library
// opens the new one itself at the next call, so the caller is not told to (hostile pass 13,
// H13P-1; the server does the same, server/api.cpp, where a client retries a 503). Again each
// time, as the file may be replaced again while the answer is given again (a backup put back
// twice: replace13v). Bounded in time, not in a count: a count of 8 was spent in 4 s by a
// process renaming copies over the index ten times a second on a loaded machine (hostile pass
// 14, R14P-1), where a caller can only call again; `retry_for` seconds (Library's, 300 unless
// the caller gives another) from the first replacement the call meets end it with an error naming
// what happened, so that a file system showing another file at every look (no stable inode
// numbers) cannot hold a call for ever. Minutes by default, not seconds: under load one answer
// again of a long query took 7 s, and 60 s ended a query whose file was replaced only 8 times.
// The bound is the caller's to set (hostile pass 16): a web handler wants the error in seconds,
// not after 5 minutes, and 0 gives it at the first replacement; the error says how long it was
// answered again, which can be more than retry_for (a long query meeting its last replacement
// late). Ctrl-C is honoured between attempts, and from the 8th on each waits a little (up to
// 0.1 s), giving the GIL up, rather than spinning. Every attempt gets copies of the arguments (a
// method may change one taken by value).
constexpr int kAttemptsBeforePausing = 8;

std::string seconds_text(double s) {
  char text[32];
  std::snprintf(text, sizeof text, s < 10 ? "%.1f" : "%.0f", s);
  return text;
}

template <class R, class... A>
auto answered_again(R (Library::*method)(A...)) {
  return [method](py::handle self, A... args) -> R {
    Library& lib = made<Library>(self);
    std::optional<std::chrono::steady_clock::time_point> first;
    for (int replaced = 1;; ++replaced) {
      try {
        return (lib.*method)(args...);
      } catch (const service::ModelChanged&) {
        const auto now = std::chrono::steady_clock::now();
        if (!first) first = now;
        const double spent = std::chrono::duration<double>(now - *first).count();
        if (spent >= lib.retry_for())
          throw Error(lib.shown_path() + ": the index changed under this call " +
                      (replaced == 1 ? std::string()
                                     : std::to_string(replaced) + " times in " + seconds_text(spent) + " s, each time it was answered again ") +
                      "(another file moved over it, or another model's set activated), and this Library answers again for " +
                      seconds_text(lib.retry_for()) + " s (retry_for): call again once nothing replaces it");
        check_signals();
        if (replaced >= kAttemptsBeforePausing) {
          LibraryCall release;
          std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100, 10 * (replaced - kAttemptsBeforePausing + 1))));
        }
      }
    }
  };
}

template <class... A>
auto returning_objects(service::ojson (Library::*method)(A...)) {
  return [call = answered_again(method)](py::handle self, A... args) { return py_of(call(self, std::forward<A>(args)...)); };
}
}  // namespace

void bind_library(py::module_& m) {
  py::class_<Library>(m, "_Library")
      .def(py::init<const std::string&, const std::string&, const std::string&, const std::string&, int, const std::string&,
                    const std::string&, double>(),
           py::arg("db"), py::arg("model"), py::arg("config"), py::arg("tokenizer"), py::arg("threads"),
           py::arg("text_precision"), py::arg("exclude_rule"), py::arg("retry_for"))
      .def_property_readonly("db_path", [](py::handle self) {
        Library& l = made<Library>(self);
        std::string path;
        {
          LibraryCall release;
          path = l.db_path();
        }
        return fs_str(path);
      })
      .def_property_readonly("exclude_rule", on_made(&Library::exclude_rule))
      .def_property_readonly("dim",
                             [](py::handle self) {
                               Library& lib = made<Library>(self);
                               LibraryCall release;
                               return lib.dim();
                             })
      .def("search", returning_objects(&Library::search))
      .def("like", returning_objects(&Library::like))
      .def("like_samples", returning_objects(&Library::like_samples))
      .def("similar", returning_objects(&Library::similar))
      .def("groups", returning_objects(&Library::groups))
      .def("playlist", returning_objects(&Library::playlist))
      .def("path", returning_objects(&Library::path))
      .def("duplicates", returning_objects(&Library::duplicates))
      .def("tracks", returning_objects(&Library::tracks))
      .def("search_vectors", answered_again(&Library::search_vectors));
  // A where expression checked as the query methods check theirs (Library(exclude_rule=...)
  // refuses a bad rule at construction, not at the first query).
  m.def("check_where", [](const std::string& text, const std::string& what) { service::parse_where(text, what); },
        py::arg("text"), py::arg("what"));
  m.def("default_db", [] { return fs_str(store::default_db_path()); });
  // An index location as the CLI shows it (a server URL's password as ***): Library's repr.
  m.def("display_location", [](const std::string& location) { return fs_str(store::display_location(location)); },
        py::arg("location"));
}

}  // namespace clap::python
