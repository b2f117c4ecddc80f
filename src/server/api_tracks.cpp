// The track routes: the list with its filters, one track, its audio (Range streaming, served
// only under the conditions of docs/security.md) and its timeline for a text.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <httplib.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>

#include "server/api.h"
#include "server/api_request.h"
#include "server/subsonic.h"
#include "service/media_files.h"
#include "service/queries.h"

namespace clap::server {

namespace fs = std::filesystem;
using service::json_num;
using service::ojson;

namespace {

int64_t nanoseconds(const struct timespec& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }

}  // namespace

std::shared_ptr<int> open_track_audio(const service::LibrarySnapshot& snap, const store::Track& t, size_t& size,
                                      bool follow_links_out) {
  // Details name the track as the page shows it (relative to its folder), never where on this
  // machine it lives, and give a reason in the library's terms, not the system's error text.
  std::string shown = snap.display_path(t.path);
  if (!shown.empty() && shown[0] == '/') shown = fs::path(shown).filename().string();
  if (t.status != store::TrackStatus::Ok)
    throw HttpError{410, "no audio", shown + ": could not be indexed, so there is no audio to serve"};
  // O_NONBLOCK: if the path has become a FIFO, open must not wait for a writer.
  int fd = ::open(t.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0 && errno == ELOOP && follow_links_out) {
    // A link, allowed only out of the library (one inside names a file served under its own name).
    char target[PATH_MAX];
    if (::realpath(t.path.c_str(), target) && !service::resolves_inside_roots(target, snap.roots()))
      fd = ::open(t.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    else
      errno = ELOOP;
  }
  if (fd < 0) {
    const int err = errno;
    // A link is never opened (docs/security.md), whether it was one when indexed (the indexer
    // follows links) or became one since: say which kind it is, never where it leads.
    char target[PATH_MAX];
    const bool link_inside = err == ELOOP && ::realpath(t.path.c_str(), target) &&
                             service::resolves_inside_roots(target, snap.roots());
    const char* why = err == ELOOP ? (link_inside ? "a symbolic link to a file (links are not served: play the file it names)"
                                                  : "a link to a file outside the library (not served)")
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
      real_st.st_ino != st.st_ino)
    throw HttpError{404, "audio unavailable", shown + ": outside the indexed folders (not served)"};
  if (!service::resolves_inside_roots(real, snap.roots())) {
    if (!follow_links_out) throw HttpError{404, "audio unavailable", shown + ": outside the indexed folders (not served)"};
    // The indexer read this file's ctime through the link; another file (the link pointed
    // elsewhere) has its own, and no one can set a ctime back.
    if (nanoseconds(st.st_ctim) != t.ctime_ns)
      throw HttpError{404, "audio unavailable",
                      shown + ": a link out of the library that no longer leads to the file indexed (not served; run "
                              "clapsearch index again)"};
  }
  if (st.st_size != t.size || nanoseconds(st.st_mtim) != t.mtime_ns)
    throw HttpError{404, "audio unavailable", shown + ": changed since it was indexed (run clapsearch index again)"};
  if (st.st_size <= 0) throw HttpError{404, "audio unavailable", shown + ": empty file"};
  size = static_cast<size_t>(st.st_size);
  return file;
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

void serve_file_ranges(const httplib::Request& req, httplib::Response& res, std::shared_ptr<int> file, size_t size,
                       const std::string& content_type) {
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
  res.set_content_provider(size, content_type, [file](size_t offset, size_t length, httplib::DataSink& sink) {
    return stream_file_range(*file, offset, length, sink);
  });
}

void Api::tracks(const httplib::Request& req, httplib::Response& res) {
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
}

void Api::track(const httplib::Request& req, httplib::Response& res) {
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
}

void Api::track_audio(const httplib::Request& req, httplib::Response& res) {
  const auto snap = lib().snapshot();
  const store::Track& t = track_of(*snap, req.matches[1]);
  size_t size = 0;
  const auto file = open_track_audio(*snap, t, size, options_.follow_links_out);
  serve_file_ranges(req, res, file, size, subsonic::content_type_of_path(t.path));  // one table for both APIs
}

void Api::track_scores(const httplib::Request& req, httplib::Response& res) {
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
}

}  // namespace clap::server
