#include "server/api.h"

#include <httplib.h>

#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "core/deadline.h"
#include "core/error.h"
#include "server/api_request.h"
#include "server/assets.h"
#include "service/status.h"
#include "store/store.h"

namespace clap::server {

using service::json_num;
using service::ojson;

// One route: the row install() registers and routes() returns.
struct Api::Endpoint {
  const char* method;   // "GET", or "POST" for the route that reads a body
  const char* path;     // as openapi.json documents it; {name} is one path segment
  // A GET route's handler, run inside guarded().
  void (Api::*answer)(const Request&, Response&);
  // A route that reads a body (POST /api/like): it streams and bounds the body itself and
  // calls guarded() on its own, so no body is refused unread.
  void (Api::*read_body)(const Request&, Response&, const httplib::ContentReader&);
  const char* summary;  // the operation's "summary" in openapi.json (a test keeps them equal)
};

const std::vector<Api::Endpoint>& Api::endpoints() {
  static const std::vector<Endpoint> table = {
      {"GET", "/api/openapi.json", &Api::openapi_document, nullptr,
       "This document"},
      {"GET", "/api/status", &Api::status, nullptr,
       "Library status: counts, model, folders, errors"},
      {"GET", "/api/search", &Api::search, nullptr,
       "Text -> songs"},
      {"GET", "/api/artists", &Api::artists, nullptr,
       "Artists by text or like an artist: each artist's embedding is the normalised mean of its tracks' "
       "L2-normalised track embeddings (docs/user-guide.md, Artists and albums)"},
      {"GET", "/api/albums", &Api::albums, nullptr,
       "Albums by text or like an album: each album's embedding is the normalised mean of its tracks' "
       "L2-normalised track embeddings (docs/user-guide.md, Artists and albums)"},
      {"GET", "/api/sonic/resolve", &Api::sonic_resolve, nullptr,
       "A media server's song reference -> the indexed track, and the rule that matched (path suffix, MBID, "
       "ISRC, normalised artist + title within 3 s)"},
      {"GET", "/api/sonic/getSonicSimilarTracks", &Api::sonic_similar_tracks, nullptr,
       "Similar tracks of a song (OpenSubsonic sonicSimilarity shape), the seed and its duplicates left out"},
      {"GET", "/api/sonic/findSonicPath", &Api::sonic_path, nullptr,
       "A path of count tracks from the start song to the end song, both included (OpenSubsonic's findSonicPath); "
       "similarity is each track's to the start song (1.0 for the start itself); count 0: an empty path"},
      {"GET", "/api/sonic/similarToArtist", &Api::sonic_similar_to_artist, nullptr,
       "Songs like an artist's (the mean direction of their tracks' embeddings; Navidrome's Instant Mix of "
       "an artist), the artist's own tracks left out"},
      {"GET", "/api/sonic/similarToAlbum", &Api::sonic_similar_to_album, nullptr,
       "Songs like an album's (Navidrome's Instant Mix of an album), the album's own tracks left out"},
      {"GET", "/api/sonic/search", &Api::sonic_search, nullptr,
       "Songs for a description, in the sonicMatch shape"},
      {"GET", "/api/tracks", &Api::tracks, nullptr,
       "Track list with filters"},
      {"GET", "/api/tracks/{id}", &Api::track, nullptr,
       "One track: tags, windows, stored labels"},
      {"GET", "/api/tracks/{id}/audio", &Api::track_audio, nullptr,
       "The indexed file, with HTTP Range support (206, 416)"},
      {"GET", "/api/tracks/{id}/scores", &Api::track_scores, nullptr,
       "One track scored window by window for one text (the timeline of a match)"},
      {"GET", "/api/similar", &Api::similar, nullptr,
       "Song -> songs by track embedding"},
      {"GET", "/api/like", &Api::like_track, nullptr,
       "Query by example with an indexed track (its windows are the chunks)"},
      {"POST", "/api/like", nullptr, &Api::like_upload,
       "Query by example with uploaded audio (any format FFmpeg reads; multipart field \"file\", or the raw "
       "body)"},
      {"GET", "/api/classify", &Api::classify, nullptr,
       "Zero-shot classification of every track"},
      {"GET", "/api/analyze", &Api::analyze, nullptr,
       "Batch analysis: every track x every query, as CSV (default) or JSON"},
      {"GET", "/api/map", &Api::library_map, nullptr,
       "2-D map of the library (PCA of the track embeddings, deterministic)"},
      {"GET", "/api/users", &Api::users, nullptr,
       "The index's users (whose histories /api/taste and /api/mixes read), and the default one"},
      {"GET", "/api/taste", &Api::taste, nullptr,
       "A user's taste centres (clusters of what they play, star and rate): label, weight, top artists and "
       "genres, place on the map, the songs nearest each"},
      {"GET", "/api/mixes", &Api::mixes, nullptr,
       "The daily mixes clapsearch mix saved for a user, each song with its reason"},
  };
  return table;
}

namespace {

// cpp-httplib's pattern of an OpenAPI path: each {name} matches one path segment.
std::string pattern_of(const std::string& path) {
  std::string pattern;
  for (size_t at = 0; at < path.size();) {
    const size_t open = path.find('{', at);
    if (open == std::string::npos) {
      pattern += path.substr(at);
      break;
    }
    pattern += path.substr(at, open - at) + "([^/]+)";
    at = path.find('}', open) + 1;
  }
  return pattern;
}

}  // namespace

const std::vector<Route>& Api::routes() {
  static const std::vector<Route> all = [] {
    std::vector<Route> out;
    for (const Endpoint& e : endpoints()) out.push_back({e.method, e.path, pattern_of(e.path), e.summary});
    return out;
  }();
  return all;
}

std::string error_body(const std::string& error, const std::string& detail) {
  return dump(ojson{{"error", error}, {"detail", detail}});
}

void answer_and_close(httplib::Response& res, int status, const std::string& json_body, const std::string& content_type) {
  res.status = status;
  res.set_header("Connection", "close");
  auto text = std::make_shared<std::string>(json_body);
  res.set_content_provider(text->size(), content_type,
                           [text](size_t offset, size_t length, httplib::DataSink& sink) {
                             sink.write(text->data() + offset, length);
                             return false;  // stops the response after its last byte: cpp-httplib closes the connection
                           });
}

namespace {
// The library the request on this thread is answered with (Api::guarded sets it).
thread_local service::Library* pinned_library = nullptr;

// Pins a library for the request on this thread, and holds it alive until the answer is made.
class PinnedLibrary {
 public:
  explicit PinnedLibrary(std::shared_ptr<service::Library> library)
      : library_(std::move(library)), previous_(pinned_library) {
    pinned_library = library_.get();
  }
  ~PinnedLibrary() { pinned_library = previous_; }
  PinnedLibrary(const PinnedLibrary&) = delete;
  PinnedLibrary& operator=(const PinnedLibrary&) = delete;
  const service::Library& library() const { return *library_; }

 private:
  std::shared_ptr<service::Library> library_;
  service::Library* previous_;
};
}  // namespace

Api::Api(std::shared_ptr<service::Library> library, const ServerOptions& options, std::function<void()> reopen)
    : library_(std::move(library)), reopen_(std::move(reopen)), options_(options) {}

std::shared_ptr<service::Library> Api::library() const {
  std::lock_guard lock(library_mutex_);
  return library_;
}

void Api::set_library(std::shared_ptr<service::Library> library) {
  std::lock_guard lock(library_mutex_);
  library_ = std::move(library);
}

service::Library& Api::lib() {
  if (!pinned_library) throw std::logic_error("a route ran outside Api::guarded");
  return *pinned_library;
}

void Api::set_unavailable(const std::string& reason) {
  std::lock_guard lock(unavailable_mutex_);
  unavailable_ = reason;
}

std::string Api::unavailable() {
  std::lock_guard lock(unavailable_mutex_);
  return unavailable_;
}

// An error's detail with every indexed folder left out of the paths it names: a track is named
// relative to its folder, as the answers' display paths name it, never where the library
// lives on this machine (the service's messages, shared with the CLI, give full paths).
std::string without_roots(std::string detail, std::vector<std::string> roots) {
  for (std::string& r : roots)
    while (r.size() > 1 && r.back() == '/') r.pop_back();
  std::sort(roots.begin(), roots.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& r : roots) {
    if (r.size() < 2) continue;  // a library at / names its tracks from there anyway
    const std::string prefix = r + "/";
    for (size_t at = detail.find(prefix); at != std::string::npos; at = detail.find(prefix, at)) detail.erase(at, prefix.size());
  }
  return detail;
}

std::string public_model_name(const store::ModelIdentity& m) {
  // A hub model's id is "org/name" at a commit; a local folder's or file's is its absolute path
  // on the server (hub.h: revision "local"): only its last part is shown, with the content hash
  // that tells two local models of one name apart (as the upgrade test and clients need).
  const bool local = m.revision == "local" || m.id.empty() || m.id[0] == '/';
  if (!local) {
    std::string out = m.id;
    if (!m.revision.empty() && m.revision != "local") out.append("@").append(m.revision, 0, 12);
    return out;
  }
  std::string base = m.id;
  while (base.size() > 1 && (base.back() == '/' || base.back() == '\\')) base.pop_back();
  if (const size_t slash = base.find_last_of("/\\"); slash != std::string::npos) base = base.substr(slash + 1);
  if (base.empty()) base = "model";
  if (!m.content_hash.empty()) base.append(" (content ").append(m.content_hash, 0, 12).append(")");
  return base;
}

void Api::guarded(const httplib::Request& req, httplib::Response& res,
                  const std::function<void(const httplib::Request&, httplib::Response&)>& handler, bool check_available) {
  // Input errors, unknown tracks, busy model, bad audio and the unexpected all become JSON
  // errors; nothing else reaches the client.
  auto shown = [this](const std::string& detail) {
    try {
      return without_roots(detail, library()->snapshot()->roots());
    } catch (const std::exception&) {
      return detail;
    }
  };
  auto fail = [&res, &shown](int status, const std::string& error, const std::string& detail) {
    res.status = status;
    res.set_content(error_body(error, shown(detail)), "application/json; charset=utf-8");
  };
  try {
    refuse_repeated_params(req);
    if (check_available) {
      const std::string down = unavailable();
      if (!down.empty()) throw HttpError{503, "index unavailable", down};
    }
    // A request whose library's model was replaced under it (an upgrade switched the index's
    // active embedding set) is answered again on the new library: no error, no mixed answer.
    // Work that grows with the library (copies of one file, diversity, paths) stops at the
    // budget (core/deadline.h) instead of holding an HTTP thread for minutes (issue 53, M9).
    const ScopedDeadline budget(options_.request_budget_s);
    // A copy moved over the index is opened by the first request that sees it, as /rest/ does
    // (subsonic.cpp): the accounts connection (/api/users, taste, mixes) could not open it while
    // the library held the old file, and reads answered from the old file, until the refresh
    // loop's next look (hostile pass 16, H16P-3).
    // One stat when nothing changed; close_if_replaced closes the old file's connections, as the
    // reopen does first anyway.
    if (reopen_ && library()->close_if_replaced()) {
      try {
        reopen_();
      } catch (const std::exception& e) {
        throw HttpError{503, "index unavailable", e.what()};
      }
    }
    for (int attempt = 0;; ++attempt) {
      const PinnedLibrary pin(library());
      try {
        handler(req, res);
        // Which model answered: a client (and the upgrade test) can tell the sets apart. Once:
        // POST /api/like runs two guarded steps (reading the upload, answering).
        res.headers.erase("X-Clapsearch-Model");
        res.set_header("X-Clapsearch-Model", public_model_name(pin.library().identity()));
        break;
      } catch (const service::ModelChanged& e) {
        if (attempt > 0 || !reopen_) throw HttpError{503, "index unavailable", e.what()};
      }
      try {
        reopen_();
      } catch (const std::exception& e) {
        throw HttpError{503, "index unavailable", e.what()};
      }
    }
  } catch (const HttpError& e) {
    if (e.close) answer_and_close(res, e.status, error_body(e.error, shown(e.detail)));
    else fail(e.status, e.error, e.detail);
  } catch (const DeadlineExceeded& e) {
    res.set_header("Retry-After", "10");
    fail(503, "request budget exceeded", e.what());
  } catch (const service::Busy& e) {
    res.set_header("Retry-After", "2");
    fail(429, "busy", e.what());
  } catch (const Error& e) {
    // The index itself failing (its file damaged or unreadable, its PostgreSQL server gone) is
    // the server's trouble, not the request's: 503, as when the background reload notices it.
    if (store::is_unavailable(e)) fail(503, "index unavailable", e.what());
    else fail(400, "cannot answer", e.what());
  } catch (const std::bad_alloc&) {
    fail(503, "out of memory", "the request needed more memory than is available");
  } catch (const std::exception& e) {
    fail(500, "internal error", e.what());
  }
}

void Api::install(httplib::Server& http) {
  for (const Endpoint& e : endpoints()) {
    if (e.read_body) {
      http.Post(pattern_of(e.path), [this, &e](const Request& req, Response& res, const httplib::ContentReader& reader) {
        (this->*e.read_body)(req, res, reader);
      });
    } else if (std::string_view(e.method) == "GET") {
      http.Get(pattern_of(e.path), [this, &e](const Request& req, Response& res) {
        guarded(req, res, [this, &e](const Request& r, Response& out) { (this->*e.answer)(r, out); });
      });
    } else {
      throw std::logic_error("a route that reads a body streams it (see POST /api/like)");
    }
  }
}

void Api::openapi_document(const httplib::Request&, httplib::Response& res) {
  for (const Asset& a : assets())
    if (a.name == "openapi.json") return res.set_content(reinterpret_cast<const char*>(a.data), a.size, "application/json");
  throw HttpError{404, "not found", "no API document in this build"};
}

namespace {
// How --precision auto chose the index's precision (service/precision_choice.h), as the index
// records it; null when the precision was given.
ojson precision_choice_record(const store::ModelIdentity& m) {
  ojson choice = ojson::parse(m.precision_choice, nullptr, false);
  if (choice.is_discarded() || !choice.is_object()) return nullptr;
  return choice;
}
}  // namespace

void Api::status(const httplib::Request&, httplib::Response& res) {
  const auto snap = lib().snapshot();
  std::shared_ptr<const service::LibraryStatus> counted;
  {
    std::lock_guard lock(status_mutex_);
    if (!status_ || status_generation_ != snap->library_generation()) {
      status_ = std::make_shared<service::LibraryStatus>(service::library_status(lib().location(), {}, service::EmbeddingCheck::None));
      status_generation_ = snap->library_generation();
    }
    counted = status_;
  }
  const service::LibraryStatus& st = *counted;
  std::map<std::string, int64_t> per_root;
  for (const auto& t : snap->tracks()) ++per_root[snap->root_of(t.path)];
  ojson folders = ojson::array();
  for (const auto& [root, n] : per_root) folders.push_back({{"folder", root.empty() ? "(outside the indexed folders)" : root}, {"tracks", n}});
  ojson errors = ojson::array();
  for (const auto& e : st.errors) errors.push_back({{"path", e.path}, {"reason", e.reason}});
  const store::ModelIdentity& m = snap->identity();
  ojson sets = ojson::array();
  for (const store::EmbeddingSet& e : st.sets) sets.push_back(service::embedding_set_record<ojson>(e));
  const service::Coverage coverage = service::library_coverage(st.counts);
  send(res, {{"db", st.db_path},
             {"db_bytes", st.db_bytes},
             {"model", m.describe()},
             {"model_id", m.id},
             {"window_s", m.window_s},
             {"hop_s", m.hop_s},
             {"dim", m.dim},
             {"precision", m.precision},
             {"precision_choice", precision_choice_record(m)},
             {"tracks", st.counts.tracks},
             {"ok", st.counts.ok},
             {"errors", st.counts.errors},
             {"silent_tracks", st.counts.silent_tracks},
             {"windows", st.counts.windows},
             {"silent_windows", st.counts.silent_windows},
             // Progressive indexing (index/passes.h): windows indexed of the ok tracks' total.
             {"coverage", {{"windows", coverage.windows},
                           {"window_total", coverage.window_total},
                           {"fraction", coverage.fraction},  // as `clapsearch status --json` gives it
                           {"complete_tracks", coverage.complete_tracks},
                           {"first_pass_tracks", coverage.first_pass_tracks},
                           {"text", service::coverage_text(coverage)}}},
             {"audio_seconds", json_num(st.counts.audio_seconds)},
             {"generation", snap->library_generation()},
             {"serving_tracks", snap->tracks().size()},
             {"roots", snap->roots()},
             {"folders", folders},
             {"error_list", errors},
             {"embedding_sets", sets}});
}

void Api::library_map(const httplib::Request&, httplib::Response& res) {
  const auto snap = lib().snapshot();
  ojson points = ojson::array();
  ojson explained = ojson::array({0.0, 0.0});
  if (snap->searchable()) {
    const search::Projection2D& p = snap->track_map();
    explained = ojson::array({json_num(p.explained[0]), json_num(p.explained[1])});
    for (size_t i = 0; i < p.ids.size(); ++i) {
      const store::Track* t = snap->track(p.ids[i]);
      if (!t) continue;
      ojson labels = ojson::array();
      for (const auto& l : snap->labels_of(t->id)) labels.push_back(l.label);
      points.push_back({{"track_id", t->id},
                        {"x", json_num(p.x[i])},
                        {"y", json_num(p.y[i])},
                        {"display_path", snap->display_path(t->path)},
                        {"folder", folder_of(*snap, *t)},
                        {"title", t->title},
                        {"artist", t->artist},
                        {"album", t->album},
                        {"genre", t->genre},
                        {"labels", labels},
                        {"audio_url", audio_url(t->id)}});
    }
  }
  send(res, {{"points", points}, {"explained_variance", explained}});
}

}  // namespace clap::server
