#include "core/file_hash.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "core/output_file.h"
#include "core/sha256.h"
#include "core/text_file.h"
#include "core/user_dirs.h"

namespace clap {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxEntries = 512;  // a few models' files; older entries are dropped first
constexpr int64_t kSettledNs = 1000000000;

struct Entry {
  std::string key;  // dev ino size mtime_ns ctime_ns real-path, tab-separated
  std::string sha256;
};

std::string identity_key(const std::string& real_path, const struct stat& st) {
  std::ostringstream k;
  k << st.st_dev << '\t' << st.st_ino << '\t' << st.st_size << '\t'
    << (int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec) << '\t'
    << (int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec) << '\t' << real_path;
  return k.str();
}

// One line per entry: sha256, a tab, the key. Lines that do not parse are ignored. The cache is
// read only when it is a regular file (a FIFO put at its name would block the open, and with it
// every command and server thread that hashes a model file), and only up to a bound far above
// kMaxEntries lines. Anything else reads as an empty cache, replaced by the next write.
std::vector<Entry> read_cache(const fs::path& file) {
  std::vector<Entry> out;
  std::string text;
  try {
    text = read_text_file(file.string(), "file-hash cache", kMaxEntries * 4096);
  } catch (const Error&) {
    return out;
  }
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t tab = line.find('\t');
    if (tab != 64 || !is_sha256_hex(line.substr(0, 64))) continue;
    out.push_back({line.substr(65), line.substr(0, 64)});
  }
  return out;
}

std::mutex cache_mutex;  // threads of one process; processes race harmlessly (whole-file renames)

}  // namespace

std::string cached_sha256_file(const std::string& path) {
  return cached_file_digest(path, "", [&] { return sha256_file(path); });
}

std::string cached_file_digest(const std::string& path, const std::string& kind,
                               const std::function<std::string()>& compute) {
  std::error_code ec;
  const fs::path real = fs::canonical(path, ec);
  struct stat st {};
  if (ec || ::stat(real.c_str(), &st) != 0) return compute();  // names the problem
  // Plain sha256 entries have no kind field (the cache's original line format).
  const std::string prefix = kind.empty() ? "" : kind + "\t";
  const std::string key = prefix + identity_key(real.string(), st);
  if (key.find('\n') != std::string::npos || kind.find('\t') != std::string::npos) return compute();

  fs::path cache_file;
  try {
    cache_file = fs::path(clapsearch_cache_dir()) / "file-sha256.tsv";
  } catch (const Error&) {
    return compute();
  }
  std::lock_guard lock(cache_mutex);
  std::vector<Entry> entries = read_cache(cache_file);
  for (const Entry& e : entries)
    if (e.key == key) return e.sha256;

  const std::string digest = compute();
  if (!is_sha256_hex(digest)) return digest;
  // A file changed within the last second could change again within the same timestamp tick
  // (file times are only as fine as the kernel's clock tick) without any field of its key
  // changing: remember only files that have been still for a while ("racy git" problem).
  const int64_t changed_ns = std::max(int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                                      int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec);
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
  if (now_ns - changed_ns < kSettledNs) return digest;
  // Drop entries of the same kind for the same file at older states, keep the newest kMaxEntries.
  std::vector<Entry> kept;
  // Appended rather than `"\t" + real.string()`: GCC 12 warns (-Wrestrict) on that form.
  std::string suffix = "\t";
  suffix += real.string();
  auto same_kind = [&](const std::string& k) {
    if (!kind.empty()) return k.compare(0, prefix.size(), prefix) == 0;
    return !k.empty() && std::isdigit(static_cast<unsigned char>(k[0]));  // plain entries start with the device number
  };
  for (Entry& e : entries)
    if (!(same_kind(e.key) && e.key.size() >= suffix.size() &&
          e.key.compare(e.key.size() - suffix.size(), suffix.size(), suffix) == 0))
      kept.push_back(std::move(e));
  if (kept.size() >= kMaxEntries) kept.erase(kept.begin(), kept.begin() + static_cast<long>(kept.size() - kMaxEntries + 1));
  kept.push_back({key, digest});
  try {
    fs::create_directories(cache_file.parent_path());
    OutputFile out(cache_file.string(), OutputFile::Target::Derived);
    for (const Entry& e : kept) out.write(e.sha256 + "\t" + e.key + "\n");
    out.commit();
  } catch (const std::exception&) {
    // A cache that cannot be written (read-only home, full disk) only costs hashing again.
  }
  return digest;
}

}  // namespace clap
