// A thin owner of one Linux inotify instance (inotify(7)): add and remove watches, read events
// with a timeout. No policy here; index/watcher.h decides what the events mean.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace clap::index {

struct InotifyEvent {
  int wd = -1;          // -1 for IN_Q_OVERFLOW
  uint32_t mask = 0;    // IN_* bits
  uint32_t cookie = 0;  // pairs IN_MOVED_FROM with IN_MOVED_TO
  std::string name;     // entry name inside the watched folder ("" for events on the folder itself)
};

class Inotify {
 public:
  // Throws clap::Error naming the reason (EMFILE: fs.inotify.max_user_instances reached).
  Inotify();
  ~Inotify();
  Inotify(const Inotify&) = delete;
  Inotify& operator=(const Inotify&) = delete;

  // The watch descriptor of `folder` (the same one again for a folder already watched through
  // another path), or -1 with the errno in `error` (ENOSPC: fs.inotify.max_user_watches reached).
  int add(const std::string& folder, uint32_t mask, int& error);
  // Stops watching; a descriptor the kernel already dropped (folder gone) is no error.
  void remove(int wd);
  // Waits up to `timeout_ms` for events, then returns every event queued (empty on timeout or EINTR).
  std::vector<InotifyEvent> read(int timeout_ms);

 private:
  int fd_ = -1;
};

}  // namespace clap::index
