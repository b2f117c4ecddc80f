#include "index/precut.h"

#include <sys/stat.h>

#include "index/passes.h"

namespace clap::index {

std::optional<FileStamp> FileStamp::of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  FileStamp s;
  s.size = st.st_size;
  s.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  s.ctime_ns = int64_t(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  s.device = uint64_t(st.st_dev);
  s.inode = uint64_t(st.st_ino);
  return s;
}

bool FileStamp::read_as_indexed(const std::string& path, int64_t size, int64_t mtime_ns, const std::function<void()>& read) {
  const std::optional<FileStamp> before = of(path);
  if (!before || before->size != size || before->mtime_ns != mtime_ns) return false;
  read();
  return of(path) == before;
}

std::vector<int> first_pass_span_windows(const std::vector<audio::Window>& plan, int first_pass) {
  std::vector<int> chosen;
  if (first_pass <= 0 || static_cast<int>(plan.size()) <= first_pass) return chosen;
  const std::vector<int> passes = window_passes(static_cast<int>(plan.size()), first_pass);
  for (size_t i = 0; i < plan.size(); ++i)
    if (passes[i] == 1) chosen.push_back(static_cast<int>(i));
  return chosen;
}

void PrecutFirstPasses::put(const std::string& path, PrecutSpans cut) {
  std::lock_guard<std::mutex> lock(mutex_);
  cuts_.insert_or_assign(path, std::move(cut));
}

std::optional<PrecutSpans> PrecutFirstPasses::take(const std::string& path, const std::optional<FileStamp>& now) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = cuts_.find(path);
  if (it == cuts_.end()) return std::nullopt;
  std::optional<PrecutSpans> cut;
  if (now && it->second.stamp == *now) cut = std::move(it->second);
  cuts_.erase(it);
  return cut;
}

size_t PrecutFirstPasses::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cuts_.size();
}

}  // namespace clap::index
