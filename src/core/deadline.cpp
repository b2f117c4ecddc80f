#include "core/deadline.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace clap {
namespace {

using Clock = std::chrono::steady_clock;

// time_point::max(): no budget. The seconds are kept for the message.
thread_local Clock::time_point t_end = Clock::time_point::max();
thread_local double t_seconds = 0;

}  // namespace

ScopedDeadline::ScopedDeadline(double seconds) : previous_end_(t_end), previous_seconds_(t_seconds) {
  if (std::isfinite(seconds) && seconds > 0) {
    seconds = std::min(seconds, 1e7);  // a larger budget is no budget; keeps the sum below overflow
    const auto budget = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    // A nested budget never extends the one around it.
    t_end = std::min(t_end, Clock::now() + budget);
    t_seconds = seconds;
  }
}

ScopedDeadline::~ScopedDeadline() {
  t_end = previous_end_;
  t_seconds = previous_seconds_;
}

void check_deadline(const char* what) {
  if (t_end == Clock::time_point::max() || Clock::now() < t_end) return;
  char budget[32];
  std::snprintf(budget, sizeof budget, "%g", t_seconds);
  throw DeadlineExceeded(std::string(what) + ": stopped after the request's time budget of " + budget +
                         " s (serve --request-budget); ask for less");
}

}  // namespace clap
