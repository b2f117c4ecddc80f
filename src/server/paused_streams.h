// The Subsonic streams a player paused that the server holds on past its slow-reader rules
// (connection.h RequestDeadlines::pause_s): each holds a connection thread, which is what those
// rules protect, so only a bounded number are held at once, per holder (a user) and in all.
#pragma once
#include <map>
#include <mutex>
#include <string>

namespace clap::server {

class PausedStreams {
 public:
  // A slot for one more stream held paused for `holder`: false when the holder has `per_holder`
  // or the server `total` already. Taken when a stream is first held past the rules, given back
  // (give_back) when its answer ends.
  bool take(const std::string& holder, int per_holder, int total);
  void give_back(const std::string& holder);
  int held() const;  // slots taken now

 private:
  mutable std::mutex mutex_;
  std::map<std::string, int> by_holder_;
  int total_ = 0;
};

}  // namespace clap::server
