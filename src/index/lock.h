// One indexer per library at a time: an exclusive flock(2) on "<db>.lock", held for the life
// of the object and released by the kernel if the process dies (kill -9 included).
#pragma once
#include <string>

namespace clap::index {

class IndexLock {
 public:
  // Throws clap::Error when another process holds the lock.
  explicit IndexLock(const std::string& db_path);
  ~IndexLock();
  IndexLock(const IndexLock&) = delete;
  IndexLock& operator=(const IndexLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace clap::index
