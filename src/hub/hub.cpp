#include "hub/hub.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/output_file.h"
#include "core/sha256.h"
#include "core/text_file.h"
#include "hub/http.h"

namespace clap::hub {

namespace {

namespace fs = std::filesystem;

const char* const kConfig = "config.json";
const char* const kWeights = "model.safetensors";
const char* const kTorchWeights = "pytorch_model.bin";  // fetched only when a repo has no kWeights

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool truthy(const std::string& v) {
  std::string s;
  for (char c : v) s.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return s == "1" || s == "true" || s == "yes" || s == "on";
}

std::string expand_user(const std::string& p) {
  if (p == "~" || p.rfind("~/", 0) == 0) return env("HOME") + p.substr(1);
  return p;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool is_commit_hash(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// A string the server sent that is used as one file name (commit hash, ETag).
bool safe_name(const std::string& s) {
  if (s.empty() || s.size() > 200 || s == "." || s == "..") return false;
  for (char c : s)
    if (c == '/' || c == '\\' || c == '\0' || static_cast<unsigned char>(c) < 0x20) return false;
  return true;
}

bool valid_repo_part(const std::string& s) {
  if (s.empty() || s.size() > 96) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  if (s.front() == '-' || s.front() == '.' || s.back() == '-' || s.back() == '.') return false;
  return s.find("--") == std::string::npos && s.find("..") == std::string::npos;
}

bool valid_revision(const std::string& r) {
  if (r.empty() || r.size() > 256 || r.front() == '/' || r.back() == '/') return false;
  std::stringstream ss(r);
  std::string part;
  while (std::getline(ss, part, '/'))
    if (part.empty() || part == "." || part == ".." || !safe_name(part)) return false;
  return true;
}

// "W/\"abc\"" or "\"abc\"" -> "abc"
std::string normalize_etag(std::string e) {
  e = trim(e);
  if (e.rfind("W/", 0) == 0) e = e.substr(2);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return e;
}

int64_t parse_size(const std::string& v) {
  if (v.empty()) return -1;
  char* end = nullptr;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  return (end && *end == '\0' && n >= 0) ? static_cast<int64_t>(n) : -1;
}

// A small file of the cache (a ref, a token file), or "" when there is none.
std::string read_text(const fs::path& p) {
  std::error_code ec;
  if (!fs::exists(p, ec) || fs::is_directory(p, ec)) return "";
  return read_text_file(p.string(), "Hugging Face cache file", 1 << 20);
}

// Write-then-rename, so readers never see a half-written file. OutputFile's derived file: its
// temporary is made new (O_EXCL | O_NOFOLLOW) and renamed over whatever is at the name, a link too.
// An ofstream at "<ref>.tmp-<pid>" followed a link planted there, truncating and overwriting the
// file it named (hostile pass 15; H10C-5's pattern).
void write_atomic(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  OutputFile out(p.string(), OutputFile::Target::Derived);
  out.write(text);
  out.commit();
}

// An empty marker file (a file the hub does not have); made new, never through a link at its name.
void touch(const fs::path& p) {
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (fd >= 0) ::close(fd);
}

bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);  // follows symlinks: a dangling snapshot link does not count
}

// An exclusive flock on a lock file (the same file huggingface_hub's FileLock uses, so a
// Python download of the same blob at the same time waits too).
class FileLock {
 public:
  FileLock(const fs::path& path, const std::string& what, bool quiet) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    // Never through a symbolic link: one planted there made a file where it pointed (H15C-1's sibling).
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (fd_ < 0 && errno == ELOOP)
      throw Error(path.string() + ": the download's lock file is a symbolic link, which no download makes; remove it");
    if (fd_ < 0) throw Error(path.string() + ": cannot create lock file: " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
    if (!quiet) std::fprintf(stderr, "clapsearch: waiting for another process downloading %s\n", what.c_str());
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        const int err = errno;
        ::close(fd_);
        throw Error(path.string() + ": cannot lock: " + std::strerror(err));
      }
    }
  }
  ~FileLock() {
    if (fd_ >= 0) {
      ::flock(fd_, LOCK_UN);
      ::close(fd_);
    }
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

enum class State { Present, Absent, Unknown };

struct FileMeta {
  std::string file;
  std::string etag;
  int64_t size = -1;
};

class Resolver {
 public:
  // tokenizer_only: fetch just vocab.json + merges.txt (a LAION checkpoint's tokenizer).
  Resolver(std::string repo, std::string revision, const HubOptions& options, bool tokenizer_only = false)
      : repo_(std::move(repo)), revision_(std::move(revision)), options_(options), tokenizer_only_(tokenizer_only) {
    cache_ = fs::path(hub_cache_dir());
    folder_ = "models--" + repo_.substr(0, repo_.find('/')) + "--" + repo_.substr(repo_.find('/') + 1);
    storage_ = cache_ / folder_;
    endpoint_ = hub_endpoint();
  }

  ResolvedModel resolve() {
    const std::string cached = cached_commit();
    if (hub_offline()) return resolve_offline(cached);
    if (!cached.empty() && snapshot_complete(cached)) return result(cached, false);
    return resolve_online(cached);
  }

 private:
  std::string label() const { return repo_ + (revision_ == "main" ? "" : "@" + revision_); }
  fs::path snapshot(const std::string& commit) const { return storage_ / "snapshots" / commit; }
  fs::path no_exist(const std::string& commit, const std::string& file) const {
    return storage_ / ".no_exist" / commit / file;
  }
  fs::path ref_path() const { return storage_ / "refs" / revision_; }
  fs::path blob(const std::string& etag) const { return storage_ / "blobs" / etag; }
  fs::path lock_path(const std::string& etag) const { return cache_ / ".locks" / folder_ / (etag + ".lock"); }
  std::string url(const std::string& revision, const std::string& file) const {
    return endpoint_ + "/" + repo_ + "/resolve/" + http::escape(revision) + "/" + file;
  }

  ResolvedModel result(const std::string& commit, bool downloaded) const {
    ResolvedModel r;
    r.dir = snapshot(commit).string();
    r.id = repo_;
    r.revision = commit;
    r.downloaded = downloaded;
    return r;
  }

  // The commit this revision is known to resolve to, from the cache alone ("" if unknown).
  std::string cached_commit() const {
    if (is_commit_hash(revision_)) return revision_;
    const std::string commit = trim(read_text(ref_path()));
    return safe_name(commit) ? commit : "";
  }

  State state(const std::string& commit, const std::string& file) const {
    if (path_exists(snapshot(commit) / file)) return State::Present;
    if (path_exists(no_exist(commit, file))) return State::Absent;
    return State::Unknown;
  }

  const std::vector<std::string>& files() const {
    static const std::vector<std::string> tokenizer = {"vocab.json", "merges.txt"};
    return tokenizer_only_ ? tokenizer : model_files();
  }

  // "" when the snapshot has what loading needs, else what is missing.
  std::string missing_required(const std::string& commit) const {
    std::string missing;
    auto add = [&](const std::string& what) { missing += (missing.empty() ? "" : ", ") + what; };
    const bool bpe = state(commit, "vocab.json") == State::Present && state(commit, "merges.txt") == State::Present;
    if (tokenizer_only_) return bpe ? "" : "vocab.json + merges.txt";
    if (state(commit, kConfig) != State::Present) add(kConfig);
    if (state(commit, kWeights) != State::Present && state(commit, kTorchWeights) != State::Present) add(kWeights);
    if (!bpe && state(commit, "tokenizer.json") != State::Present) add("a tokenizer (vocab.json + merges.txt, or tokenizer.json)");
    return missing;
  }

  // Every file is either in the snapshot or known to be absent, and the required ones are there.
  bool snapshot_complete(const std::string& commit) const {
    for (const auto& f : files())
      if (state(commit, f) == State::Unknown) return false;
    return missing_required(commit).empty();
  }

  ResolvedModel resolve_offline(const std::string& commit) const {
    const std::string why = " and HF_HUB_OFFLINE is set, so nothing is downloaded: run once without HF_HUB_OFFLINE "
                            "to fetch it (or point HF_HOME / HF_HUB_CACHE at a cache that has it)";
    if (!path_exists(storage_)) throw Error(repo_ + ": model not in the Hugging Face cache (" + cache_.string() + ")" + why);
    if (commit.empty())
      throw Error(label() + ": revision '" + revision_ + "' is not in the Hugging Face cache (" + storage_.string() + ")" + why);
    const std::string missing = missing_required(commit);
    if (!missing.empty())
      throw Error(label() + ": the cached snapshot " + snapshot(commit).string() + " is incomplete (missing " + missing + ")" + why);
    return result(commit, false);
  }

  http::Config http_config() const {
    http::Config c;
    c.token = env("HF_TOKEN");
    if (c.token.empty()) c.token = env("HUGGING_FACE_HUB_TOKEN");
    if (c.token.empty()) {  // written by `huggingface-cli login`
      std::string path = env("HF_TOKEN_PATH");
      if (path.empty()) path = (hf_home() / "token").string();
      c.token = trim(read_text(expand_user(path)));
    }
    c.token_origin = http::origin_of(endpoint_);
    const int64_t stall = parse_size(env("HF_HUB_DOWNLOAD_TIMEOUT"));
    if (stall > 0) c.low_speed_time_s = static_cast<long>(stall);
    const int64_t head_timeout = parse_size(env("HF_HUB_ETAG_TIMEOUT"));
    if (head_timeout > 0) c.request_timeout_s = std::max<long>(static_cast<long>(head_timeout), 5);
    return c;
  }

  static fs::path hf_home() {
    const std::string home = env("HF_HOME");
    if (!home.empty()) return expand_user(home);
    const std::string xdg = env("XDG_CACHE_HOME");
    return fs::path(xdg.empty() ? expand_user("~/.cache") : expand_user(xdg)) / "huggingface";
  }

  std::string unreachable_message(const std::string& detail) const {
    return label() + ": cannot reach " + endpoint_ + " (" + detail +
           "): you seem to be offline. Connect to the network, or set HF_HUB_OFFLINE=1 to use the models already "
           "in the cache (" + cache_.string() + ")";
  }

  std::string http_error_message(const http::Result& r, const std::string& file, bool first_request) const {
    const std::string code = r.header("x-error-code");
    const std::string server = r.header("x-error-message");
    const std::string said = server.empty() ? "" : " (the hub says: " + server + ")";
    const bool token = !config_.token.empty();
    const std::string status = "HTTP " + std::to_string(r.status);
    if (code == "GatedRepo" || r.status == 403)
      return label() + ": access denied (" + status + "): the repository is gated or private. Accept its conditions at " +
             endpoint_ + "/" + repo_ + " and set HF_TOKEN to an access token of an account that has access" +
             (token ? " (the token in HF_TOKEN has no access)" : "") + said;
    if (code == "RevisionNotFound")
      return label() + ": revision '" + revision_ + "' not found in " + repo_ + " on " + endpoint_ + " (" + status + ")" + said;
    if (code == "RepositoryNotFound" || r.status == 401 || (r.status == 404 && first_request && code != "EntryNotFound"))
      return label() + ": repository not found on " + endpoint_ + " (" + status + "). Check the id (hub ids look like " +
             kDefaultModel + ")" +
             (r.status == 401 && token ? "; HF_TOKEN was sent and refused (invalid or expired token, or no access)"
                                       : "; a private or gated repository needs HF_TOKEN") +
             said;
    if (r.status == 404) return label() + ": " + file + " not found in the repository (" + status + ")" + said;
    if (r.status == 429) return label() + ": rate-limited by " + endpoint_ + " (" + status + "); wait a moment and retry" + said;
    if (r.status >= 500)
      return label() + ": " + endpoint_ + " failed (" + status + ") for " + file + "; try again later" + said;
    return label() + ": unexpected " + status + " for " + url(revision_, file) + said;
  }

  // HEAD that follows relative redirects only (renamed repos); an absolute one (LFS file on a
  // CDN) is not followed: the hub's own answer carries the metadata.
  http::Result head(std::string u) const {
    for (int hop = 0; hop < 10; ++hop) {
      http::Result r = http::head(u, config_);
      const std::string location = r.header("location");
      const bool relative = !location.empty() && location[0] == '/' && location.rfind("//", 0) != 0;
      if (r.ok() && r.is_redirect() && relative) {
        u = r.redirect_url;
        continue;
      }
      return r;
    }
    throw Error(label() + ": too many redirects from " + endpoint_);
  }

  bool exists_remotely(const std::string& revision, const std::string& file) const {
    const http::Result r = head(url(revision, file));
    return r.ok() && r.status >= 200 && r.status < 400;
  }

  ResolvedModel resolve_online(const std::string& cached) {
    config_ = http_config();
    // The first request resolves the revision to a commit; later ones use that commit so
    // every file comes from the same one even if the branch moves meanwhile.
    const http::Result first = head(url(revision_, files().front()));
    if (!first.ok()) {
      if (!cached.empty() && missing_required(cached).empty()) {
        if (!options_.quiet)
          std::fprintf(stderr, "clapsearch: warning: cannot reach %s (%s); using the cached snapshot %s\n", endpoint_.c_str(),
                       first.curl_error.c_str(), cached.c_str());
        return result(cached, false);
      }
      throw Error(unreachable_message(first.curl_error));
    }
    const std::string first_file = files().front();
    if (first.status >= 400) {
      if (first.status == 404 && first.header("x-error-code") == "EntryNotFound")
        throw Error(label() + ": the repository has no " + first_file +
                    (tokenizer_only_ ? "" : " (not a transformers CLAP model?)"));
      throw Error(http_error_message(first, first_file, true));
    }
    const std::string commit = first.header("x-repo-commit");
    if (commit.empty() || !safe_name(commit))
      throw Error(label() + ": " + endpoint_ + " did not answer like a Hugging Face hub (no X-Repo-Commit header); check "
                  "HF_ENDPOINT and any proxy or firewall in between");
    if (revision_ != commit && trim(read_text(ref_path())) != commit) write_atomic(ref_path(), commit);
    if (snapshot_complete(commit)) return result(commit, false);

    // Metadata of every file first (cheap), so nothing large is fetched for an unusable repo.
    std::vector<FileMeta> to_fetch;
    // "" = absent (recorded in .no_exist); else the file goes on the fetch list.
    auto look_up = [&](const std::string& file, const http::Result* known) {
      const http::Result r = known ? *known : head(url(commit, file));
      if (!r.ok()) throw Error(unreachable_message(r.curl_error));
      if (r.status == 404 && r.header("x-error-code") != "RepositoryNotFound" && r.header("x-error-code") != "RevisionNotFound") {
        touch(no_exist(commit, file));
        return;
      }
      if (r.status >= 400) throw Error(http_error_message(r, file, false));
      FileMeta m;
      m.file = file;
      m.etag = normalize_etag(r.header("x-linked-etag").empty() ? r.header("etag") : r.header("x-linked-etag"));
      m.size = parse_size(r.header("x-linked-size").empty() ? r.header("content-length") : r.header("x-linked-size"));
      if (!safe_name(m.etag))
        throw Error(label() + ": " + endpoint_ + " sent no usable ETag for " + file + " (is HF_ENDPOINT a Hugging Face hub?)");
      to_fetch.push_back(m);
    };
    for (const auto& file : files())
      if (state(commit, file) == State::Unknown) look_up(file, file == first_file ? &first : nullptr);
    if (tokenizer_only_) {
      if (state(commit, "vocab.json") == State::Absent || state(commit, "merges.txt") == State::Absent)
        throw Error(label() + ": the repository has no vocab.json + merges.txt");
    } else {
      // No model.safetensors: older repos hold pytorch_model.bin, read by the same safe reader.
      if (state(commit, kWeights) == State::Absent && state(commit, kTorchWeights) == State::Unknown) look_up(kTorchWeights, nullptr);
      if (state(commit, kWeights) == State::Absent && state(commit, kTorchWeights) == State::Absent) {
        for (const char* index : {"model.safetensors.index.json", "pytorch_model.bin.index.json"})
          if (exists_remotely(commit, index))
            throw Error(label() + ": the weights are sharded (" + index + "), which clapsearch does not fetch from the hub; "
                        "download the repository's files into a folder and pass the folder (sharded folders load)");
        throw Error(label() + ": the repository has no model.safetensors or pytorch_model.bin (not a transformers CLAP model?)");
      }
      const bool bpe = state(commit, "vocab.json") != State::Absent && state(commit, "merges.txt") != State::Absent;
      if (!bpe && state(commit, "tokenizer.json") == State::Absent)
        throw Error(label() + ": the repository has no tokenizer (vocab.json + merges.txt, or tokenizer.json)");
    }

    bool downloaded = false;
    if (!to_fetch.empty()) {
      int64_t total = 0;
      for (const auto& m : to_fetch) total += std::max<int64_t>(m.size, 0);
      if (!options_.quiet)
        std::fprintf(stderr, "clapsearch: fetching %s (commit %.10s) into %s: %zu file(s), %s\n", label().c_str(),
                     commit.c_str(), storage_.c_str(), to_fetch.size(), http::human_bytes(static_cast<double>(total)).c_str());
      for (const auto& m : to_fetch) downloaded |= fetch(m, commit);
    }
    const std::string missing = missing_required(commit);
    if (!missing.empty()) throw Error(label() + ": snapshot " + snapshot(commit).string() + " is missing " + missing);
    return result(commit, downloaded);
  }

  // Makes snapshots/<commit>/<file> point at the blob, downloading it if needed.
  bool fetch(const FileMeta& m, const std::string& commit) {
    const fs::path blob_path = blob(m.etag);
    bool downloaded = false;
    if (!path_exists(blob_path)) {
      FileLock lock(lock_path(m.etag), repo_ + "/" + m.file, options_.quiet);
      if (!path_exists(blob_path)) {
        download_blob(m, commit, blob_path);
        downloaded = true;
      }
    }
    link(blob_path, snapshot(commit) / m.file);
    return downloaded;
  }

  void download_blob(const FileMeta& m, const std::string& commit, const fs::path& blob_path) {
    std::error_code ec;
    fs::create_directories(blob_path.parent_path(), ec);
    if (ec) throw Error(blob_path.parent_path().string() + ": cannot create: " + ec.message());
    const fs::path part = blob_path.string() + ".incomplete";
    // A symbolic link at the partial file's name is removed, never written through: the download
    // appended the weights to whatever file it named, as the user running it (hostile pass 15,
    // H15C-1's sibling; http::download opens O_NOFOLLOW too).
    if (fs::is_symlink(fs::symlink_status(part, ec))) fs::remove(part, ec);
    const bool quiet = options_.quiet || truthy(env("HF_HUB_DISABLE_PROGRESS_BARS"));
    const int64_t had = path_exists(part) ? static_cast<int64_t>(fs::file_size(part, ec)) : 0;
    if (had > 0 && !options_.quiet)
      std::fprintf(stderr, "clapsearch: resuming %s from %s\n", m.file.c_str(), http::human_bytes(static_cast<double>(had)).c_str());
    http::Progress progress;
    progress.quiet = quiet;
    progress.terminal = isatty(STDERR_FILENO) == 1;
    progress.label = m.file;
    try {
      http::download(url(commit, m.file), part.string(), m.size, config_, progress);
    } catch (const http::DownloadError& e) {
      using Kind = http::DownloadError::Kind;
      const int64_t got = path_exists(part) ? static_cast<int64_t>(fs::file_size(part, ec)) : 0;
      switch (e.kind()) {
        case Kind::Unreachable:
          if (got == 0) throw Error(unreachable_message(e.what()));
          [[fallthrough]];
        case Kind::Interrupted:
          throw Error(label() + ": download of " + m.file + " interrupted (" + e.what() + ") after " +
                      http::human_bytes(static_cast<double>(got)) +
                      (m.size >= 0 ? " of " + http::human_bytes(static_cast<double>(m.size)) : std::string()) +
                      "; the partial file is kept in the cache and the next run resumes it");
        case Kind::Http:
          fs::remove(part, ec);
          if (e.result().status >= 400) throw Error(http_error_message(e.result(), m.file, false));
          throw Error(label() + ": download of " + m.file + " failed: " + e.what());
        case Kind::Local:
          throw Error(label() + ": download of " + m.file + " failed: " + e.what());
      }
    }
    verify(m, part);
    fs::rename(part, blob_path, ec);
    if (ec) throw Error(blob_path.string() + ": cannot move the download into place: " + ec.message());
  }

  // Size and, for LFS files (sha256 ETag), content hash; a bad download is deleted.
  void verify(const FileMeta& m, const fs::path& part) const {
    std::error_code ec;
    const int64_t got = static_cast<int64_t>(fs::file_size(part, ec));
    if (m.size >= 0 && got != m.size) {
      fs::remove(part, ec);
      throw Error(label() + ": " + m.file + " failed verification: size mismatch (received " + std::to_string(got) +
                  " bytes, the hub reported " + std::to_string(m.size) + "). The bad download was deleted; run again");
    }
    if (is_sha256_hex(m.etag)) {
      std::string expected = m.etag;
      for (char& c : expected) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const std::string actual = sha256_file(part.string());
      if (actual != expected) {
        fs::remove(part, ec);
        throw Error(label() + ": " + m.file + " failed verification: checksum mismatch (sha256 of the downloaded data " +
                    actual + ", the hub's " + expected +
                    "): the data was corrupted in transit. The corrupted download was deleted; run again to fetch it anew");
      }
    }
  }

  // snapshots/<commit>/<file> -> ../../blobs/<etag>, created under a temporary name and renamed
  // over the final one (a reader never sees a missing or half-made link).
  static void link(const fs::path& blob_path, const fs::path& pointer) {
    std::error_code ec;
    fs::create_directories(pointer.parent_path(), ec);
    if (ec) throw Error(pointer.parent_path().string() + ": cannot create: " + ec.message());
    const fs::path tmp = pointer.string() + ".tmp-" + std::to_string(::getpid());
    fs::remove(tmp, ec);
    fs::create_symlink(blob_path.lexically_relative(pointer.parent_path()), tmp, ec);
    if (ec) {  // no symlinks on this file system: hard link, else copy
      fs::create_hard_link(blob_path, tmp, ec);
      if (ec) fs::copy_file(blob_path, tmp, fs::copy_options::overwrite_existing, ec);
      if (ec) throw Error(pointer.string() + ": cannot link to " + blob_path.string() + ": " + ec.message());
    }
    fs::rename(tmp, pointer, ec);
    if (ec) {
      fs::remove(tmp, ec);
      throw Error(pointer.string() + ": cannot create: " + ec.message());
    }
  }

  std::string repo_, revision_;
  HubOptions options_;
  bool tokenizer_only_ = false;
  fs::path cache_, storage_;
  std::string folder_, endpoint_;
  http::Config config_;
};

}  // namespace

const std::vector<std::string>& model_files() {
  static const std::vector<std::string> files = {
      "config.json",  "model.safetensors", "preprocessor_config.json", "vocab.json",
      "merges.txt",   "tokenizer.json",    "tokenizer_config.json",    "special_tokens_map.json"};
  return files;
}

std::string hub_cache_dir() {
  for (const char* name : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"}) {
    const std::string v = env(name);
    if (!v.empty()) return expand_user(v);
  }
  const std::string home = env("HF_HOME");
  if (!home.empty()) return (fs::path(expand_user(home)) / "hub").string();
  const std::string xdg = env("XDG_CACHE_HOME");
  return (fs::path(xdg.empty() ? expand_user("~/.cache") : expand_user(xdg)) / "huggingface" / "hub").string();
}

std::string hub_endpoint() {
  std::string e = trim(env("HF_ENDPOINT"));
  if (e.empty()) e = "https://huggingface.co";
  while (!e.empty() && e.back() == '/') e.pop_back();
  return e;
}

bool hub_offline() { return truthy(env("HF_HUB_OFFLINE")); }

bool parse_hub_id(const std::string& spec, std::string* repo, std::string* revision) {
  const size_t at = spec.find('@');
  const std::string id = spec.substr(0, at);
  const std::string rev = at == std::string::npos ? "main" : spec.substr(at + 1);
  const size_t slash = id.find('/');
  if (slash == std::string::npos || id.find('/', slash + 1) != std::string::npos) return false;
  if (!valid_repo_part(id.substr(0, slash)) || !valid_repo_part(id.substr(slash + 1)) || !valid_revision(rev)) return false;
  if (repo) *repo = id;
  if (revision) *revision = rev;
  return true;
}

std::string cached_blob_sha256(const std::string& file_in_snapshot) {
  std::error_code ec;
  if (!fs::is_symlink(file_in_snapshot, ec)) return "";
  const std::string target = fs::read_symlink(file_in_snapshot, ec).filename().string();
  if (ec || !is_sha256_hex(target) || !fs::exists(file_in_snapshot, ec)) return "";
  // Only the cache's own blobs are named by a verified hash; a user's link is not trusted.
  const fs::path real = fs::canonical(file_in_snapshot, ec);
  const fs::path blobs = fs::weakly_canonical(fs::path(hub_cache_dir()), ec);
  if (ec || blobs.empty()) return "";
  const std::string r = real.string(), b = blobs.string() + "/";
  if (r.compare(0, b.size(), b) != 0) return "";
  std::string h = target;
  for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return h;
}

namespace {

std::string real_path(const std::string& path) {
  std::error_code ec;
  const fs::path real = fs::canonical(path, ec);
  return ec ? fs::absolute(path).lexically_normal().string() : real.string();
}

bool has_bpe_files(const fs::path& dir) {
  return path_exists(dir / "vocab.json") && path_exists(dir / "merges.txt");
}

// roberta-base's vocab.json + merges.txt already in the Hugging Face cache (under its current
// id or the old "roberta-base"), at the commit main resolved to, else any complete snapshot.
std::string cached_checkpoint_tokenizer() {
  for (const char* folder : {"models--FacebookAI--roberta-base", "models--roberta-base"}) {
    const fs::path storage = fs::path(hub_cache_dir()) / folder;
    const std::string main = trim(read_text(storage / "refs" / "main"));
    if (safe_name(main) && has_bpe_files(storage / "snapshots" / main)) return (storage / "snapshots" / main).string();
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(storage / "snapshots", ec))
      if (has_bpe_files(e.path())) return e.path().string();
  }
  return "";
}

// The overrides of `options` and, for a checkpoint file, where its tokenizer comes from.
void apply_overrides(ResolvedModel& r, const HubOptions& options) {
  std::error_code ec;
  if (!options.config.empty()) {
    const fs::path given(options.config);
    const fs::path config = fs::is_directory(given, ec) ? given / "config.json" : given;
    if (!fs::is_regular_file(config, ec))
      throw Error("--config " + options.config + ": no such file (a config.json, or a folder that holds one)");
    r.config_file = real_path(config.string());
    const fs::path pre = config.parent_path() / "preprocessor_config.json";
    if (fs::is_regular_file(pre, ec)) r.preprocessor_file = real_path(pre.string());
  }
  if (!options.tokenizer.empty()) {
    const fs::path dir(options.tokenizer);
    if (!fs::is_directory(dir, ec) || !(has_bpe_files(dir) || path_exists(dir / "tokenizer.json")))
      throw Error("--tokenizer " + options.tokenizer + ": not a folder with vocab.json + merges.txt or tokenizer.json");
    r.tokenizer_dir = real_path(dir.string());
    return;
  }
  if (r.weights_file.empty()) return;
  r.tokenizer_dir = cached_checkpoint_tokenizer();
  if (!r.tokenizer_dir.empty() || hub_offline()) {
    if (r.tokenizer_dir.empty())
      r.no_tokenizer_hint = r.weights_file + ": a checkpoint file has no tokenizer, and " + kCheckpointTokenizerRepo +
                            "'s is not in the Hugging Face cache (" + hub_cache_dir() +
                            ") while HF_HUB_OFFLINE is set: pass --tokenizer DIR (a folder with vocab.json + merges.txt, "
                            "such as any CLAP model folder), or run once online";
    return;
  }
  try {
    r.tokenizer_dir = Resolver(kCheckpointTokenizerRepo, "main", options, true).resolve().dir;
  } catch (const Error& e) {
    // Audio needs no tokenizer: the model still loads; a text query reports this.
    r.no_tokenizer_hint = r.weights_file + ": a checkpoint file has no tokenizer, and fetching " + kCheckpointTokenizerRepo +
                          "'s failed (" + e.what() + "): pass --tokenizer DIR (a folder with vocab.json + merges.txt, "
                          "such as any CLAP model folder)";
  }
}

}  // namespace

ResolvedModel resolve_model(const std::string& spec, const HubOptions& options) {
  std::error_code ec;
  if (spec.empty()) throw Error("no model given (a model folder, a checkpoint file or a hub id such as " +
                                std::string(kDefaultModel) + ")");
  if (fs::is_directory(spec, ec)) {
    if (options.config.empty() && !path_exists(fs::path(spec) / "config.json"))
      throw Error(spec + ": not a model folder (it has no config.json; a model folder holds config.json with "
                         "model.safetensors or pytorch_model.bin; a checkpoint file is given by its own name)");
    ResolvedModel r;
    r.dir = spec;
    // The real path: a trailing slash or a symlink names the same folder (the index compares
    // models by content anyway; this is the hint it keeps for finding the model again).
    r.id = real_path(spec);
    r.revision = "local";
    apply_overrides(r, options);
    return r;
  }
  if (fs::is_regular_file(spec, ec)) {  // a checkpoint file: LAION .pt, pytorch_model.bin, model.safetensors
    ResolvedModel r;
    r.id = real_path(spec);
    r.weights_file = r.id;
    r.dir = fs::path(r.id).parent_path().string();
    r.revision = "local";
    apply_overrides(r, options);
    return r;
  }
  // A name ending like a checkpoint file is a file that is not there, not a hub repository.
  const std::string ext = fs::path(spec).extension().string();
  const bool checkpoint_name = ext == ".pt" || ext == ".pth" || ext == ".ckpt" || ext == ".bin" || ext == ".safetensors";
  const bool looks_like_path = spec[0] == '/' || spec[0] == '.' || spec[0] == '~' || spec.find('\\') != std::string::npos ||
                               checkpoint_name;
  std::string repo, revision;
  if (looks_like_path || !parse_hub_id(spec, &repo, &revision)) {
    if (fs::exists(spec, ec)) throw Error(spec + ": not a model folder or checkpoint file");
    throw Error(spec + ": no such model folder or checkpoint file, and not a hub id (org/name or org/name@revision, e.g. " +
                std::string(kDefaultModel) + ")");
  }
  ResolvedModel r = Resolver(repo, revision, options).resolve();
  apply_overrides(r, options);
  return r;
}

}  // namespace clap::hub
