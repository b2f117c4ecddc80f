#include "index/inotify.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace clap::index {

Inotify::Inotify() {
  fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) {
    const int err = errno;
    throw Error(std::string("cannot start watching folders (inotify_init1): ") + std::strerror(err) +
                (err == EMFILE ? " (the per-user limit of inotify instances is reached: raise "
                                 "fs.inotify.max_user_instances)"
                               : ""));
  }
}

Inotify::~Inotify() { ::close(fd_); }

int Inotify::add(const std::string& folder, uint32_t mask, int& error) {
  const int wd = ::inotify_add_watch(fd_, folder.c_str(), mask);
  error = wd < 0 ? errno : 0;
  return wd;
}

void Inotify::remove(int wd) { ::inotify_rm_watch(fd_, wd); }

std::vector<InotifyEvent> Inotify::read(int timeout_ms) {
  std::vector<InotifyEvent> events;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return events;
  // Large enough for many events at once; every event is aligned to inotify_event.
  alignas(inotify_event) char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd_, buffer, sizeof buffer);
    if (n <= 0) break;  // EAGAIN: the queue is drained
    for (ssize_t at = 0; at < n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buffer + at);
      InotifyEvent ev;
      ev.wd = e->wd;
      ev.mask = e->mask;
      ev.cookie = e->cookie;
      if (e->len) ev.name = std::string(e->name, ::strnlen(e->name, e->len));
      events.push_back(std::move(ev));
      at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
    }
  }
  return events;
}

}  // namespace clap::index
