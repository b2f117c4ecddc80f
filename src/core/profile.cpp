#include "core/profile.h"

#include <atomic>
#include <mutex>

namespace clap::profile {
namespace {
std::atomic<bool> g_enabled{false};
std::mutex g_mutex;
std::vector<std::pair<std::string, double>> g_totals;
}  // namespace

void enable(bool on) { g_enabled = on; }
bool enabled() { return g_enabled.load(std::memory_order_relaxed); }

void add(const char* stage, double ms) {
  std::lock_guard<std::mutex> lock(g_mutex);
  for (auto& [name, total] : g_totals)
    if (name == stage) {
      total += ms;
      return;
    }
  g_totals.emplace_back(stage, ms);
}

void reset() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_totals.clear();
}

std::vector<std::pair<std::string, double>> totals() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_totals;
}

}  // namespace clap::profile
