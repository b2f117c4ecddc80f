// A time budget for the work one thread does on behalf of one request (issue 53, M9): the
// server gives every route a budget (serve --request-budget), and the loops whose work grows
// with the library (duplicate scans, diversity, radio and path drawing) call check_deadline()
// now and then. Past the budget it throws DeadlineExceeded, which the server answers with 503
// and the budget in the message; nothing is half-written, as these loops only read.
//
// The budget is per thread (the thread that answers the request), set by a ScopedDeadline for
// the request's lifetime. A thread without one (the CLI, tests, the indexer) has no budget.
#pragma once
#include <chrono>
#include <string>

#include "core/error.h"

namespace clap {

class DeadlineExceeded : public Error {
 public:
  using Error::Error;
};

// Sets this thread's budget to `seconds` from now (<= 0 or not finite: no budget) until it is
// destroyed, when the budget it replaced is back.
class ScopedDeadline {
 public:
  explicit ScopedDeadline(double seconds);
  ~ScopedDeadline();
  ScopedDeadline(const ScopedDeadline&) = delete;
  ScopedDeadline& operator=(const ScopedDeadline&) = delete;

 private:
  std::chrono::steady_clock::time_point previous_end_;
  double previous_seconds_;
};

// Throws DeadlineExceeded naming `what` (the work that was cut short) when this thread's budget
// is spent. Cheap (one clock read): call it once per unit of work, not per multiply.
void check_deadline(const char* what);

}  // namespace clap
