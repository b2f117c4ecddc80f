#include "server/api.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "core/error.h"
#include "core/utf8.h"
#include "server/assets.h"
#include "service/aggregates.h"
#include "service/queries.h"
#include "service/records.h"
#include "service/diversity.h"
#include "service/seeds.h"
#include "service/sonic.h"
#include "service/status.h"

namespace clap::server {

namespace fs = std::filesystem;
using service::json_num;
using service::ojson;

namespace {

// A request the route refuses, with the status it answers.
struct HttpError {
  int status;
  std::string error, detail;
  bool close = false;  // the request body was not read to its end: the connection must not go on
};

// Any bytes (paths and tags may hold invalid UTF-8) become valid JSON text: invalid sequences
// are replaced by U+FFFD.
std::string dump(const ojson& j) { return service::json_text(j); }

void send(httplib::Response& res, const ojson& j) { res.set_content(dump(j), "application/json; charset=utf-8"); }

// --- parameters ------------------------------------------------------------------------------

constexpr size_t kMaxTextBytes = 2000;

std::string text_value(const std::string& name, const std::string& v) {
  if (v.size() > kMaxTextBytes)
    throw HttpError{400, "bad parameter", name + ": longer than " + std::to_string(kMaxTextBytes) + " bytes"};
  if (v.find('\0') != std::string::npos || !is_valid_utf8(v))
    throw HttpError{400, "bad parameter", name + ": not valid UTF-8 text"};
  if (v.find_first_not_of(" \t\r\n") == std::string::npos) throw HttpError{400, "bad parameter", name + ": empty"};
  return v;
}

std::vector<std::string> texts_param(const httplib::Request& req, const std::string& name, int max) {
  std::vector<std::string> out;
  const size_t n = req.get_param_value_count(name);
  if (n == 0) throw HttpError{400, "missing parameter", name + ": give at least one (?" + name + "=...)"};
  if (n > static_cast<size_t>(max))
    throw HttpError{400, "bad parameter", name + ": at most " + std::to_string(max) + " values"};
  for (size_t i = 0; i < n; ++i) out.push_back(text_value(name, req.get_param_value(name, i)));
  return out;
}

std::string optional_text(const httplib::Request& req, const std::string& name) {
  if (!req.has_param(name)) return "";
  const std::string v = req.get_param_value(name);
  if (v.empty()) return "";
  return text_value(name, v);
}

int64_t int_param(const httplib::Request& req, const std::string& name, int64_t def, int64_t lo, int64_t hi) {
  if (!req.has_param(name)) return def;
  const std::string v = req.get_param_value(name);
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
    throw HttpError{400, "bad parameter", name + ": not a whole number"};
  const int64_t x = std::stoll(v);
  if (x < lo || x > hi)
    throw HttpError{400, "bad parameter", name + ": must be between " + std::to_string(lo) + " and " + std::to_string(hi)};
  return x;
}

double num_param(const httplib::Request& req, const std::string& name, double def, double lo, double hi) {
  if (!req.has_param(name)) return def;
  const std::string v = req.get_param_value(name);
  char* end = nullptr;
  const double x = v.size() > 40 ? NAN : std::strtod(v.c_str(), &end);
  if (v.empty() || !end || *end != '\0' || !std::isfinite(x)) throw HttpError{400, "bad parameter", name + ": not a number"};
  if (x < lo || x > hi)
    throw HttpError{400, "bad parameter", name + ": must be between " + service::json_float(float(lo)) + " and " +
                                              service::json_float(float(hi))};
  return x;
}

bool flag_param(const httplib::Request& req, const std::string& name) {
  if (!req.has_param(name)) return false;
  const std::string v = req.get_param_value(name);
  if (v.empty() || v == "1" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  throw HttpError{400, "bad parameter", name + ": true or false"};
}

const store::Track& track_of(const service::LibrarySnapshot& snap, const std::string& id_text) {
  if (id_text.empty() || id_text.size() > 18 || id_text.find_first_not_of("0123456789") != std::string::npos)
    throw HttpError{404, "unknown track", "track ids are whole numbers"};
  const store::Track* t = snap.track(std::stoll(id_text));
  if (!t) throw HttpError{404, "unknown track", "no track " + id_text + " in the index"};
  return *t;
}

const store::Track& track_param(const httplib::Request& req, const service::LibrarySnapshot& snap) {
  if (!req.has_param("track")) throw HttpError{400, "missing parameter", "track: a track id"};
  return track_of(snap, req.get_param_value("track"));
}

// --- media servers' song references (service/song_resolver.h) -------------------------------

// A parameter of a song reference: "path", or with a prefix "startPath".
std::string ref_name(const std::string& prefix, const std::string& name) {
  if (prefix.empty()) return name;
  return prefix + static_cast<char>(std::toupper(static_cast<unsigned char>(name[0]))) + name.substr(1);
}

struct ResolvedSong {
  const store::Track* track = nullptr;
  std::string rule;  // "track" (our id), or service::rule_name
};

// The song a request names through `prefix`'s parameters: track (an id of this index), path,
// mbid, isrc, artist, title (or name), album, duration (seconds) or durationMs. 400 when none is
// given, 404 with what was tried when nothing matches.
ResolvedSong song_param(const httplib::Request& req, const service::LibrarySnapshot& snap, const std::string& prefix) {
  const std::string what = prefix.empty() ? "the song" : prefix + " song";
  if (req.has_param(ref_name(prefix, "track")))
    return {&track_of(snap, req.get_param_value(ref_name(prefix, "track"))), "track"};
  service::SongRef ref;
  ref.path = optional_text(req, ref_name(prefix, "path"));
  ref.mbid = optional_text(req, ref_name(prefix, "mbid"));
  ref.isrc = optional_text(req, ref_name(prefix, "isrc"));
  ref.artist = optional_text(req, ref_name(prefix, "artist"));
  ref.title = optional_text(req, ref_name(prefix, "title"));
  if (ref.title.empty()) ref.title = optional_text(req, ref_name(prefix, "name"));
  ref.album = optional_text(req, ref_name(prefix, "album"));
  ref.duration_s = num_param(req, ref_name(prefix, "duration"), 0, 0, 1e7);
  if (const double ms = num_param(req, ref_name(prefix, "durationMs"), 0, 0, 1e10); ms > 0) ref.duration_s = ms / 1000;
  if (ref.empty())
    throw HttpError{400, "missing parameter",
                    what + ": give " + ref_name(prefix, "track") + ", " + ref_name(prefix, "path") + ", " +
                        ref_name(prefix, "mbid") + ", " + ref_name(prefix, "isrc") + " or " + ref_name(prefix, "artist") +
                        " and " + ref_name(prefix, "title")};
  const service::Resolution r = snap.song_index().resolve(ref);
  if (!r.track) throw HttpError{404, "unknown song", what + " is not in the index: " + r.reason};
  return {r.track, service::rule_name(r.rule)};
}

// where, per_artist, per_album (service/filters.h): a bad expression is a 400 carrying the
// parser's message (reason, column, the expression with a caret); its length and nesting are
// bounded by the parser (search::kMaxFilterLength, kMaxFilterDepth).
service::ResultRules rules_param(const httplib::Request& req, int64_t max_cap) {
  service::ResultRules r;
  try {
    r.where = service::parse_where(optional_text(req, "where"), "where");
  } catch (const InvalidArgument& e) {
    throw HttpError{400, "bad parameter", e.what()};
  }
  r.per_artist = int_param(req, "per_artist", 0, 0, max_cap);
  r.per_album = int_param(req, "per_album", 0, 0, max_cap);
  return r;
}

// The server's music-only rule (ServerOptions::exclude) added to `rules`, unless exclude=false.
service::ResultRules music_only(service::ResultRules rules, const httplib::Request& req, const search::Filter& rule,
                                const service::LibrarySnapshot& snap) {
  if (req.has_param("exclude") && !flag_param(req, "exclude")) return rules;
  return service::excluding_rule(std::move(rules), rule, snap.tracks());
}

// seed, not_like (track ids of this index, ID[:WEIGHT]), text, not (TEXT[:WEIGHT]), each
// repeatable: the terms of a mixed query (service/seeds.h), `first` (an id; empty: none) first.
// Texts only where `texts` (search takes its texts as q).
std::vector<service::QueryTerm> seed_terms_param(const httplib::Request& req, int max, bool texts, const std::string& first = "") {
  using service::TermKind;
  std::vector<service::QueryTerm> out;
  if (!first.empty()) out.push_back({TermKind::Audio, first, false, "track"});
  auto add = [&](const std::string& name, TermKind kind, bool negative) {
    const size_t n = req.get_param_value_count(name);
    if (n > static_cast<size_t>(max)) throw HttpError{400, "bad parameter", name + ": at most " + std::to_string(max) + " values"};
    for (size_t i = 0; i < n; ++i) out.push_back({kind, text_value(name, req.get_param_value(name, i)), negative, name});
  };
  add("seed", TermKind::Audio, false);
  if (texts) add("text", TermKind::Text, false);
  add("not", TermKind::Text, true);
  add("not_like", TermKind::Audio, true);
  return out;
}

// A resolved query's terms as the answer echoes them.
ojson terms_json(const service::MixedQuery& q) {
  ojson a = ojson::array();
  for (const auto& t : q.terms)
    a.push_back({{"kind", t.kind == service::TermKind::Text ? "text" : "track"},
                 {"value", t.value},
                 {"weight", json_num(t.weight)},
                 {"negative", t.negative},
                 {"track_id", t.track_id}});
  return a;
}

bool has_seed_terms(const httplib::Request& req, bool texts) {
  return req.has_param("seed") || req.has_param("not") || req.has_param("not_like") || (texts && req.has_param("text"));
}

// The terms resolved (seeds: tracks of this index only): a bad weight or an empty list is a
// 400, a seed not in the index a 404.
service::MixedQuery resolve_terms(service::Library& lib, const service::LibrarySnapshot& snap,
                                  const std::vector<service::QueryTerm>& terms, bool need_positive = true) {
  try {
    return service::resolve_query(lib, snap, terms, /*allow_files=*/false, need_positive);
  } catch (const service::Busy&) {
    throw;
  } catch (const InvalidArgument& e) {
    throw HttpError{400, "bad parameter", e.what()};
  } catch (const Error& e) {
    throw HttpError{404, "unknown track", e.what()};
  }
}

service::SonicOptions sonic_options(const httplib::Request& req, int64_t default_count, int64_t max_count) {
  service::SonicOptions o;
  o.count = int_param(req, "count", default_count, 1, max_count);
  o.per_artist = int_param(req, "perArtist", 0, 0, max_count);
  o.exclude_duplicates = req.has_param("excludeDuplicates") ? flag_param(req, "excludeDuplicates") : true;
  o.duplicate_cosine = num_param(req, "duplicateCosine", o.duplicate_cosine, 0, 1);
  return o;
}

// Every identifier of a track, named as OpenSubsonic and Navidrome name them, so that a media
// server matches the result back to its own library (path: relative to the indexed folder).
ojson sonic_entry(const service::LibrarySnapshot& snap, const store::Track& t) {
  return {{"trackId", t.id},
          {"path", snap.display_path(t.path)},
          {"title", t.title},
          {"name", t.title},  // Navidrome's SongRef key for the title
          {"artist", t.artist},
          {"album", t.album},
          {"albumArtist", t.album_artist},
          {"mbid", t.mbid},
          {"isrc", t.isrc},
          {"duration", json_num(t.duration_s)},
          {"durationMs", static_cast<int64_t>(std::llround(t.duration_s * 1000))}};
}

ojson sonic_matches(const service::LibrarySnapshot& snap, const std::vector<service::SonicMatch>& matches) {
  ojson list = ojson::array();
  for (const auto& m : matches) list.push_back({{"entry", sonic_entry(snap, *m.track)}, {"similarity", json_num(m.similarity)}});
  return list;
}

ojson resolved_record(const service::LibrarySnapshot& snap, const ResolvedSong& s) {
  return {{"entry", sonic_entry(snap, *s.track)}, {"rule", s.rule}};
}

// --- records ---------------------------------------------------------------------------------

std::string audio_url(int64_t id) { return "/api/tracks/" + std::to_string(id) + "/audio"; }

std::string play_url(int64_t id, double start) { return audio_url(id) + "#t=" + service::json_float(float(start)); }

std::string folder_of(const service::LibrarySnapshot& snap, const store::Track& t) {
  const fs::path rel(snap.display_path(t.path));
  const std::string parent = rel.parent_path().string();
  return parent.empty() ? "." : parent;
}

ojson track_record(const service::LibrarySnapshot& snap, const store::Track& t) {
  ojson labels = ojson::array();
  for (const auto& l : snap.labels_of(t.id)) labels.push_back({{"label", l.label}, {"score", json_num(l.score)}});
  return {{"track_id", t.id},
          {"path", t.path},
          {"display_path", snap.display_path(t.path)},
          {"folder", folder_of(snap, t)},
          {"title", t.title},
          {"artist", t.artist},
          {"album", t.album},
          {"album_artist", t.album_artist},
          {"mbid", t.mbid},
          {"isrc", t.isrc},
          {"genre", t.genre},
          {"date", t.date},
          {"duration_s", json_num(t.duration_s)},
          {"status", t.status == store::TrackStatus::Ok ? "ok" : "error"},
          {"error", t.error},
          {"silent", t.silent},
          {"window_count", t.window_count},
          {"labels", labels},
          {"audio_url", audio_url(t.id)}};
}

// Adds what the page needs beside a CLI record: where it is shown and how to play it.
void add_playback(const service::LibrarySnapshot& snap, ojson& j, int64_t track_id, double start) {
  const store::Track* t = snap.track(track_id);
  j["display_path"] = t ? snap.display_path(t->path) : "";
  j["audio_url"] = audio_url(track_id);
  j["play_url"] = play_url(track_id, start);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string mime_of(const std::string& path) {
  static const std::map<std::string, std::string> types = {
      {".mp3", "audio/mpeg"}, {".flac", "audio/flac"}, {".ogg", "audio/ogg"},   {".oga", "audio/ogg"},
      {".opus", "audio/ogg"}, {".m4a", "audio/mp4"},   {".mp4", "audio/mp4"},   {".aac", "audio/aac"},
      {".wav", "audio/wav"},  {".webm", "audio/webm"}, {".aif", "audio/aiff"}, {".aiff", "audio/aiff"},
      {".wma", "audio/x-ms-wma"}, {".mka", "audio/x-matroska"}};
  auto it = types.find(lower(fs::path(path).extension().string()));
  return it == types.end() ? "application/octet-stream" : it->second;
}

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

int64_t nanoseconds(const struct timespec& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }

// True when `path` (resolved) is one of the roots or lies under one, the roots resolved too: a
// root reached through a link (~/Music -> /data/music) is a legitimate library.
bool under_a_root(const std::string& path, const std::vector<std::string>& roots) {
  for (const std::string& root : roots) {
    char buf[PATH_MAX];
    if (!::realpath(root.c_str(), buf)) continue;
    const std::string r = buf;
    if (r == "/" || path == r || (path.size() > r.size() && path.compare(0, r.size(), r) == 0 && path[r.size()] == '/'))
      return true;
  }
  return false;
}

// The audio file of a track, opened for streaming, with its size; or the HttpError that says why
// it is not served (docs/security.md, "Audio"). Only the path the index holds for this id is
// ever opened, and it is served only when
//  - the track was indexed as audio: one that could not be indexed (an empty file, a text file
//    with an audio name, a link to anything) has no audio, 410, never its bytes;
//  - the last component is not a symbolic link (O_NOFOLLOW);
//  - once every link is resolved, it lies inside an indexed root, and the file opened is that
//    real file (device and inode);
//  - it is the file that was indexed: the size and modification time the index holds.
std::shared_ptr<int> open_track_audio(const service::LibrarySnapshot& snap, const store::Track& t, size_t& size) {
  // Details name the track as the page shows it (relative to its folder), never where on this
  // machine it lives, and give a reason in the library's terms, not the system's error text.
  std::string shown = snap.display_path(t.path);
  if (!shown.empty() && shown[0] == '/') shown = fs::path(shown).filename().string();
  if (t.status != store::TrackStatus::Ok)
    throw HttpError{410, "no audio", shown + ": could not be indexed, so there is no audio to serve"};
  // O_NONBLOCK: if the path has become a FIFO, open must not wait for a writer.
  const int fd = ::open(t.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0) {
    const int err = errno;
    const char* why = err == ELOOP                    ? "a symbolic link now (not served)"
                      : err == ENOENT || err == ENOTDIR ? "no longer there (run clapsearch index again)"
                      : err == EACCES || err == EPERM   ? "not readable by the server"
                                                        : "cannot be opened";
    throw HttpError{404, "audio unavailable", shown + ": " + why};
  }
  auto file = std::shared_ptr<int>(new int(fd), [](int* f) {
    ::close(*f);
    delete f;
  });
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw HttpError{404, "audio unavailable", shown + ": not a regular file"};
  char real[PATH_MAX];
  struct stat real_st {};
  if (!::realpath(t.path.c_str(), real) || ::stat(real, &real_st) != 0 || real_st.st_dev != st.st_dev ||
      real_st.st_ino != st.st_ino || !under_a_root(real, snap.roots()))
    throw HttpError{404, "audio unavailable", shown + ": outside the indexed folders (not served)"};
  if (st.st_size != t.size || nanoseconds(st.st_mtim) != t.mtime_ns)
    throw HttpError{404, "audio unavailable", shown + ": changed since it was indexed (run clapsearch index again)"};
  if (st.st_size <= 0) throw HttpError{404, "audio unavailable", shown + ": empty file"};
  size = static_cast<size_t>(st.st_size);
  return file;
}

// An uploaded query, as read from the request body.
struct Upload {
  std::string name = "upload";  // the client's file name (multipart), for messages
  std::string bytes;
};

// Past the limit, this much more of a body is read and thrown away so that a body a little
// over the limit ends cleanly and the client reads the 413 (a connection closed with unread
// bytes is reset, and the answer may be lost); a larger one is cut there.
constexpr int64_t kDrainBytes = 8 << 20;

// Reads POST /api/like's body (multipart field "file", or the raw body) counting bytes as they
// arrive, with Content-Length, chunked or neither: the file stops being kept at `max_file`
// bytes, the whole body at max_file + 1 MB (the multipart envelope, the other fields); then
// 413. Never holds more than the limit.
Upload read_upload(const httplib::Request& req, const httplib::ContentReader& reader, int64_t max_file) {
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
  // A request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112 6.3);
  // cpp-httplib would wait for the connection to close (the --timeout) before saying so.
  if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding"))
    throw HttpError{400, "no upload", "POST an audio file (multipart/form-data, field \"file\", or the raw bytes)"};
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
  if (over)
    throw HttpError{413, "upload too large",
                    u.name + ": over the limit of " + std::to_string(max_file >> 20) + " MB" +
                        (max_file < (1 << 20) ? " (" + std::to_string(max_file) + " bytes)" : ""),
                    !complete};
  if (!complete) throw HttpError{400, "bad request", "the request body could not be read (malformed multipart?)", true};
  if (!have_file) throw HttpError{400, "missing upload", "send the audio as the multipart field \"file\""};
  return u;
}

// One route: method, OpenAPI path, httplib pattern, handler.
using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

}  // namespace

std::string error_body(const std::string& error, const std::string& detail) {
  return dump(ojson{{"error", error}, {"detail", detail}});
}

void answer_and_close(httplib::Response& res, int status, const std::string& json_body) {
  res.status = status;
  res.set_header("Connection", "close");
  auto text = std::make_shared<std::string>(json_body);
  res.set_content_provider(text->size(), "application/json; charset=utf-8",
                           [text](size_t offset, size_t length, httplib::DataSink& sink) {
                             sink.write(text->data() + offset, length);
                             return false;  // stops the response after its last byte: cpp-httplib closes the connection
                           });
}

bool stream_file_range(int fd, size_t offset, size_t length, httplib::DataSink& sink) {
  char buf[1 << 16];
  while (length > 0) {
    const ssize_t n = ::pread(fd, buf, std::min(length, sizeof buf), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // unreadable, or the file ends before the length announced
    if (!sink.write(buf, static_cast<size_t>(n))) return false;
    offset += static_cast<size_t>(n);
    length -= static_cast<size_t>(n);
  }
  return true;
}

const std::vector<Route>& Api::routes() {
  static const std::vector<Route> all = {
      {"GET", "/api/status"},          {"GET", "/api/search"},
      {"GET", "/api/tracks"},          {"GET", "/api/tracks/{id}"},
      {"GET", "/api/tracks/{id}/audio"}, {"GET", "/api/tracks/{id}/scores"},
      {"GET", "/api/similar"},         {"GET", "/api/like"},
      {"POST", "/api/like"},           {"GET", "/api/classify"},
      {"GET", "/api/analyze"},         {"GET", "/api/map"},
      {"GET", "/api/openapi.json"},    {"GET", "/api/artists"},
      {"GET", "/api/albums"},
      {"GET", "/api/sonic/resolve"},   {"GET", "/api/sonic/getSonicSimilarTracks"},
      {"GET", "/api/sonic/findSonicPath"}, {"GET", "/api/sonic/search"},
      {"GET", "/api/sonic/similarToArtist"}, {"GET", "/api/sonic/similarToAlbum"},
  };
  return all;
}

namespace {
// The library the request on this thread is answered with (Api::install's wrapper sets it).
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
  if (!pinned_library) throw std::logic_error("a route ran outside Api::install's wrapper");
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

void Api::install(httplib::Server& http) {
  // Every route runs inside this: input errors, unknown tracks, busy model, bad audio and the
  // unexpected all become JSON errors; nothing else reaches the client.
  auto guarded = [this](const httplib::Request& req, httplib::Response& res, const Handler& handler,
                        bool check_available = true) {
    auto fail = [&res](int status, const std::string& error, const std::string& detail) {
      res.status = status;
      res.set_content(error_body(error, detail), "application/json; charset=utf-8");
    };
    try {
      if (check_available) {
        const std::string down = unavailable();
        if (!down.empty()) throw HttpError{503, "index unavailable", down};
      }
      // A request whose library's model was replaced under it (an upgrade switched the index's
      // active embedding set) is answered again on the new library: no error, no mixed answer.
      for (int attempt = 0;; ++attempt) {
        const PinnedLibrary pin(library());
        try {
          handler(req, res);
          // Which model answered: a client (and the upgrade test) can tell the sets apart.
          res.set_header("X-Clapsearch-Model", pin.library().identity().describe());
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
      if (e.close) answer_and_close(res, e.status, error_body(e.error, e.detail));
      else fail(e.status, e.error, e.detail);
    } catch (const service::Busy& e) {
      res.set_header("Retry-After", "2");
      fail(429, "busy", e.what());
    } catch (const Error& e) {
      fail(400, "cannot answer", e.what());
    } catch (const std::bad_alloc&) {
      fail(503, "out of memory", "the request needed more memory than is available");
    } catch (const std::exception& e) {
      fail(500, "internal error", e.what());
    }
  };
  auto route = [&http, guarded](const std::string& method, const std::string& pattern, Handler handler) {
    if (method != "GET") throw std::logic_error("a route that reads a body streams it (see POST /api/like)");
    http.Get(pattern, [guarded, handler](const httplib::Request& req, httplib::Response& res) { guarded(req, res, handler); });
  };

  route("GET", "/api/openapi.json", [](const httplib::Request&, httplib::Response& res) {
    for (const Asset& a : assets())
      if (a.name == "openapi.json") return res.set_content(reinterpret_cast<const char*>(a.data), a.size, "application/json");
    throw HttpError{404, "not found", "no API document in this build"};
  });

  route("GET", "/api/status", [this](const httplib::Request&, httplib::Response& res) {
    const auto snap = lib().snapshot();
    std::shared_ptr<const service::LibraryStatus> counted;
    {
      std::lock_guard lock(status_mutex_);
      if (!status_ || status_generation_ != snap->library_generation()) {
        status_ = std::make_shared<service::LibraryStatus>(service::library_status(lib().location()));
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
    send(res, {{"db", st.db_path},
               {"db_bytes", st.db_bytes},
               {"model", m.describe()},
               {"model_id", m.id},
               {"window_s", m.window_s},
               {"hop_s", m.hop_s},
               {"dim", m.dim},
               {"tracks", st.counts.tracks},
               {"ok", st.counts.ok},
               {"errors", st.counts.errors},
               {"silent_tracks", st.counts.silent_tracks},
               {"windows", st.counts.windows},
               {"silent_windows", st.counts.silent_windows},
               // Progressive indexing (index/passes.h): windows indexed of the ok tracks' total.
               {"coverage", {{"windows", st.counts.ok_windows},
                             {"window_total", st.counts.window_total},
                             {"complete_tracks", st.counts.complete_tracks}}},
               {"audio_seconds", json_num(st.counts.audio_seconds)},
               {"generation", snap->library_generation()},
               {"serving_tracks", snap->tracks().size()},
               {"roots", snap->roots()},
               {"folders", folders},
               {"error_list", errors},
               {"embedding_sets", sets}});
  });

  route("GET", "/api/search", [this](const httplib::Request& req, httplib::Response& res) {
    const bool mixed = has_seed_terms(req, false);
    const auto texts = mixed && !req.has_param("q") ? std::vector<std::string>{} : texts_param(req, "q", options_.max_queries);
    search::TextSearchOptions o;
    const int64_t k = int_param(req, "k", 10, 1, options_.max_k);
    const double diversity = num_param(req, "diversity", -1, 0, 1);  // -1: not asked for
    o.k = diversity >= 0 ? service::results_before_diversity(k) : k;
    const std::string aggregate = req.has_param("aggregate") ? req.get_param_value("aggregate") : "mean";
    if (aggregate != "mean" && aggregate != "max") throw HttpError{400, "bad parameter", "aggregate: mean or max"};
    o.aggregate = search::parse_aggregate(aggregate);
    o.thresholds.high = num_param(req, "high", 0.3, -1, 1);
    o.thresholds.moderate = num_param(req, "moderate", 0.15, -1, 1);
    if (o.thresholds.high < o.thresholds.moderate) throw HttpError{400, "bad parameter", "high must be at least moderate"};
    const service::ResultRules parsed = rules_param(req, options_.max_k);
    const auto snap = lib().snapshot();
    const service::ResultRules rules = music_only(parsed, req, options_.exclude, *snap);
    ojson queries = ojson::array();
    if (!snap->searchable()) {
      for (const auto& t : texts) queries.push_back({{"query", t}, {"results", ojson::array()}});
      return send(res, {{"queries", queries}});
    }
    std::vector<std::vector<search::TrackScore>> results;
    std::vector<std::string> names = texts;
    if (mixed) {
      const service::MixedQuery mq = resolve_terms(lib(), *snap, seed_terms_param(req, options_.max_queries, false), texts.empty());
      results = service::search_mixed(lib(), *snap, texts, mq, o, rules);
      if (names.empty()) names.push_back("");  // the seeds alone: one query
    } else {
      results = service::search_texts(lib(), *snap, texts, o, rules);
    }
    for (size_t q = 0; q < names.size(); ++q) {
      if (diversity >= 0)
        results[q] = service::diversify(*snap, std::move(results[q]), k, diversity, [](const search::TrackScore& r) { return r.track_id; },
                                        [](const search::TrackScore& r) { return r.score; });
      ojson list = ojson::array();
      for (size_t r = 0; r < results[q].size(); ++r) {
        ojson j = service::text_result_record(*snap, results[q][r], r + 1);
        add_playback(*snap, j, results[q][r].track_id, results[q][r].stats.best_start);
        list.push_back(std::move(j));
      }
      queries.push_back({{"query", names[q]}, {"results", list}});
    }
    send(res, {{"queries", queries}});
  });

  // Artists and albums (service/aggregates.h): by text (q) or like a named one (like; albums:
  // artist = its album artist when several albums share the name).
  for (const service::GroupKind kind : {service::GroupKind::Artist, service::GroupKind::Album}) {
    const bool album = kind == service::GroupKind::Album;
    route("GET", album ? "/api/albums" : "/api/artists", [this, kind, album](const httplib::Request& req, httplib::Response& res) {
      const bool by_text = req.has_param("q"), by_name = req.has_param("like");
      if (by_text == by_name) throw HttpError{400, "missing parameter", "give one of q (a text) and like (a name)"};
      const int64_t k = int_param(req, "k", 10, 1, options_.max_k);
      const service::ResultRules parsed = rules_param(req, 0);
      const std::string artist = album ? optional_text(req, "artist") : "";
      const auto snap = lib().snapshot();
      const service::ResultRules rules = music_only(parsed, req, options_.exclude, *snap);
      std::vector<service::GroupHit> hits;
      ojson answer;
      if (by_text) {
        const std::string q = texts_param(req, "q", 1)[0];
        answer["query"] = q;
        hits = service::search_groups(lib(), *snap, kind, {q}, k, rules)[0];
      } else {
        const std::string like = optional_text(req, "like");
        if (service::normalise_name(like).empty()) throw HttpError{400, "bad parameter", "like: no letters or digits"};
        answer["like"] = like;
        if (album) answer["artist"] = artist;
        if (!snap->searchable()) throw HttpError{404, album ? "unknown album" : "unknown artist", "nothing is indexed yet"};
        try {
          hits = service::similar_groups(*snap, kind, like, artist, k, rules);
        } catch (const service::Busy&) {
          throw;
        } catch (const InvalidArgument& e) {
          throw HttpError{400, "bad parameter", e.what()};
        } catch (const Error& e) {
          throw HttpError{404, album ? "unknown album" : "unknown artist", e.what()};
        }
      }
      ojson list = ojson::array();
      for (size_t r = 0; r < hits.size(); ++r) list.push_back(service::group_hit_record(hits[r], r + 1, album));
      answer["results"] = list;
      send(res, answer);
    });
  }

  // --- media servers (docs/integrations.md): OpenSubsonic's sonicSimilarity shapes
  route("GET", "/api/sonic/resolve", [this](const httplib::Request& req, httplib::Response& res) {
    const auto snap = lib().snapshot();
    send(res, resolved_record(*snap, song_param(req, *snap, "")));
  });

  route("GET", "/api/sonic/getSonicSimilarTracks", [this](const httplib::Request& req, httplib::Response& res) {
    const service::SonicOptions o = sonic_options(req, 10, options_.max_k);
    const auto snap = lib().snapshot();
    const ResolvedSong seed = song_param(req, *snap, "");
    send(res, {{"seed", resolved_record(*snap, seed)},
               {"sonicMatch", sonic_matches(*snap, service::sonic_similar(*snap, *seed.track, o))}});
  });

  route("GET", "/api/sonic/findSonicPath", [this](const httplib::Request& req, httplib::Response& res) {
    service::SonicOptions o = sonic_options(req, 25, options_.max_k);
    if (o.count < 2) throw HttpError{400, "bad parameter", "count: a path has at least 2 tracks (its two ends)"};
    const auto snap = lib().snapshot();
    const ResolvedSong start = song_param(req, *snap, "start");
    const ResolvedSong end = song_param(req, *snap, "end");
    if (start.track->id == end.track->id)
      throw HttpError{400, "bad parameter",
                      "the start and end songs are the same indexed track (" + snap->display_path(start.track->path) + ")"};
    send(res, {{"start", resolved_record(*snap, start)},
               {"end", resolved_record(*snap, end)},
               {"sonicMatch", sonic_matches(*snap, service::sonic_path(*snap, *start.track, *end.track, o))}});
  });

  // Instant Mix of an artist or an album: songs like the group's, the group left out.
  route("GET", "/api/sonic/similarToArtist", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string artist = optional_text(req, "artist");
    if (artist.empty()) throw HttpError{400, "missing parameter", "artist: the artist's name"};
    const service::SonicOptions o = sonic_options(req, 10, options_.max_k);
    const auto snap = lib().snapshot();
    if (service::normalise_name(artist).empty()) throw HttpError{400, "bad parameter", "artist: no letters or digits"};
    std::vector<service::SonicMatch> matches;
    try {
      matches = service::sonic_similar_to_artist(*snap, artist, o);
    } catch (const Error& e) {
      throw HttpError{404, "unknown artist", e.what()};
    }
    send(res, {{"artist", artist}, {"sonicMatch", sonic_matches(*snap, matches)}});
  });

  route("GET", "/api/sonic/similarToAlbum", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string album = optional_text(req, "album"), artist = optional_text(req, "artist");
    if (album.empty()) throw HttpError{400, "missing parameter", "album: the album's name (artist: its album artist, optional)"};
    const service::SonicOptions o = sonic_options(req, 10, options_.max_k);
    const auto snap = lib().snapshot();
    if (service::normalise_name(album).empty()) throw HttpError{400, "bad parameter", "album: no letters or digits"};
    std::vector<service::SonicMatch> matches;
    try {
      matches = service::sonic_similar_to_album(*snap, album, artist, o);
    } catch (const Error& e) {
      throw HttpError{404, "unknown album", e.what()};
    }
    send(res, {{"album", album}, {"artist", artist}, {"sonicMatch", sonic_matches(*snap, matches)}});
  });

  route("GET", "/api/sonic/search", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string q = texts_param(req, "q", 1)[0];
    const service::SonicOptions o = sonic_options(req, 10, options_.max_k);
    const auto snap = lib().snapshot();
    send(res, {{"query", q}, {"sonicMatch", sonic_matches(*snap, service::sonic_search(lib(), *snap, q, o))}});
  });

  route("GET", "/api/tracks", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string folder = optional_text(req, "folder"), tag = lower(optional_text(req, "tag")),
                      label = lower(optional_text(req, "label")), text = lower(optional_text(req, "text"));
    const std::string status = req.has_param("status") ? req.get_param_value("status") : "";
    if (!status.empty() && status != "ok" && status != "error") throw HttpError{400, "bad parameter", "status: ok or error"};
    const int64_t offset = int_param(req, "offset", 0, 0, int64_t(1) << 40);
    const int64_t limit = int_param(req, "limit", 100, 1, 1000);
    const auto snap = lib().snapshot();
    ojson list = ojson::array();
    int64_t total = 0;
    for (const auto& t : snap->tracks()) {
      if (!status.empty() && (status == "ok") != (t.status == store::TrackStatus::Ok)) continue;
      if (!folder.empty()) {
        const std::string f = folder_of(*snap, t);
        if (f != folder && f.rfind(folder + "/", 0) != 0 && snap->root_of(t.path) != folder) continue;
      }
      if (!tag.empty() && lower(t.genre) != tag && lower(t.album) != tag && lower(t.artist) != tag && lower(t.date) != tag)
        continue;
      if (!label.empty()) {
        bool has = false;
        for (const auto& l : snap->labels_of(t.id)) has |= lower(l.label) == label;
        if (!has) continue;
      }
      if (!text.empty()) {
        const std::string hay = lower(t.title + "\n" + t.artist + "\n" + t.album + "\n" + snap->display_path(t.path));
        if (hay.find(text) == std::string::npos) continue;
      }
      if (total++ < offset || static_cast<int64_t>(list.size()) >= limit) continue;
      list.push_back(track_record(*snap, t));
    }
    send(res, {{"total", total}, {"offset", offset}, {"tracks", list}});
  });

  route("GET", R"(/api/tracks/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    const auto snap = lib().snapshot();
    const store::Track& t = track_of(*snap, req.matches[1]);
    ojson j = track_record(*snap, t);
    ojson windows = ojson::array();
    for (const auto& w : lib().track_windows(t.id))
      windows.push_back({{"index", w.idx},
                         {"start", json_num(w.start_s)},
                         {"end", json_num(w.end_s)},
                         {"silent", w.silent},
                         {"loudness_dbfs", json_num(w.loudness_dbfs)}});
    j["windows"] = windows;
    send(res, j);
  });

  route("GET", R"(/api/tracks/([^/]+)/audio)", [this](const httplib::Request& req, httplib::Response& res) {
    const auto snap = lib().snapshot();
    const store::Track& t = track_of(*snap, req.matches[1]);
    size_t size = 0;
    const auto file = open_track_audio(*snap, t, size);
    res.set_header("Accept-Ranges", "bytes");
    res.set_header("Cache-Control", "private, max-age=60");
    // Ranges, normalised here to first-last within the file, which is what cpp-httplib's
    // slicing expects: a range starting past the end is 416 (RFC 9110), an end past the end is
    // clamped, a suffix longer than the file is the whole file; several ranges are answered
    // with the whole file (a server may ignore Range).
    auto& ranges = const_cast<httplib::Request&>(req).ranges;
    if (ranges.size() > 1) ranges.clear();
    if (ranges.size() == 1) {
      auto& [first, last] = ranges[0];
      const auto n = static_cast<ssize_t>(size);
      if (first < 0) {  // suffix: the last `last` bytes
        first = last >= n ? 0 : n - last;
        last = last == 0 ? -2 : n - 1;
      } else if (last < 0 || last >= n) {
        last = n - 1;
      }
      if (n == 0 || first >= n || last < first) {
        ranges.clear();
        res.status = 416;
        res.set_header("Content-Range", "bytes */" + std::to_string(size));
        return;
      }
    }
    // size > 0 (open_track_audio refuses empty files): with a length of 0, cpp-httplib would
    // stream "without length" until the provider called done(), which a file provider never does.
    res.set_content_provider(size, mime_of(t.path), [file](size_t offset, size_t length, httplib::DataSink& sink) {
      return stream_file_range(*file, offset, length, sink);
    });
  });

  route("GET", R"(/api/tracks/([^/]+)/scores)", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string text = texts_param(req, "q", 1)[0];
    search::AnalyzeOptions o;
    o.thresholds.high = num_param(req, "high", 0.3, -1, 1);
    o.thresholds.moderate = num_param(req, "moderate", 0.15, -1, 1);
    const std::string aggregate = req.has_param("aggregate") ? req.get_param_value("aggregate") : "mean";
    if (aggregate != "mean" && aggregate != "max") throw HttpError{400, "bad parameter", "aggregate: mean or max"};
    o.aggregate = search::parse_aggregate(aggregate);
    const auto snap = lib().snapshot();
    const store::Track& t = track_of(*snap, req.matches[1]);
    const search::SongAnalysis a = service::track_timeline(lib(), t, text, o);
    ojson windows = ojson::array();
    for (const auto& w : a.windows)
      windows.push_back({{"start", json_num(w.start)},
                         {"end", json_num(w.end)},
                         {"score", w.silent ? ojson(nullptr) : ojson(json_num(w.score))},
                         {"silent", w.silent},
                         {"label", w.silent ? "SILENT" : search::label_name(w.label)},
                         {"window_id", w.window_id}});
    send(res, {{"track_id", t.id},
               {"query", text},
               {"label", search::label_name(a.label)},
               {"score", json_num(a.stats.score(o.aggregate))},
               {"mean", json_num(a.stats.mean)},
               {"max", json_num(a.stats.max)},
               {"best_start", json_num(a.stats.best_start)},
               {"best_end", json_num(a.stats.best_end)},
               {"windows", windows}});
  });

  route("GET", "/api/similar", [this](const httplib::Request& req, httplib::Response& res) {
    const int64_t wanted = int_param(req, "k", 10, 1, options_.max_k);
    const double diversity = num_param(req, "diversity", -1, 0, 1);  // -1: not asked for
    const int64_t k = diversity >= 0 ? service::results_before_diversity(wanted) : wanted;
    const service::ResultRules parsed = rules_param(req, options_.max_k);
    const auto snap = lib().snapshot();
    const service::ResultRules rules = music_only(parsed, req, options_.exclude, *snap);
    std::vector<search::Hit> hits;
    ojson query;
    if (has_seed_terms(req, true)) {
      const std::string first = req.has_param("track") ? req.get_param_value("track") : "";
      const service::MixedQuery mq = resolve_terms(lib(), *snap, seed_terms_param(req, options_.max_queries, true, first));
      hits = service::similar_mixed(*snap, mq, lib().dim(), k, rules);
      query = {{"seed_tracks", mq.seed_tracks}, {"terms", terms_json(mq)}};
    } else {
      const store::Track& t = track_param(req, *snap);
      hits = service::similar_tracks(*snap, t, k, rules);
      query = {{"track_id", t.id}, {"display_path", snap->display_path(t.path)}, {"title", t.title}, {"artist", t.artist}};
    }
    if (diversity >= 0)
      hits = service::diversify(*snap, std::move(hits), wanted, diversity, [](const search::Hit& h) { return h.id; },
                                [](const search::Hit& h) { return h.score; });
    ojson list = ojson::array();
    size_t rank = 0;
    for (const auto& h : hits) {
      ojson j = service::similar_result_record(*snap, h, ++rank);
      add_playback(*snap, j, h.id, 0);
      ojson labels = ojson::array();
      for (const auto& l : snap->labels_of(h.id)) labels.push_back(l.label);
      j["labels"] = labels;
      list.push_back(std::move(j));
    }
    send(res, {{"query", query}, {"results", list}});
  });

  auto like = [this](const httplib::Request& req, httplib::Response& res, const Upload* upload) {
    search::LikeOptions o;
    const int64_t wanted = int_param(req, "k", 10, 1, options_.max_k);
    const double diversity = num_param(req, "diversity", -1, 0, 1);  // -1: not asked for
    o.k = diversity >= 0 ? service::results_before_diversity(wanted) : wanted;
    o.per_chunk = static_cast<int>(int_param(req, "per_chunk", 5, 1, 100));
    o.vote_weight = num_param(req, "vote_weight", 0.2, 0, 1);
    const service::ResultRules parsed = rules_param(req, options_.max_k);
    const auto snap = lib().snapshot();
    const service::ResultRules rules = music_only(parsed, req, options_.exclude, *snap);
    if (!snap->searchable()) throw HttpError{400, "nothing to search", "the index has no searchable tracks yet"};
    search::QueryChunks chunks;
    ojson query;
    service::ResultRules like_rules = rules;
    if (req.method == "GET" && has_seed_terms(req, true)) {
      const std::string first = req.has_param("track") ? req.get_param_value("track") : "";
      const service::MixedQuery mq = resolve_terms(lib(), *snap, seed_terms_param(req, options_.max_queries, true, first));
      chunks = service::mixed_query_chunks(lib(), *snap, mq);
      like_rules = service::excluding_seeds(rules, mq);
      query = {{"seed_tracks", mq.seed_tracks}, {"terms", terms_json(mq)}};
    } else if (req.method == "GET") {
      const store::Track& t = track_param(req, *snap);
      chunks = service::track_query_chunks(*snap, t);
      if (flag_param(req, "exclude_self")) o.exclude_track = t.id;
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
        chunks = service::file_query_chunks(lib(), file.path(), 0, 0, options_.max_query_seconds, /*untrusted=*/true);
      } catch (const service::Busy&) {
        throw;
      } catch (const service::UndecodableAudio& e) {
        throw HttpError{415, "not audio", replace_all(e.what(), file.path(), name)};
      } catch (const service::AudioTooLong& e) {
        throw HttpError{413, "query too long", replace_all(e.what(), file.path(), name)};
      } catch (const Error& e) {
        throw HttpError{400, "cannot use the query audio", replace_all(e.what(), file.path(), name)};
      }
      const double duration = chunks.size() ? chunks.ends.back() : 0;
      query = {{"name", name}, {"track_id", -1}, {"duration_s", json_num(duration)}};
    }
    auto results = service::like(*snap, chunks, o, like_rules);
    if (diversity >= 0)
      results = service::diversify(*snap, std::move(results), wanted, diversity, [](const search::LikeResult& r) { return r.track_id; },
                                   [](const search::LikeResult& r) { return r.combined; });
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
      list.push_back(std::move(j));
    }
    send(res, {{"query", query}, {"chunks", chunk_list}, {"results", list}});
  };
  route("GET", "/api/like", [like](const httplib::Request& req, httplib::Response& res) { like(req, res, nullptr); });
  // The one route that takes a body: read here, counted as it arrives (never through
  // cpp-httplib's whole-body read, which does not bound a chunked body).
  http.Post("/api/like", [this, guarded, like](const httplib::Request& req, httplib::Response& res,
                                               const httplib::ContentReader& reader) {
    // The body first, whatever the answer: refusing with it unread would leave it on the connection.
    std::optional<Upload> upload;
    guarded(
        req, res, [&](const httplib::Request& r, httplib::Response&) { upload = read_upload(r, reader, options_.max_upload_bytes); },
        /*check_available=*/false);
    if (upload) guarded(req, res, [&](const httplib::Request& r, httplib::Response& out) { like(r, out, &*upload); });
  });

  route("GET", "/api/classify", [this](const httplib::Request& req, httplib::Response& res) {
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
  });

  route("GET", "/api/analyze", [this](const httplib::Request& req, httplib::Response& res) {
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
    std::string csv = "track,path,query,mean,max,min,std,n_windows,best_start,best_end,label\r\n";
    for (const auto& r : rows) {
      const store::Track* t = snap->track(r.track_id);
      using service::json_float;
      csv += std::to_string(r.track_id) + "," + service::csv_field(t ? t->path : "") + "," + service::csv_field(texts[r.query]) + "," +
             json_float(float(r.stats.mean)) + "," + json_float(float(r.stats.max)) + "," + json_float(float(r.stats.min)) +
             "," + json_float(float(r.stats.std)) + "," + std::to_string(r.stats.n_windows) + "," +
             json_float(float(r.stats.best_start)) + "," + json_float(float(r.stats.best_end)) + "," +
             search::label_name(r.label) + "\r\n";
    }
    res.set_header("Content-Disposition", "attachment; filename=\"analysis.csv\"");
    res.set_content(csv, "text/csv; charset=utf-8");
  });

  route("GET", "/api/map", [this](const httplib::Request&, httplib::Response& res) {
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
  });
}

}  // namespace clap::server
