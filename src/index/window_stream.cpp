#include "index/window_stream.h"

#include <algorithm>

#include "core/error.h"

namespace clap::index {

WindowStream::WindowStream(int64_t window, int64_t hop, Emit emit) : window_(window), hop_(hop), emit_(std::move(emit)) {
  if (window <= 0 || hop <= 0 || hop > window) throw Error("windows need 0 < hop <= window");
  buf_.reserve(static_cast<size_t>(window) + (size_t(1) << 16));  // one window + one decoded chunk
}

void WindowStream::emit_at(int64_t start, int64_t end) {
  emit_(index_++, start, end, buf_.data() + (start - next_));
}

void WindowStream::feed(const float* samples, size_t n) {
  if (finished_) throw Error("WindowStream: feed after finish");
  buf_.insert(buf_.end(), samples, samples + n);
  total_ += static_cast<int64_t>(n);
  peak_ = std::max(peak_, buf_.size());
  // A window is final once a sample past its end exists: then the track goes on after it
  // (plan_windows stops at the window that reaches the end, which only finish() can know).
  int64_t drop = 0;
  while (next_ + drop + window_ < total_) {
    const int64_t start = next_ + drop;
    emit_(index_++, start, start + window_, buf_.data() + drop);
    drop += hop_;
  }
  if (drop) {
    buf_.erase(buf_.begin(), buf_.begin() + drop);
    next_ += drop;
  }
}

void WindowStream::finish() {
  if (finished_) return;
  finished_ = true;
  if (total_ == 0) return;
  // feed() left next_ + window_ >= total_: this is the window that reaches the end.
  emit_at(next_, std::min(total_, next_ + window_));
  buf_.clear();
  buf_.shrink_to_fit();
}

}  // namespace clap::index
