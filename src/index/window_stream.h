// Cutting a stream of samples into analysis windows as it is decoded, with bounded memory:
// the same windows as audio::plan_windows over the whole track (window W every hop H <= W, the
// last one partial, a track shorter than W gets one), but holding at most one window plus the
// chunk being fed.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace clap::index {

class WindowStream {
 public:
  // start/end: sample range in the track; samples: end - start values (valid during the call).
  using Emit = std::function<void(int index, int64_t start, int64_t end, const float* samples)>;

  WindowStream(int64_t window, int64_t hop, Emit emit);  // throws unless 0 < hop <= window
  void feed(const float* samples, size_t n);
  void finish();  // emits the remaining windows; the total is then known

  int64_t total() const { return total_; }
  int emitted() const { return index_; }
  size_t buffered() const { return buf_.size(); }
  size_t peak_buffered() const { return peak_; }

 private:
  void emit_at(int64_t start, int64_t end);
  int64_t window_, hop_;
  Emit emit_;
  std::vector<float> buf_;  // samples [next_, total_)
  int64_t next_ = 0;        // start of the next window
  int64_t total_ = 0;
  int index_ = 0;
  size_t peak_ = 0;
  bool finished_ = false;
};

}  // namespace clap::index
