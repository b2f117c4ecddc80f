// Turns at a costly piece of work that many requests may want at once (covers scaled, long
// answers built): at most `at_once` hold one, the others wait within their request's budget
// (check_deadline: 503 past it), so memory stays a few times one request's, not one per thread.
#pragma once
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "core/deadline.h"

namespace clap {

class Turns {
 public:
  // `waiting_for`: what a request cut short while waiting was waiting for (the 503's message).
  Turns(int at_once, const char* waiting_for) : at_once_(at_once), waiting_for_(waiting_for) {}
  Turns(const Turns&) = delete;
  Turns& operator=(const Turns&) = delete;

  void take() {
    std::unique_lock lock(mutex_);
    while (running_ >= at_once_) {
      turn_.wait_for(lock, std::chrono::milliseconds(100));
      check_deadline(waiting_for_);
    }
    peak_ = std::max(peak_, ++running_);
    ++taken_;
  }
  void give_back() {
    {
      std::lock_guard lock(mutex_);
      --running_;
    }
    turn_.notify_one();
  }
  // The most turns held at once since the process started (the tests read it).
  int peak() {
    std::lock_guard lock(mutex_);
    return peak_;
  }
  // How many turns were taken since the process started (the tests read it: a request took one).
  int64_t taken() {
    std::lock_guard lock(mutex_);
    return taken_;
  }

 private:
  const int at_once_;
  const char* const waiting_for_;
  std::mutex mutex_;
  std::condition_variable turn_;
  int running_ = 0, peak_ = 0;
  int64_t taken_ = 0;
};

}  // namespace clap
