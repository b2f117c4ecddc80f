// Opt-in wall-clock accounting per named stage (for `clapsearch bench`, which shows where
// the time goes). Disabled by default; when disabled a Scope costs one branch.
#pragma once
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace clap::profile {

void enable(bool on);
bool enabled();
void add(const char* stage, double ms);
void reset();
std::vector<std::pair<std::string, double>> totals();  // in first-seen order

class Scope {
 public:
  explicit Scope(const char* stage) : stage_(enabled() ? stage : nullptr) {
    if (stage_) start_ = std::chrono::steady_clock::now();
  }
  ~Scope() {
    if (stage_) add(stage_, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count());
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  const char* stage_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace clap::profile
