// The query routes: search (text -> songs), similar (song -> songs), like (query by example:
// an indexed track, mixed terms, or uploaded audio), classify and analyze.

#include <sys/mman.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include "audio/media_unavailable.h"
#include "core/error.h"
#include "core/utf8.h"
#include "server/api.h"
#include "server/api_request.h"
#include "server/connection.h"
#include "service/diversity.h"
#include "service/queries.h"
#include "service/ranked_queries.h"

namespace clap::server {

namespace fs = std::filesystem;
using service::json_num;
using service::ojson;

// An uploaded query, as read from the request body.
struct Upload {
  std::string name = "upload";  // the client's file name (multipart), for messages
  std::string bytes;
};

namespace {

// An uploaded query held in memory and decoded from there (as untrusted bytes: read through
// our own I/O context, audio demuxers only, no nested opens; audio/decode.h): nothing a client
// sends is written to the file system, and FFmpeg opens nothing else because of it.
class MemoryFile {
 public:
  explicit MemoryFile(const std::string& bytes) {
    fd_ = memfd_create("clapsearch-query", MFD_CLOEXEC);
    if (fd_ < 0) throw Error("cannot hold the upload in memory");
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n <= 0) throw Error("cannot hold the upload in memory");
      done += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemoryFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

std::string upload_name(const std::string& given) {
  std::string name = fs::path(given).filename().string();
  if (name.empty() || !is_valid_utf8(name) || name.size() > 200) name = "upload";
  return name;
}

// Past the limit, this much more of a body is read and thrown away so that a body a little
// over the limit ends cleanly and the client reads the 413 (a connection closed with unread
// bytes is reset, and the answer may be lost); a larger one is cut there.
constexpr int64_t kDrainBytes = 8 << 20;

// Reads POST /api/like's body (multipart field "file", or the raw body) counting bytes as they
// arrive, with Content-Length, chunked or neither: the file stops being kept at `max_file`
// bytes, the whole body at max_file + 1 MB (the multipart envelope, the other fields); then
// 413. Never holds more than the limit. A body that comes too slowly (connection.h) is 408.
Upload read_upload(const httplib::Request& req, const httplib::ContentReader& reader, int64_t max_file, int body_timeout_s) {
  const int64_t max_total = max_file + (1 << 20);
  Upload u;
  int64_t total = 0, drained = 0;
  bool over = false;
  // Counts n more bytes of the body; false stops the read.
  auto count = [&](size_t n) {
    total += static_cast<int64_t>(n);
    if (!over && total > max_total) over = true;
    if (over) {
      std::string().swap(u.bytes);
      drained += static_cast<int64_t>(n);
      return drained <= kDrainBytes;
    }
    return true;
  };
  auto keep = [&](const char* data, size_t n) {
    if (over) return;
    if (static_cast<int64_t>(u.bytes.size() + n) > max_file) {
      over = true;
      std::string().swap(u.bytes);
      return;
    }
    u.bytes.append(data, n);
  };
  bool complete = false, have_file = false;
  if (req.is_multipart_form_data()) {
    bool in_file = false;
    complete = reader(
        [&](const httplib::MultipartFormData& part) {
          in_file = part.name == "file" && !have_file;
          if (in_file) have_file = true, u.name = upload_name(part.filename);
          return count(part.name.size() + part.filename.size() + part.content_type.size());
        },
        [&](const char* data, size_t n) {
          if (in_file) keep(data, n);
          return count(n);
        });
  } else {
    have_file = true;
    complete = reader([&](const char* data, size_t n) {
      keep(data, n);
      return count(n);
    });
  }
  // A chunked body whose framing broke (a size that is not hexadecimal digits, a chunk over the
  // limit: connection.h) is refused at that byte, not waited for until its deadline.
  if (const HeadRefusal& broken = body_refusal(); broken.status != 0) throw HttpError{broken.status, broken.error, broken.detail, true};
  if (over)
    throw HttpError{413, "upload too large",
                    u.name + ": over the limit of " + std::to_string(max_file >> 20) + " MB" +
                        (max_file < (1 << 20) ? " (" + std::to_string(max_file) + " bytes)" : ""),
                    !complete};
  if (!complete && request_timed_out())
    throw HttpError{408, "request timeout",
                    "the upload came too slowly: a request body must arrive within " + std::to_string(body_timeout_s) +
                        " s plus " + std::to_string(kBodySecondsPerMB) + " s per MB received (100 KB/s on average)",
                    true};
  if (!complete) throw HttpError{400, "bad request", "the request body could not be read (malformed multipart?)", true};
  if (!have_file) throw HttpError{400, "missing upload", "send the audio as the multipart field \"file\""};
  return u;
}

// A list that diversity or collapsing left shorter than asked for says why (a library of copies).
void add_short_list_note(ojson& answer, const service::RankedRequest& request, size_t listed, int64_t wanted) {
  if (request.diversity < 0 && !request.collapse) return;
  if (const std::string note = service::short_list_note(listed, wanted); !note.empty()) answer["note"] = note;
}

// Terms resolved as the server takes them: tracks of this index only, a bad term 400, an unknown
// track 404 (resolve_terms).
service::TermResolver term_resolver(service::Library& lib, const service::LibrarySnapshot& snap) {
  return [&lib, &snap](const std::vector<service::QueryTerm>& terms, bool need_positive) {
    return resolve_terms(lib, snap, terms, need_positive);
  };
}

}  // namespace

void Api::search(const httplib::Request& req, httplib::Response& res) {
  const bool mixed = has_seed_terms(req, false);
  const auto texts = mixed && !req.has_param("q") ? std::vector<std::string>{} : texts_param(req, "q", options_.max_queries);
  search::TextSearchOptions o;
  service::SearchRequest request;
  const int64_t k = int_param(req, "k", 10, 1, options_.max_k);
  request.k = k;
  request.diversity = num_param(req, "diversity", -1, 0, 1);  // -1: not asked for
  request.collapse = flag_param(req, "collapse_duplicates");
  const std::string aggregate = req.has_param("aggregate") ? req.get_param_value("aggregate") : "mean";
  if (aggregate != "mean" && aggregate != "max") throw HttpError{400, "bad parameter", "aggregate: mean or max"};
  o.aggregate = search::parse_aggregate(aggregate);
  o.thresholds.high = num_param(req, "high", 0.3, -1, 1);
  o.thresholds.moderate = num_param(req, "moderate", 0.15, -1, 1);
  if (o.thresholds.high < o.thresholds.moderate) throw HttpError{400, "bad parameter", "high must be at least moderate"};
  const service::ResultRules parsed = rules_param(req, options_.max_k);
  const auto snap = lib().snapshot();
  request.rules = music_only(parsed, req, options_.exclude, *snap);
  ojson queries = ojson::array();
  if (!snap->searchable()) {
    for (const auto& t : texts) queries.push_back({{"query", t}, {"results", ojson::array()}});
    return send(res, {{"queries", queries}});
  }
  request.texts = texts;
  request.options = o;
  if (mixed) {
    request.mixed = true;
    request.terms = seed_terms_param(req, options_.max_queries, false);
    request.resolve = term_resolver(lib(), *snap);
  }
  const service::SearchAnswer answer = service::search_query(lib(), *snap, request);
  std::vector<std::string> names = texts;
  if (names.empty()) names.push_back("");  // the seeds alone: one query
  for (size_t q = 0; q < names.size(); ++q) {
    const std::vector<search::TrackScore>& list_of = answer.lists[q].results;
    const std::vector<std::vector<int64_t>>& copies = answer.lists[q].copies;
    ojson list = ojson::array();
    for (size_t r = 0; r < list_of.size(); ++r) {
      ojson j = service::text_result_record(*snap, list_of[r], r + 1);
      add_playback(*snap, j, list_of[r].track_id, list_of[r].stats.best_start);
      if (request.collapse) j["copies"] = copies[r];
      list.push_back(std::move(j));
    }
    ojson one = {{"query", names[q]}, {"results", list}};
    add_short_list_note(one, request, list_of.size(), k);
    queries.push_back(std::move(one));
  }
  send(res, {{"queries", queries}});
}

void Api::similar(const httplib::Request& req, httplib::Response& res) {
  service::SimilarRequest request;
  const int64_t wanted = int_param(req, "k", 10, 1, options_.max_k);
  request.k = wanted;
  request.diversity = num_param(req, "diversity", -1, 0, 1);  // -1: not asked for
  request.collapse = flag_param(req, "collapse_duplicates");
  const service::ResultRules parsed = rules_param(req, options_.max_k);
  const auto snap = lib().snapshot();
  request.rules = music_only(parsed, req, options_.exclude, *snap);
  if (has_seed_terms(req, true)) {
    const std::string first = req.has_param("track") ? req.get_param_value("track") : "";
    request.mixed = true;
    request.terms = seed_terms_param(req, options_.max_queries, true, first);
    request.resolve = term_resolver(lib(), *snap);
  } else {
    request.track = &track_param(req, *snap);
  }
  const service::SimilarAnswer answer = service::similar_query(lib(), *snap, request);
  const std::vector<search::Hit>& hits = answer.list.results;
  const std::vector<std::vector<int64_t>>& copies = answer.list.copies;
  ojson query;
  if (answer.mixed) {
    query = {{"seed_tracks", answer.mixed->seed_tracks}, {"terms", terms_json(*answer.mixed)}};
  } else {
    const store::Track& t = *request.track;
    query = {{"track_id", t.id}, {"display_path", snap->display_path(t.path)}, {"title", t.title}, {"artist", t.artist}};
  }
  ojson list = ojson::array();
  size_t rank = 0;
  for (const auto& h : hits) {
    ojson j = service::similar_result_record(*snap, h, ++rank);
    add_playback(*snap, j, h.id, 0);
    ojson labels = ojson::array();
    for (const auto& l : snap->labels_of(h.id)) labels.push_back(l.label);
    j["labels"] = labels;
    if (request.collapse) j["copies"] = copies[rank - 1];
    list.push_back(std::move(j));
  }
  ojson out = {{"query", query}, {"results", list}};
  add_short_list_note(out, request, hits.size(), wanted);
  send(res, out);
}

void Api::like_track(const httplib::Request& req, httplib::Response& res) { like(req, res, nullptr); }

// The one route that takes a body: read here, counted as it arrives (never through
// cpp-httplib's whole-body read, which does not bound a chunked body).
void Api::like_upload(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
  // The body first, whatever the answer: refusing with it unread would leave it on the connection.
  std::optional<Upload> upload;
  guarded(
      req, res,
      [&](const httplib::Request& r, httplib::Response&) {
        upload = read_upload(r, reader, options_.max_upload_bytes, std::max(1, options_.body_timeout_s));
      },
      /*check_available=*/false);
  if (upload) guarded(req, res, [&](const httplib::Request& r, httplib::Response& out) { like(r, out, &*upload); });
}

void Api::like(const httplib::Request& req, httplib::Response& res, const Upload* upload) {
  service::LikeRequest request;
  const int64_t wanted = int_param(req, "k", 10, 1, options_.max_k);
  request.k = wanted;
  request.diversity = num_param(req, "diversity", -1, 0, 1);  // -1: not asked for
  request.collapse = flag_param(req, "collapse_duplicates");
  request.options.per_chunk = static_cast<int>(int_param(req, "per_chunk", 5, 1, 100));
  request.options.vote_weight = num_param(req, "vote_weight", 0.2, 0, 1);
  const service::ResultRules parsed = rules_param(req, options_.max_k);
  const auto snap = lib().snapshot();
  request.rules = music_only(parsed, req, options_.exclude, *snap);
  if (!snap->searchable()) throw HttpError{400, "nothing to search", "the index has no searchable tracks yet"};
  search::QueryChunks uploaded;
  ojson query;
  if (req.method == "GET" && has_seed_terms(req, true)) {
    const std::string first = req.has_param("track") ? req.get_param_value("track") : "";
    request.mixed = true;
    request.terms = seed_terms_param(req, options_.max_queries, true, first);
  } else if (req.method == "GET") {
    request.track = &track_param(req, *snap);
    request.exclude_self = flag_param(req, "exclude_self");
    const store::Track& t = *request.track;
    query = {{"name", snap->display_path(t.path)}, {"track_id", t.id}, {"duration_s", json_num(t.duration_s)}};
  } else {
    const std::string& name = upload->name;
    const std::string* bytes = &upload->bytes;
    if (bytes->empty()) throw HttpError{400, "missing upload", "the request has no audio (multipart field \"file\")"};
    if (static_cast<int64_t>(bytes->size()) > options_.max_upload_bytes)
      throw HttpError{413, "upload too large",
                      name + ": " + std::to_string(bytes->size() >> 20) + " MB, over the limit of " +
                          std::to_string(options_.max_upload_bytes >> 20) + " MB"};
    const MemoryFile file(*bytes);
    try {
      uploaded = service::file_query_chunks(lib(), file.path(), 0, 0, options_.max_query_seconds, /*untrusted=*/true);
    } catch (const service::Busy&) {
      throw;
    } catch (const audio::MediaLibraryUnavailable& e) {
      // No upload can be decoded until the server's media libraries are put right: the server's
      // fault, not the file's (was 415 "not audio": hostile pass 20, H20S-1).
      throw HttpError{503, "audio decoding unavailable", e.what()};
    } catch (const service::UndecodableAudio& e) {
      throw HttpError{415, "not audio", replace_all(e.what(), file.path(), name)};
    } catch (const service::AudioTooLong& e) {
      throw HttpError{413, "query too long", replace_all(e.what(), file.path(), name)};
    } catch (const Error& e) {
      throw HttpError{400, "cannot use the query audio", replace_all(e.what(), file.path(), name)};
    }
    const double duration = uploaded.size() ? uploaded.ends.back() : 0;
    query = {{"name", name}, {"track_id", -1}, {"duration_s", json_num(duration)}};
    request.decoded = &uploaded;
    // The upload is the first positive seed; seed, text, not and not_like add to it as on GET
    // (service::mixed_query_chunks, as the CLI's `like FILE --seed … --not …`).
    if (has_seed_terms(req, true)) request.mixed = true, request.terms = seed_terms_param(req, options_.max_queries, true);
  }
  if (request.mixed) request.resolve = term_resolver(lib(), *snap);
  const service::LikeAnswer answer = service::like_query(lib(), *snap, request);
  if (answer.mixed) {
    query["seed_tracks"] = answer.mixed->seed_tracks;
    query["terms"] = terms_json(*answer.mixed);
  }
  const search::QueryChunks& chunks = answer.chunks;
  const std::vector<search::LikeResult>& results = answer.list.results;
  const std::vector<std::vector<int64_t>>& copies = answer.list.copies;
  ojson chunk_list = ojson::array();
  for (int64_t i = 0; i < chunks.size(); ++i)
    chunk_list.push_back({{"index", i},
                          {"start", json_num(chunks.starts[i])},
                          {"end", json_num(chunks.ends[i])},
                          {"silent", !chunks.silent.empty() && chunks.silent[i] != 0}});
  ojson list = ojson::array();
  size_t rank = 0;
  for (const auto& r : results) {
    ojson j = service::like_result_record(*snap, r, ++rank);
    const double start = r.matches.empty() ? 0 : r.matches.front().start;
    add_playback(*snap, j, r.track_id, start);
    ojson labels = ojson::array();
    for (const auto& l : snap->labels_of(r.track_id)) labels.push_back(l.label);
    j["labels"] = labels;
    for (size_t m = 0; m < r.matches.size(); ++m) j["matches"][m]["chunk"] = r.matches[m].chunk;
    if (request.collapse) j["copies"] = copies[rank - 1];
    list.push_back(std::move(j));
  }
  ojson out = {{"query", query}, {"chunks", chunk_list}, {"results", list}};
  add_short_list_note(out, request, results.size(), wanted);
  send(res, out);
}

void Api::classify(const httplib::Request& req, httplib::Response& res) {
  const auto labels = texts_param(req, "label", options_.max_queries);
  if (labels.size() < 2) throw HttpError{400, "bad parameter", "label: give at least two labels to choose between"};
  const std::string templ = req.has_param("template") ? text_value("template", req.get_param_value("template"))
                                                      : std::string(search::kDefaultLabelTemplate);
  const int64_t top = int_param(req, "top", 3, 1, static_cast<int64_t>(labels.size()));
  const auto snap = lib().snapshot();
  ojson list = ojson::array();
  if (snap->searchable()) {
    const Embeddings& e = snap->track_embeddings();
    std::vector<search::Classification> results;
    try {
      results = service::classify(lib(), e.size(), e.data.data(), labels, templ, top);
    } catch (const service::Busy&) {
      throw;
    } catch (const Error& err) {
      throw HttpError{400, "bad parameter", err.what()};
    }
    for (int64_t i = 0; i < e.size(); ++i) {
      const store::Track* t = snap->track(e.ids[i]);
      ojson topj = ojson::array();
      for (const auto& h : results[i].top) topj.push_back({{"label", labels[h.id]}, {"probability", json_num(h.score)}});
      list.push_back({{"track_id", e.ids[i]},
                      {"display_path", t ? snap->display_path(t->path) : ""},
                      {"title", t ? t->title : ""},
                      {"artist", t ? t->artist : ""},
                      {"label", results[i].top.empty() ? "" : labels[results[i].top[0].id]},
                      {"score", results[i].top.empty() ? 0.0 : json_num(results[i].top[0].score)},
                      {"top", topj}});
    }
  }
  send(res, {{"labels", labels}, {"results", list}});
}

void Api::analyze(const httplib::Request& req, httplib::Response& res) {
  const auto texts = texts_param(req, "q", options_.max_queries);
  const std::string format = req.has_param("format") ? req.get_param_value("format") : "csv";
  if (format != "csv" && format != "json") throw HttpError{400, "bad parameter", "format: csv or json"};
  search::AnalyzeOptions o;
  o.thresholds.high = num_param(req, "high", 0.3, -1, 1);
  o.thresholds.moderate = num_param(req, "moderate", 0.15, -1, 1);
  const auto snap = lib().snapshot();
  std::vector<search::AnalyzeRow> rows;
  if (snap->searchable()) rows = service::analyze_texts(lib(), *snap, texts, o);
  if (format == "json") {
    ojson list = ojson::array();
    for (const auto& r : rows) list.push_back(service::analyze_row_record(*snap, r, texts[r.query], o.aggregate));
    return send(res, {{"rows", list}});
  }
  std::string csv = service::csv_line(service::analyze_csv_header(), "\r\n");
  for (const auto& r : rows) csv += service::csv_line(service::analyze_csv_row(*snap, r, texts[r.query]), "\r\n");
  // Declared UTF-8, so it is: a path or tag of other bytes gets U+FFFD, as in the JSON form.
  if (std::string valid; sanitize_utf8(csv, valid)) csv = std::move(valid);
  res.set_header("Content-Disposition", "attachment; filename=\"analysis.csv\"");
  res.set_content(csv, "text/csv; charset=utf-8");
}

}  // namespace clap::server
