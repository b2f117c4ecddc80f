#include "server/paused_streams.h"

namespace clap::server {

bool PausedStreams::take(const std::string& holder, int per_holder, int total) {
  std::lock_guard lock(mutex_);
  const auto it = by_holder_.find(holder);
  const int mine = it == by_holder_.end() ? 0 : it->second;
  if (mine >= per_holder || total_ >= total) return false;
  ++by_holder_[holder];
  ++total_;
  return true;
}

void PausedStreams::give_back(const std::string& holder) {
  std::lock_guard lock(mutex_);
  const auto it = by_holder_.find(holder);
  if (it == by_holder_.end()) return;  // never taken: nothing to give back
  if (--it->second <= 0) by_holder_.erase(it);
  --total_;
}

int PausedStreams::held() const {
  std::lock_guard lock(mutex_);
  return total_;
}

}  // namespace clap::server
